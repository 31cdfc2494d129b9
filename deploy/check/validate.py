"""Offline validation of deploy/'s rendered manifests (run by `cargo xtask test` with the
Python of the kubernetes-validate venv, which has jsonschema and PyYAML).

Why a script rather than the `kubernetes-validate` command alone: the command only warns,
and exits 0, for a kind it has no schema for, and Istio's, SpinKube's and the Prometheus
Operator's kinds are such kinds. Here every object is checked by exactly one strict
schema, or the run fails:

- Kubernetes kinds: kubernetes-validate's strict schemas (the function its `--strict`
  command calls), for each Kubernetes version given;
- custom resources: the schemas in schemas/ (authored from each project's documented
  fields, no unknown field allowed).

Then the cross-references no schema sees: the colours are the same Deployment, Services
and the Ingress point at ports and pods that exist, the HPA's metric is the adapter rule's,
the grace period outlasts the drain, the mesh names the container's ports, and the pods
meet the restricted Pod Security Standard.

usage: validate.py --k8s VERSION [--k8s VERSION ...] --adapter VALUES FILE...
"""

import argparse
import copy
import pathlib
import sys

import jsonschema
import referencing
import yaml
from kubernetes_validate import utils as kv

SCHEMAS = pathlib.Path(__file__).resolve().parent / "schemas"


def load_schemas():
    """Our custom-resource schemas by `group_version_Kind` and a registry holding `common`."""
    common = yaml.safe_load((SCHEMAS / "_common.yaml").read_text())
    registry = referencing.Registry().with_resource(
        "common", referencing.Resource.from_contents(
            common, default_specification=referencing.jsonschema.DRAFT202012))
    own = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        schema = yaml.safe_load(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        own[path.stem] = jsonschema.Draft202012Validator(schema, registry=registry)
    return own


def schema_key(doc):
    return f"{doc['apiVersion'].replace('/', '_')}_{doc['kind']}"


def name_of(doc):
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def validate_objects(docs, versions, own):
    errors = []
    counts = {"kubernetes": 0, "own": 0}
    for source, doc in docs:
        where = f"{source}: {name_of(doc)}"
        validator = own.get(schema_key(doc))
        if validator is not None:
            for e in validator.iter_errors(doc):
                path = ".".join(str(p) for p in e.absolute_path)
                errors.append(f"{where}: {path}: {e.message}")
            counts["own"] += 1
            continue
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.SchemaNotFoundError as e:
                errors.append(f"{where}: no schema: {e.message}; add one to {SCHEMAS}")
                break
            except kv.ValidationError as e:
                path = ".".join(str(p) for p in e.path)
                errors.append(f"{where} (Kubernetes {e.version}): {path}: {e.message}")
        counts["kubernetes"] += 1
    return errors, counts


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for _, d in docs if d["kind"] == kind}


def cross_check(docs, adapter):
    errors = []

    def need(ok, message):
        if not ok:
            errors.append(f"expected: {message}")

    deployments = by_kind(docs, "Deployment")
    need({"aicr-blue", "aicr-green"} <= deployments.keys(),
         "both colours' Deployments (aicr-blue, aicr-green) are rendered")
    if errors:
        return errors
    blue, green = deployments["aicr-blue"], deployments["aicr-green"]
    as_blue = yaml.safe_load(yaml.safe_dump(green).replace("green", "blue"))
    blue_bare = copy.deepcopy(blue)
    for d in (as_blue, blue_bare):
        d["spec"].pop("replicas", None)
    need(as_blue == blue_bare,
         "deployment-green.yaml is deployment-blue.yaml with `blue` replaced by `green` "
         "(replicas aside)")

    pod = blue["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    env = {e["name"]: e.get("value") for e in container.get("env", [])}

    # Probes and the drain.
    need(container["livenessProbe"]["httpGet"]["path"] == "/health", "liveness probes /health")
    need(container["readinessProbe"]["httpGet"]["path"] == "/ready", "readiness probes /ready")
    drain = int(env.get("AICR_DRAIN_SECONDS", "0"))
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
    need(grace > drain, f"terminationGracePeriodSeconds ({grace}) outlasts AICR_DRAIN_SECONDS ({drain})")
    need(str(ports.get("http")) == env.get("PORT"), "container port `http` is the PORT variable")
    need(str(ports.get("admin")) == env.get("AICR_ADMIN_PORT"),
         "container port `admin` is the AICR_ADMIN_PORT variable")
    need(env.get("AICR_BIND") == "0.0.0.0", "the server binds every interface of the pod")

    # The restricted Pod Security Standard.
    pod_sc, sc = pod["spec"].get("securityContext", {}), container.get("securityContext", {})
    need(pod_sc.get("runAsNonRoot") is True and sc.get("runAsNonRoot") is True, "runAsNonRoot")
    need(pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp RuntimeDefault")
    need(sc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem")
    need(sc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation false")
    need(sc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop ALL")
    need(pod["spec"].get("automountServiceAccountToken") is False, "no service account token")

    # Services select pods that exist, on ports that exist; `aicr` starts on blue.
    services = by_kind(docs, "Service")
    for name, svc in services.items():
        selector = svc["spec"]["selector"]
        matches = [d for d in deployments.values()
                   if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        need(len(matches) == 1, f"Service {name} selects exactly one colour's pods")
        for p in svc["spec"]["ports"]:
            need(p["targetPort"] in ports, f"Service {name} targets container port {p['targetPort']}")
    need(services.get("aicr", {}).get("spec", {}).get("selector", {}).get("colour") == "blue",
         "Service aicr starts on blue")
    need(services.get("aicr-preview", {}).get("spec", {}).get("selector", {}).get("colour") == "green",
         "Service aicr-preview starts on the idle colour, green")

    for name, ing in by_kind(docs, "Ingress").items():
        need(bool(ing["spec"].get("tls")), f"Ingress {name} terminates TLS")
        for rule in ing["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                svc = services.get(backend["name"])
                need(svc is not None and any(p["name"] == backend["port"]["name"]
                                             for p in svc["spec"]["ports"]),
                     f"Ingress {name} routes to Service {backend['name']} port {backend['port']}")

    # The HPA scales a colour on CPU and on the adapter's request-rate metric.
    for name, hpa in by_kind(docs, "HorizontalPodAutoscaler").items():
        need(hpa["spec"]["scaleTargetRef"]["name"] in deployments,
             f"HPA {name} targets a rendered Deployment")
        kinds = {m["type"] for m in hpa["spec"]["metrics"]}
        need(kinds == {"Resource", "Pods"}, f"HPA {name} scales on CPU and on a Pods metric")
        rules = {r["name"]["as"]: r for r in adapter["rules"]["custom"]}
        for m in hpa["spec"]["metrics"]:
            if m["type"] == "Pods":
                metric = m["pods"]["metric"]["name"]
                rule = rules.get(metric)
                need(rule is not None, f"HPA metric {metric} is a prometheus-adapter rule")
                if rule:
                    need(rule["seriesQuery"].startswith("aicr_http_requests_total{"),
                         "the adapter rule reads aicr_http_requests_total")
                    need(rule["resources"]["overrides"].keys() == {"namespace", "pod"},
                         "the adapter rule maps namespace and pod (a Pods metric)")

    for name, pm in by_kind(docs, "PodMonitor").items():
        for ep in pm["spec"]["podMetricsEndpoints"]:
            need(ep["port"] in ports, f"PodMonitor {name} scrapes container port {ep['port']}")

    # The mesh: STRICT on the API port, ISTIO_MUTUAL to the Service, ports that exist.
    numbers = {str(p) for p in ports.values()}
    for name, pa in by_kind(docs, "PeerAuthentication").items():
        need(pa["spec"]["mtls"]["mode"] == "STRICT", f"PeerAuthentication {name} is STRICT")
        need(set(pa["spec"].get("portLevelMtls", {})) <= numbers,
             f"PeerAuthentication {name} names container ports")
    for name, dr in by_kind(docs, "DestinationRule").items():
        need(dr["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL",
             f"DestinationRule {name} is ISTIO_MUTUAL")
        need(dr["spec"]["host"].split(".")[0] in services,
             f"DestinationRule {name} is for a rendered Service")
    for name, ap in by_kind(docs, "AuthorizationPolicy").items():
        for rule in ap["spec"]["rules"]:
            for to in rule.get("to", []):
                need(set(to["operation"].get("ports", [])) <= numbers,
                     f"AuthorizationPolicy {name} names container ports")
    return errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--k8s", action="append", required=True)
    parser.add_argument("--adapter", required=True)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    docs = []
    for f in args.files:
        for doc in yaml.safe_load_all(pathlib.Path(f).read_text()):
            if doc:
                docs.append((f, doc))
    own = load_schemas()
    errors, counts = validate_objects(docs, args.k8s, own)
    adapter = yaml.safe_load(pathlib.Path(args.adapter).read_text())
    if not errors:
        # The cross-references assume the shapes the schemas guarantee.
        errors = cross_check(docs, adapter)
    for e in errors:
        print(f"ERROR {e}")
    kinds = sorted({name_of(d).split("/")[0] for _, d in docs})
    print(f"{len(docs)} objects ({', '.join(kinds)}): {counts['kubernetes']} against "
          f"kubernetes-validate's strict schemas for Kubernetes {', '.join(args.k8s)}, "
          f"{counts['own']} against deploy/check/schemas; {len(errors)} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
