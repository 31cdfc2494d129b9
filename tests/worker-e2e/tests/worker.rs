//! The edge worker over real HTTP in local workerd (through wrangler and the root
//! `wrangler.toml`). Ignored in a plain `cargo test`: `cargo xtask test` builds the worker
//! and runs them with the build folders set (see the crate docs).

use aicr_conformance::{EnvCases, Upstream};
use aicr_worker_e2e::client::{Answer, agent, call};
use aicr_worker_e2e::{BUILD_ENV, LocalWorker, UPSTREAM_BUILD_ENV, build_dir, root};
use serde_json::Value;
use std::io::Read;
use std::time::{Duration, Instant};

mod common;
use common::in_process;

const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The shipped site (root `wrangler.toml`: worker + explorer assets), after checking the
/// build `cargo xtask test` made is there.
fn start(vars: &[(&str, &str)]) -> LocalWorker {
    build_dir(BUILD_ENV).unwrap_or_else(|e| panic!("{e}"));
    LocalWorker::start(None, vars).unwrap_or_else(|e| panic!("{e}"))
}

/// The worker built on upstream's catalog, API only (upstream's `/` is the API's, while on
/// our origin `/` is the explorer), in workerd itself: what the platform runs, with no
/// wrangler proxy in front.
fn start_upstream(vars: &[(&str, &str)]) -> LocalWorker {
    let build = build_dir(UPSTREAM_BUILD_ENV).unwrap_or_else(|e| panic!("{e}"));
    LocalWorker::direct(&build, vars).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn every_route_header_and_error_class_over_http() {
    let worker = start(&[]);
    let agent = agent();
    let get = |target: &str, headers: &[(&str, &str)]| {
        call(&agent, "GET", &worker.url(target), headers, None)
    };

    // The recipe, byte for byte what the API crate answers, with every header.
    let recipe = get(RECIPE, &[]);
    assert_eq!(
        recipe.status,
        200,
        "{}",
        String::from_utf8_lossy(&recipe.body)
    );
    assert_eq!(
        recipe.body,
        *in_process("GET", RECIPE, &[], b"").body(),
        "worker and API crate disagree"
    );
    assert_eq!(recipe.header("content-type"), Some("application/json"));
    assert_eq!(recipe.header("x-api-version"), Some("v1"));
    assert_eq!(recipe.header("cache-control"), Some("public, max-age=600"));
    assert!(
        is_uuid(recipe.header("x-request-id").unwrap_or("")),
        "fresh X-Request-Id"
    );
    let etag = recipe.header("etag").expect("ETag").to_owned();
    assert_eq!(recipe.json()["kind"], "RecipeResult");

    // 304 on If-None-Match, with no body.
    let again = get(RECIPE, &[("if-none-match", &etag)]);
    assert_eq!((again.status, again.body.len()), (304, 0));
    assert_eq!(again.header("etag"), Some(etag.as_str()));

    // X-Request-Id: a UUID is echoed, anything else replaced by a fresh one.
    let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    assert_eq!(
        get("/health", &[("x-request-id", id)]).header("x-request-id"),
        Some(id)
    );
    let replaced = get("/health", &[("x-request-id", "not-a-uuid")]);
    assert!(
        is_uuid(replaced.header("x-request-id").unwrap())
            && replaced.header("x-request-id") != Some("not-a-uuid")
    );

    // YAML by parameter and by Accept.
    for (target, headers) in [
        (format!("{RECIPE}&format=yaml"), vec![]),
        (RECIPE.to_owned(), vec![("accept", "application/yaml")]),
    ] {
        let yaml = get(&target, &headers);
        assert_eq!(
            (yaml.status, yaml.header("content-type")),
            (200, Some("application/yaml")),
            "{target}"
        );
        assert!(String::from_utf8_lossy(&yaml.body).contains("kind: RecipeResult"));
    }

    // POST bodies, JSON and YAML; query by GET and POST.
    let post = |target: &str, content_type: &str, body: &[u8]| {
        call(
            &agent,
            "POST",
            &worker.url(target),
            &[("content-type", content_type)],
            Some(body),
        )
    };
    let by_json = post(
        "/v1/recipe",
        "application/json",
        br#"{"kind":"RecipeCriteria","spec":{"service":"eks","accelerator":"h100"}}"#,
    );
    let by_yaml = post(
        "/v1/recipe",
        "application/yaml",
        b"kind: RecipeCriteria\nspec:\n  service: eks\n  accelerator: h100\n",
    );
    assert_eq!((by_json.status, by_yaml.status), (200, 200));
    assert_eq!(by_json.body, by_yaml.body);
    let query = get("/v1/query?service=eks&selector=criteria.service", &[]);
    assert_eq!((query.status, query.json()), (200, Value::from("eks")));
    let query = post(
        "/v1/query",
        "application/json",
        br#"{"criteria":{"service":"gke"},"selector":"criteria.service"}"#,
    );
    assert_eq!((query.status, query.json()), (200, Value::from("gke")));

    // Service routes and the OpenAPI document (the API crate's, unchanged).
    assert_eq!(get("/health", &[]).json()["status"], "healthy");
    assert_eq!(get("/ready", &[]).json()["status"], "ready");
    let openapi = get("/openapi.json", &[]);
    assert_eq!(openapi.status, 200);
    assert_eq!(
        openapi.body,
        *in_process("GET", "/openapi.json", &[], b"").body()
    );
    let head = call(&agent, "HEAD", &worker.url(RECIPE), &[], None);
    assert_eq!((head.status, head.body.len()), (200, 0));
    let options = call(&agent, "OPTIONS", &worker.url("/v1/recipe"), &[], None);
    assert_eq!(
        (options.status, options.header("allow")),
        (204, Some("GET, HEAD, POST, OPTIONS"))
    );

    // Error classes: each a precise JSON error with the shared headers.
    let error = |answer: &Answer, status: u16, what: &str| -> Value {
        assert_eq!(
            answer.status,
            status,
            "{what}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        assert_eq!(answer.header("x-api-version"), Some("v1"), "{what}");
        let body = answer.json();
        assert!(
            is_uuid(body["requestId"].as_str().unwrap_or("")),
            "{what}: {body}"
        );
        body
    };
    let bad_enum = error(&get("/v1/recipe?accelerator=v100", &[]), 400, "bad enum");
    assert_eq!(bad_enum["details"]["parameter"], "accelerator");
    assert_eq!(bad_enum["details"]["value"], "v100");
    assert!(
        bad_enum["details"]["allowed"]
            .as_array()
            .unwrap()
            .contains(&Value::from("h100"))
    );
    let unknown_parameter = get(&format!("{RECIPE}&colour=blue"), &[]);
    assert_eq!(
        unknown_parameter.body, recipe.body,
        "unknown parameters are ignored (upstream's rule)"
    );
    let bad_body = error(
        &post("/v1/recipe", "application/json", b"{\"spec\": "),
        400,
        "bad body",
    );
    assert!(
        bad_body["details"]["error"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    let wrong_type = error(
        &post("/v1/recipe", "text/plain", b"service=eks"),
        400,
        "wrong content type",
    );
    assert!(
        wrong_type["details"]["error"]
            .as_str()
            .unwrap()
            .contains("unsupported content type"),
        "{wrong_type}"
    );
    // An oversize body, on a fresh connection: the worker stops reading one byte past the
    // limit (a huge upload is never buffered), so workerd closes the connection after the
    // 413. (Much larger uploads also get the 413, but wrangler dev's local proxy sometimes
    // turns an answer given before the upload ended into a 503, so they are not tested here.)
    let oversize = vec![b' '; aicr_api::MAX_BODY_BYTES + 1];
    let big = call(
        &ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(20))
            .build(),
        "POST",
        &worker.url("/v1/recipe"),
        &[("content-type", "application/json")],
        Some(&oversize),
    );
    assert_eq!(
        error(&big, 413, "oversize body")["details"]["limit"],
        aicr_api::MAX_BODY_BYTES
    );
    let put = call(&agent, "PUT", &worker.url("/v1/recipe"), &[], Some(b"{}"));
    error(&put, 405, "wrong method");
    assert_eq!(put.header("allow"), Some("GET, HEAD, POST, OPTIONS"));
    let missing = error(&get("/v3/recipe", &[]), 404, "unknown path");
    assert_eq!(missing["details"]["path"], "/v3/recipe");
    let empty_recipe = error(
        &call(&agent, "POST", &worker.url("/v1/bundle"), &[], Some(b"{}")),
        400,
        "bundle of a recipe without components",
    );
    assert_eq!(empty_recipe["details"]["field"], "componentRefs");
    let zip = get(
        "/v1/bundle?service=eks&intent=training&deployer=argocd",
        &[],
    );
    assert_eq!(zip.status, 200);
    assert_eq!(zip.header("content-type"), Some("application/zip"));
    assert!(zip.body.starts_with(b"PK"), "a zip");
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn explorer_index_is_served_from_www() {
    let index = root().join("www/index.html");
    let expected = std::fs::read(&index).unwrap_or_else(|e| {
        panic!("{}: {e} — the explorer (www/) has not landed; the worker serves it through wrangler assets", index.display())
    });
    let worker = start(&[]);
    let page = call(&agent(), "GET", &worker.url("/"), &[], None);
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap_or("")
            .starts_with("text/html"),
        "{:?}",
        page.header("content-type")
    );
    assert_eq!(page.body, expected, "/ is not www/index.html");
    // The page and every file it loads carry www/_headers' policy; the rules file itself
    // is configuration, not content.
    let mut files = vec!["/", "/index.html", "/app.js", "/style.css"];
    if root().join("www/pkg/aicr_web_bg.wasm").exists() {
        files.extend(["/pkg/aicr_web.js", "/pkg/aicr_web_bg.wasm"]);
    }
    for path in files {
        let file = call(&agent(), "GET", &worker.url(path), &[], None);
        assert_eq!(file.status, 200, "{path}");
        assert_eq!(
            file.header("content-security-policy"),
            Some(aicr_stack::EXPLORER_CSP),
            "{path}"
        );
        assert_eq!(
            file.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            file.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
    }
    let rules = call(&agent(), "GET", &worker.url("/_headers"), &[], None);
    assert_ne!(rules.status, 200, "www/_headers is served as a file");
    // API paths still reach the worker with the explorer in place, with the API's policy.
    let health = call(&agent(), "GET", &worker.url("/health"), &[], None);
    assert_eq!(health.json()["status"], "healthy");
    assert_eq!(
        health.header("content-security-policy"),
        Some(aicr_stack::API_CSP)
    );
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn configuration_comes_from_worker_vars() {
    let worker = start(&[
        ("AICR_ALLOWED_SERVICES", "eks"),
        ("AICR_CACHE_MAX_AGE", "42"),
    ]);
    let agent = agent();
    let eks = call(
        &agent,
        "GET",
        &worker.url("/v1/recipe?service=eks"),
        &[],
        None,
    );
    assert_eq!(
        (eks.status, eks.header("cache-control")),
        (200, Some("public, max-age=42"))
    );
    let gke = call(
        &agent,
        "GET",
        &worker.url("/v1/recipe?service=gke"),
        &[],
        None,
    );
    assert_eq!(gke.status, 400);
    assert_eq!(gke.json()["details"]["allowed"], serde_json::json!(["eks"]));
    drop(worker);

    let broken = start(&[("AICR_CACHE_MAX_AGE", "ten minutes")]);
    let answer = call(&agent, "GET", &broken.url(RECIPE), &[], None);
    assert_eq!(answer.status, 500);
    let body = answer.json();
    assert_eq!(body["message"], "Invalid server configuration");
    assert_eq!(body["details"]["variable"], "AICR_CACHE_MAX_AGE");
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn two_thousand_requests_sixteen_at_a_time_without_an_error() {
    const REQUESTS: usize = 2000;
    const CONCURRENCY: usize = 16;
    let worker = start(&[]);
    let targets = [
        RECIPE,
        "/v1/recipe?service=gke&intent=inference",
        "/v1/query?service=aks&selector=criteria",
        "/health",
    ];
    let started = Instant::now();
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONCURRENCY)
            .map(|t| {
                let worker = &worker;
                scope.spawn(move || {
                    let agent = agent();
                    (t..REQUESTS)
                        .step_by(CONCURRENCY)
                        .filter_map(|i| {
                            let target = targets[i % targets.len()];
                            let answer = call(&agent, "GET", &worker.url(target), &[], None);
                            (answer.status != 200)
                                .then(|| format!("#{i} {target}: {}", answer.status))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("load thread"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!(
        "{REQUESTS} requests, {CONCURRENCY} concurrent: {elapsed:.2} s, {:.0} requests/s",
        REQUESTS as f64 / elapsed
    );
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn upstream_conformance_cases_pass_over_http() {
    let upstream = Upstream::beside(&root()).expect("../shared is beside the checkout");
    let plain = start_upstream(&[]);
    let summary =
        aicr_conformance::run(&upstream.options(Some(plain.base.clone()), EnvCases::Skip))
            .unwrap_or_else(|e| panic!("{e}"));
    drop(plain);
    let mut failed = summary.failed;
    let mut passed = summary.passed;
    // Cases recorded with allowlists run against a worker started with that configuration.
    if let Some(env) = upstream
        .server_environment()
        .unwrap_or_else(|e| panic!("{e}"))
    {
        let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let configured = start_upstream(&vars);
        let more =
            aicr_conformance::run(&upstream.options(Some(configured.base.clone()), EnvCases::Only))
                .unwrap_or_else(|e| panic!("{e}"));
        failed += more.failed;
        passed += more.passed;
    }
    eprintln!("conformance over HTTP against workerd: {passed} passed, {failed} failed");
    assert_eq!(failed, 0);
    assert!(passed > 0, "no case ran");
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn upstream_bundle_cases_pass_over_http_on_both_catalogs() {
    let upstream = Upstream::beside(&root()).expect("../shared is beside the checkout");
    let on_upstream = start_upstream(&[]);
    aicr_conformance::bundles::judge_all_pass(&upstream.bundle_cases, &on_upstream.base)
        .unwrap_or_else(|e| panic!("worker on upstream's catalog: {e}"));
    drop(on_upstream);
    let ours = start(&[]);
    aicr_conformance::bundles::judge_all_pass(&upstream.bundle_cases, &ours.base)
        .unwrap_or_else(|e| panic!("worker on our catalog: {e}"));
}

/// Sends raw bytes, half-closes the connection (the client will send nothing more) and
/// reads the whole answer.
fn raw_exchange(base: &str, request: &[u8]) -> String {
    use std::io::Write;
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn a_body_that_breaks_off_gets_the_apis_json_400_not_the_platforms_500() {
    // workerd itself (no wrangler proxy, which answers its own 503 here): the body promises
    // 100 bytes, four arrive, then the client's side closes.
    let build = build_dir(BUILD_ENV).unwrap_or_else(|e| panic!("{e}"));
    let worker = LocalWorker::direct(&build, &[]).unwrap_or_else(|e| panic!("{e}"));
    let answer = raw_exchange(
        &worker.base,
        b"POST /v1/recipe HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"a\"",
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(
        head.starts_with("HTTP/1.1 400"),
        "{answer}\n{}",
        worker.log_tail()
    );
    let head = head.to_ascii_lowercase();
    assert!(head.contains("content-type: application/json"), "{answer}");
    assert!(head.contains("x-request-id: "), "{answer}");
    assert!(head.contains("cache-control: no-store"), "{answer}");
    let body: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(body["code"], "INVALID_REQUEST", "{body}");
    // The worker still answers afterwards.
    let health = call(&agent(), "GET", &worker.url("/health"), &[], None);
    assert_eq!(health.status, 200);
}
