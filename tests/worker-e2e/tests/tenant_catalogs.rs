//! Tenants' own catalogs at the edge, in local workerd under `wrangler dev` (the shipped
//! `wrangler.toml`), whose miniflare simulates the two platform services involved: the
//! `AICR_CATALOGS` Workers KV namespace and the Cache API. Bare workerd has neither (KV
//! and the cache are services miniflare provides to it), so these tests go through
//! wrangler; each starts from an empty store in a directory of its own (`--persist-to`).
//!
//! Catalogs are packed with the crate's own `pack_files` (what `cargo xtask catalog pack`
//! calls) over the embedded catalog, and uploaded with an admin tenant's key.
//!
//! Stale answers (store errors, timeouts, an open breaker, a full bulkhead) are the crate's
//! to decide and are tested there with faults injected into the store
//! (`crates/tenant-catalogs/tests/faults.rs`); the edge reaches them through the same
//! `TenantCatalogs::select` and only marks the answer (`X-AICR-Catalog: stale;…`,
//! `Cache-Control: no-store`, no edge cache). One stale reason the real KV can produce
//! here is tested end to end: a pointer document made unreadable behind the worker's back.

use aicr_stack::keys::{self, MintedKey};
use aicr_tenant_catalogs::Packed;
use aicr_tenant_catalogs::sample::{EMPTY_REGISTRY, pinned_gpu_operator as catalog};
use aicr_worker_e2e::catalog_answers::{
    assert_tenant, embedded_header, gpu_operator_version, tenant_header,
};
use aicr_worker_e2e::client::{Answer, agent, call};
use aicr_worker_e2e::{BUILD_ENV, LocalWorker, build_dir, root};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECRET: &str = "edge-e2e-catalog-secret-3b9d1f7a5c2e4086";
const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";
/// The built-in catalog's gpu-operator for [`RECIPE`].
const EMBEDDED_GPU_OPERATOR: &str = "v25.10.1";

/// An artifact in the right format whose catalog is broken twice over.
fn broken_artifact() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "format": "aicr-catalog/v1",
        "files": {
            "registry.yaml": EMPTY_REGISTRY,
            "overlays/broken.yaml": "kind: RecipeMetadata
apiVersion: aicr.nvidia.com/v1alpha1
metadata: {name: broken}
spec:
  base: no-such-overlay
  criteria: {service: eks}
  componentRefs:
    - name: no-such-component
      version: v1
",
        }
    }))
    .unwrap()
}

struct Keys {
    ops: MintedKey,
    acme: MintedKey,
    other: MintedKey,
    gke_only: MintedKey,
    document: String,
}

/// ops: admin; acme and other: plain tenants; gke-only: a tenant whose allowlist takes gke
/// alone.
fn keys() -> Keys {
    let mint = |n: u8| keys::mint(&[n; 38], SECRET.as_bytes());
    let (ops, acme, other, gke_only) = (mint(11), mint(12), mint(13), mint(14));
    let stored = |k: &MintedKey| format!(r#"{{"id":"{}","hash":"{}"}}"#, k.id, k.hash);
    let document = format!(
        r#"{{"tenants":[
            {{"name":"ops","keys":[{}],"admin":true}},
            {{"name":"acme","keys":[{}]}},
            {{"name":"other","keys":[{}]}},
            {{"name":"gke-only","keys":[{}],"allowed":{{"services":"gke"}}}}
        ]}}"#,
        stored(&ops),
        stored(&acme),
        stored(&other),
        stored(&gke_only)
    );
    Keys {
        ops,
        acme,
        other,
        gke_only,
        document,
    }
}

/// A directory for one test's KV and cache state, emptied first and removed when dropped.
struct State(PathBuf);

impl State {
    fn new(name: &str) -> State {
        let dir = root()
            .join("target/worker-e2e")
            .join(format!("state-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        State(dir)
    }
}

impl Drop for State {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(keys: &Keys, state: &Path) -> LocalWorker {
    build_dir(BUILD_ENV).unwrap_or_else(|e| panic!("{e}"));
    LocalWorker::start_with_state(
        &[
            ("AICR_KEY_SECRET", SECRET),
            ("AICR_TENANTS", &keys.document),
        ],
        state,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Requests as one caller (`None`: anonymous).
struct Caller<'a> {
    worker: &'a LocalWorker,
    agent: ureq::Agent,
    key: Option<&'a MintedKey>,
}

impl<'a> Caller<'a> {
    fn new(worker: &'a LocalWorker, key: Option<&'a MintedKey>) -> Caller<'a> {
        Caller {
            worker,
            agent: agent(),
            key,
        }
    }

    fn send(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Answer {
        let bearer = self.key.map(|k| format!("Bearer {}", k.key));
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if let Some(bearer) = &bearer {
            all.push(("authorization", bearer));
        }
        call(&self.agent, method, &self.worker.url(target), &all, body)
    }

    fn get(&self, target: &str) -> Answer {
        self.send("GET", target, &[], None)
    }
}

fn catalogs_path(tenant: &str) -> String {
    format!("/admin/tenants/{tenant}/catalogs")
}

/// The answer's JSON after checking its status.
fn expect(answer: &Answer, status: u16, what: &str) -> Value {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
    answer.json()
}

/// The API's error body with this status and code.
fn expect_error(answer: &Answer, status: u16, code: &str, what: &str) -> Value {
    let body = expect(answer, status, what);
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(body["requestId"].is_string(), "{what}: {body}");
    assert_eq!(answer.header("cache-control"), Some("no-store"), "{what}");
    body
}

/// A recipe answered from the built-in catalog, as the header says and the content shows.
fn assert_embedded(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 200, "{what}: {}", answer.text());
    assert_eq!(
        answer.header("x-aicr-catalog"),
        Some(embedded_header().as_str()),
        "{what}"
    );
    assert_eq!(
        gpu_operator_version(answer),
        EMBEDDED_GPU_OPERATOR,
        "{what}"
    );
    assert_eq!(answer.header("x-aicr-cache"), None, "{what}: no edge cache");
}

/// The worker's log once it holds every line in `needles` (wrangler passes the worker's
/// output on asynchronously, so a line may follow the answer it belongs to); panics with
/// the log after 10 s without them.
fn logged(worker: &LocalWorker, needles: &[&str]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let log = worker.log();
        if needles.iter().all(|n| log.contains(n)) {
            return log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log lacks one of {needles:?}:\n{}",
            worker.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn activate(ops: &Caller, tenant: &str, packed: &Packed) -> Value {
    let body = json!({"digest": packed.digest.as_str()}).to_string();
    let answer = ops.send(
        "PUT",
        &format!("{}/active", catalogs_path(tenant)),
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    );
    expect(&answer, 200, "activate")
}

fn upload(ops: &Caller, tenant: &str, packed: &Packed) -> Answer {
    ops.send(
        "POST",
        &catalogs_path(tenant),
        &[("content-type", "application/json")],
        Some(&packed.bytes),
    )
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn a_tenant_publishes_activates_and_rolls_back_its_catalog() {
    let keys = keys();
    let state = State::new("publish");
    let worker = start(&keys, &state.0);
    let ops = Caller::new(&worker, Some(&keys.ops));
    let acme = Caller::new(&worker, Some(&keys.acme));
    let other = Caller::new(&worker, Some(&keys.other));
    let anonymous = Caller::new(&worker, None);
    let (a, b) = (catalog("v25.3.4"), catalog("v25.3.2"));
    assert_ne!(a.digest, b.digest);

    // Before any upload, everyone gets the built-in catalog.
    assert_embedded(&anonymous.get(RECIPE), "anonymous, nothing uploaded");
    assert_embedded(&acme.get(RECIPE), "acme, nothing uploaded");

    // Only an admin tenant's key reaches the admin routes.
    let refused = anonymous.send("POST", &catalogs_path("acme"), &[], Some(&a.bytes));
    expect_error(&refused, 401, "UNAUTHORIZED", "anonymous upload");
    let refused = acme.send("POST", &catalogs_path("acme"), &[], Some(&a.bytes));
    expect_error(&refused, 403, "FORBIDDEN", "a tenant's own upload");

    // Upload: 201 with its digest and where it lives; again: 200, nothing new.
    let created = upload(&ops, "acme", &a);
    let body = expect(&created, 201, "upload A");
    assert_eq!(body["digest"], a.digest.as_str());
    assert_eq!(body["created"], true);
    assert_eq!(
        body["files"],
        json!([
            "overlays/acme-h100-eks-ubuntu-training.yaml",
            "registry.yaml"
        ])
    );
    assert_eq!(
        created.header("location"),
        Some(format!("/admin/tenants/acme/catalogs/{}", a.digest).as_str())
    );
    assert_eq!(created.header("cache-control"), Some("no-store"));
    let again = expect(&upload(&ops, "acme", &a), 200, "upload A again");
    assert_eq!(again["created"], false);
    // Uploading does not activate.
    assert_embedded(&acme.get(RECIPE), "acme, uploaded, not active");
    let listing = expect(&ops.get(&catalogs_path("acme")), 200, "list");
    assert_eq!(
        listing,
        json!({"active": null, "history": [], "catalogs": [a.digest.as_str()]})
    );
    // The stored artifact, byte for byte.
    let stored = ops.get(&format!("{}/{}", catalogs_path("acme"), a.digest));
    assert_eq!(stored.status, 200, "{}", stored.text());
    assert_eq!(stored.body, a.bytes);

    // Activate: acme's requests resolve on its catalog; nobody else's do.
    let pointer = activate(&ops, "acme", &a);
    assert_eq!(pointer, json!({"active": a.digest.as_str(), "history": []}));
    let ours = acme.get(RECIPE);
    assert_tenant(&ours, &a, "v25.3.4", "acme on A");
    let theirs = anonymous.get(RECIPE);
    assert_embedded(&theirs, "anonymous while acme has A");
    assert_ne!(ours.header("etag"), theirs.header("etag"));
    assert_embedded(&other.get(RECIPE), "another tenant while acme has A");
    // Other criteria resolve on the layered catalog too (the built-in overlays remain).
    let inference = acme.get("/v1/recipe?service=eks&accelerator=h100&intent=inference");
    assert_eq!(inference.status, 200, "{}", inference.text());
    assert_eq!(
        inference.header("x-aicr-catalog"),
        Some(tenant_header(&a).as_str())
    );

    // A broken upload is refused with every defect and changes nothing.
    let refused = ops.send(
        "POST",
        &catalogs_path("acme"),
        &[],
        Some(&broken_artifact()),
    );
    let error = expect_error(&refused, 422, "INVALID_CATALOG", "broken upload");
    let defects = error["details"]["defects"].as_array().expect("defects");
    assert!(
        defects.iter().any(|d| d["file"] == "overlays/broken.yaml"),
        "{error}"
    );
    assert!(
        defects
            .iter()
            .all(|d| d["reason"].is_string() && d["origin"].is_string()),
        "{error}"
    );
    let not_json = ops.send("POST", &catalogs_path("acme"), &[], Some(b"not json"));
    let error = expect_error(&not_json, 422, "INVALID_CATALOG", "not an artifact");
    assert_eq!(error["details"]["defects"][0]["file"], "(artifact)");
    let listing = expect(&ops.get(&catalogs_path("acme")), 200, "list after refusals");
    assert_eq!(
        listing,
        json!({"active": a.digest.as_str(), "history": [], "catalogs": [a.digest.as_str()]})
    );
    assert_tenant(&acme.get(RECIPE), &a, "v25.3.4", "acme after refusals");

    // Activate B, roll back to A, go back to the built-in catalog, roll back again.
    expect(&upload(&ops, "acme", &b), 201, "upload B");
    let pointer = activate(&ops, "acme", &b);
    assert_eq!(
        pointer,
        json!({"active": b.digest.as_str(), "history": [a.digest.as_str()]})
    );
    assert_tenant(&acme.get(RECIPE), &b, "v25.3.2", "acme on B");
    let rollback = format!("{}/active/rollback", catalogs_path("acme"));
    let pointer = expect(&ops.send("POST", &rollback, &[], None), 200, "rollback");
    assert_eq!(pointer, json!({"active": a.digest.as_str(), "history": []}));
    assert_tenant(&acme.get(RECIPE), &a, "v25.3.4", "acme rolled back to A");
    let active = format!("{}/active", catalogs_path("acme"));
    let pointer = expect(&ops.send("DELETE", &active, &[], None), 200, "deactivate");
    assert_eq!(
        pointer,
        json!({"active": null, "history": [a.digest.as_str()]})
    );
    assert_embedded(&acme.get(RECIPE), "acme deactivated");
    let pointer = expect(&ops.send("POST", &rollback, &[], None), 200, "rollback");
    assert_eq!(pointer, json!({"active": a.digest.as_str(), "history": []}));
    assert_tenant(&acme.get(RECIPE), &a, "v25.3.4", "acme back on A");
    let nothing = ops.send("POST", &rollback, &[], None);
    expect_error(&nothing, 409, "CONFLICT", "nothing to roll back to");

    // Every refusal names what was wrong.
    let unknown = "0".repeat(64);
    let missing = ops.get(&format!("{}/{unknown}", catalogs_path("acme")));
    let error = expect_error(&missing, 404, "NOT_FOUND", "unknown digest");
    assert_eq!(error["details"]["digest"], unknown.as_str());
    let body = json!({"digest": unknown}).to_string();
    let missing = ops.send("PUT", &active, &[], Some(body.as_bytes()));
    expect_error(&missing, 404, "NOT_FOUND", "activate an unknown digest");
    let malformed = ops.send("PUT", &active, &[], Some(br#"{"digest":"abc"}"#));
    expect_error(&malformed, 400, "INVALID_REQUEST", "a malformed digest");
    let malformed = ops.get(&format!("{}/not-a-digest", catalogs_path("acme")));
    expect_error(
        &malformed,
        400,
        "INVALID_REQUEST",
        "a malformed digest path",
    );
    let stranger = ops.get(&catalogs_path("nobody"));
    let error = expect_error(&stranger, 404, "NOT_FOUND", "a tenant not configured");
    assert_eq!(error["details"]["tenant"], "nobody");
    let method = ops.send("GET", &active, &[], None);
    expect_error(&method, 405, "METHOD_NOT_ALLOWED", "GET the pointer");
    assert_eq!(method.header("allow"), Some("PUT, DELETE"));
    for path in [
        "/admin/tenants/acme",
        "/admin/tenants/acme/catalogs/",
        "/admin/tenants/acme/catalogs/active/rollback/now",
        "/admin/flags",
    ] {
        let route = ops.get(path);
        let error = expect_error(&route, 404, "NOT_FOUND", path);
        assert_eq!(error["details"]["routes"].as_array().map(Vec::len), Some(4));
    }
    let bad_name = ops.get("/admin/tenants/ac%20me/catalogs");
    expect_error(&bad_name, 400, "INVALID_REQUEST", "a malformed tenant name");
    // The admin routes' bodies are bounded: uploads by the artifact limit, the rest by
    // the API's 64 KiB.
    let large = vec![b' '; 64 * 1024 + 1];
    let too_large = ops.send("PUT", &active, &[], Some(&large));
    let error = expect_error(&too_large, 413, "PAYLOAD_TOO_LARGE", "a large activation");
    assert_eq!(error["details"]["limit"], 64 * 1024);
    let big_upload = ops.send("POST", &catalogs_path("acme"), &[], Some(&large));
    expect_error(
        &big_upload,
        422,
        "INVALID_CATALOG",
        "a large (but allowed) upload",
    );
    // Only an admin's key lets an upload past the API's limit into the isolate; anyone
    // else is refused as always (the entry module stops reading at 64 KiB + 1).
    let not_admin = acme.send("POST", &catalogs_path("acme"), &[], Some(&large));
    expect_error(
        &not_admin,
        403,
        "FORBIDDEN",
        "a large upload with a non-admin key",
    );
    let keyless = anonymous.send("POST", &catalogs_path("acme"), &[], Some(&large));
    expect_error(
        &keyless,
        401,
        "UNAUTHORIZED",
        "a large upload without a key",
    );

    // Concurrent administrators: each change is answered, one after the other.
    let threads: Vec<_> = (0..6)
        .map(|n| {
            let (base, key) = (worker.base.clone(), keys.ops.key.clone());
            let digest = if n % 2 == 0 { &a } else { &b }.digest.to_string();
            std::thread::spawn(move || {
                let body = json!({ "digest": digest }).to_string();
                let bearer = format!("Bearer {key}");
                call(
                    &agent(),
                    "PUT",
                    &format!("{base}/admin/tenants/acme/catalogs/active"),
                    &[("authorization", &bearer)],
                    Some(body.as_bytes()),
                )
            })
        })
        .collect();
    for thread in threads {
        let answer = thread.join().expect("admin thread");
        expect(&answer, 200, "a concurrent activation");
    }
    let listing = expect(&ops.get(&catalogs_path("acme")), 200, "list after them");
    let active = listing["active"].as_str().unwrap_or_default().to_owned();
    assert!(
        [a.digest.as_str(), b.digest.as_str()].contains(&active.as_str()),
        "{listing}"
    );
    assert_eq!(
        acme.get(RECIPE).header("x-aicr-catalog"),
        Some(format!("tenant;digest=\"{active}\"").as_str())
    );

    // The recipe API itself is unchanged for everyone: the conformance-relevant bytes of
    // an anonymous answer are the built-in catalog's.
    let anonymous_recipe = anonymous.get(RECIPE);
    assert_embedded(&anonymous_recipe, "anonymous at the end");
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn the_edge_cache_hits_on_the_second_identical_request_and_never_across_catalogs() {
    let keys = keys();
    let state = State::new("cache");
    let worker = start(&keys, &state.0);
    let ops = Caller::new(&worker, Some(&keys.ops));
    let acme = Caller::new(&worker, Some(&keys.acme));
    let gke_only = Caller::new(&worker, Some(&keys.gke_only));
    let (a, b) = (catalog("v25.3.4"), catalog("v25.3.2"));
    for packed in [&a, &b] {
        expect(&upload(&ops, "acme", packed), 201, "upload");
    }
    activate(&ops, "acme", &a);

    let first = acme.get(RECIPE);
    assert_tenant(&first, &a, "v25.3.4", "first");
    assert_eq!(first.header("x-aicr-cache"), Some("miss"));
    let second = acme.get(RECIPE);
    assert_tenant(&second, &a, "v25.3.4", "second");
    assert_eq!(second.header("x-aicr-cache"), Some("hit"));
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("etag"), first.header("etag"));
    assert_eq!(
        second.header("cache-control"),
        first.header("cache-control")
    );
    assert_eq!(second.header("content-type"), Some("application/json"));
    assert_ne!(
        second.header("x-request-id"),
        first.header("x-request-id"),
        "a hit gets its own request id"
    );
    // The key is the normalised request: another spelling of the same criteria hits.
    let respelled = acme.get("/v1/recipe?intent=TRAINING&gpu=h100&os=Ubuntu&service=eks");
    assert_eq!(respelled.header("x-aicr-cache"), Some("hit"));
    assert_eq!(respelled.body, first.body);
    // Another format is another entry.
    let yaml = format!("{RECIPE}&format=yaml");
    assert_eq!(acme.get(&yaml).header("x-aicr-cache"), Some("miss"));
    let yaml_again = acme.send("GET", RECIPE, &[("accept", "application/yaml")], None);
    assert_eq!(yaml_again.header("x-aicr-cache"), Some("hit"));
    assert!(yaml_again.text().contains("componentRefs:"));
    // 304 from a hit, and HEAD.
    let etag = first.header("etag").unwrap();
    let not_modified = acme.send("GET", RECIPE, &[("if-none-match", etag)], None);
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("x-aicr-cache"), Some("hit"));
    assert_eq!(not_modified.header("etag"), Some(etag));
    assert!(not_modified.body.is_empty());
    let head = acme.send("HEAD", RECIPE, &[], None);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-aicr-cache"), Some("hit"));
    assert!(head.body.is_empty());
    // Queries are cached the same way.
    let query = "/v1/query?service=eks&accelerator=h100&os=ubuntu&intent=training\
                 &selector=components.gpu-operator.version";
    assert_eq!(acme.get(query).header("x-aicr-cache"), Some("miss"));
    let cached_query = acme.get(query);
    assert_eq!(cached_query.header("x-aicr-cache"), Some("hit"));
    assert_eq!(cached_query.text().trim(), "\"v25.3.4\"");

    // Another catalog never meets A's entries: B misses, then hits its own.
    activate(&ops, "acme", &b);
    let on_b = acme.get(RECIPE);
    assert_tenant(&on_b, &b, "v25.3.2", "on B");
    assert_eq!(on_b.header("x-aicr-cache"), Some("miss"));
    assert_ne!(on_b.header("etag"), first.header("etag"));
    assert_eq!(acme.get(RECIPE).header("x-aicr-cache"), Some("hit"));
    // Back on A, A's entry is still there.
    let rollback = format!("{}/active/rollback", catalogs_path("acme"));
    expect(&ops.send("POST", &rollback, &[], None), 200, "rollback");
    let back = acme.get(RECIPE);
    assert_tenant(&back, &a, "v25.3.4", "back on A");
    assert_eq!(back.header("x-aicr-cache"), Some("hit"));

    // A tenant on the same catalog shares its entries, but never past its allowlists.
    expect(&upload(&ops, "gke-only", &a), 201, "upload A for gke-only");
    activate(&ops, "gke-only", &a);
    let refused = gke_only.get(RECIPE);
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert_eq!(refused.header("x-aicr-cache"), None);
    let gke = "/v1/recipe?service=gke&accelerator=h100&intent=training";
    assert_eq!(gke_only.get(gke).header("x-aicr-cache"), Some("miss"));
    assert_eq!(acme.get(gke).header("x-aicr-cache"), Some("hit"));

    // What the cache never takes: POSTs, errors, anonymous callers.
    let post = acme.send(
        "POST",
        "/v1/recipe",
        &[("content-type", "application/json")],
        Some(br#"{"kind":"RecipeCriteria","spec":{"service":"eks"}}"#),
    );
    assert_eq!(post.status, 200, "{}", post.text());
    assert_eq!(post.header("x-aicr-cache"), None);
    assert_eq!(post.header("cache-control"), Some("no-store"));
    let bad = acme.get("/v1/recipe?service=nope");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("x-aicr-cache"), None);
    assert_embedded(&Caller::new(&worker, None).get(RECIPE), "anonymous");

    // Hits and misses are in the worker's log.
    logged(
        &worker,
        &[
            "edge cache hit: tenant=acme",
            "edge cache miss: tenant=acme",
        ],
    );
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn fresh_isolates_load_a_tenants_catalog_once_for_concurrent_requests() {
    let keys = keys();
    let state = State::new("fresh");
    let a = catalog("v25.3.4");
    {
        let worker = start(&keys, &state.0);
        let ops = Caller::new(&worker, Some(&keys.ops));
        expect(&upload(&ops, "acme", &a), 201, "upload");
        activate(&ops, "acme", &a);
    }
    // Each round is a new isolate over the same store, with nothing of acme's loaded yet,
    // and a burst of its requests: the first reads the store, the others wait for that
    // read (another request's I/O, which the platform would otherwise end them over).
    for round in 0..3 {
        let worker = start(&keys, &state.0);
        let threads: Vec<_> = (0..24)
            .map(|_| {
                let base = worker.base.clone();
                let key = keys.acme.key.clone();
                std::thread::spawn(move || {
                    let bearer = format!("Bearer {key}");
                    call(
                        &agent(),
                        "GET",
                        &format!("{base}{RECIPE}"),
                        &[("authorization", &bearer)],
                        None,
                    )
                })
            })
            .collect();
        for thread in threads {
            let answer = thread.join().expect("request thread");
            let what = format!("round {round}: concurrent cold request");
            assert_tenant(&answer, &a, "v25.3.4", &what);
        }
        let loaded = "tenant catalog loaded: tenant=acme";
        let log = logged(&worker, &[loaded]);
        assert_eq!(log.matches(loaded).count(), 1, "one load for all: {log}");
    }
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn an_unreadable_pointer_is_answered_stale_from_the_last_good_catalog() {
    let keys = keys();
    let state = State::new("stale");
    let worker = start(&keys, &state.0);
    let ops = Caller::new(&worker, Some(&keys.ops));
    let acme = Caller::new(&worker, Some(&keys.acme));
    let a = catalog("v25.3.4");
    expect(&upload(&ops, "acme", &a), 201, "upload");
    activate(&ops, "acme", &a);
    assert_tenant(&acme.get(RECIPE), &a, "v25.3.4", "before");
    // Behind the worker's back, the pointer document becomes something it cannot read.
    let status = std::process::Command::new(root().join("node_modules/.bin/wrangler"))
        .current_dir(root())
        .args([
            "kv",
            "key",
            "put",
            "--local",
            "--binding",
            "AICR_CATALOGS",
            "tenants/acme/active",
            "this is not a pointer document",
            "--persist-to",
        ])
        .arg(&state.0)
        .env("WRANGLER_SEND_METRICS", "false")
        .status()
        .expect("wrangler kv key put");
    assert!(status.success());
    // Once the pointer's TTL has passed, the worker reads it again.
    std::thread::sleep(Duration::from_secs(6));
    let stale = acme.get(RECIPE);
    assert_eq!(stale.status, 200, "{}", stale.text());
    assert_eq!(
        stale.header("x-aicr-catalog"),
        Some(
            format!(
                "stale;source=tenant;digest=\"{}\";reason=pointer-invalid",
                a.digest
            )
            .as_str()
        )
    );
    assert_eq!(gpu_operator_version(&stale), "v25.3.4");
    assert_eq!(stale.header("cache-control"), Some("no-store"));
    assert_eq!(
        stale.header("x-aicr-cache"),
        None,
        "stale answers skip the cache"
    );
    // Another tenant with no catalog of its own is not affected.
    let other = Caller::new(&worker, Some(&keys.other));
    assert_embedded(&other.get(RECIPE), "another tenant");
    // An administrator is told, not served something old.
    let listing = ops.get(&catalogs_path("acme"));
    expect_error(&listing, 500, "INTERNAL", "list over a corrupt pointer");
}
