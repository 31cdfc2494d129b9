//! The HTTP stack as the edge runs it: the built worker in workerd itself (no wrangler
//! proxy, which would add and rewrite headers of its own), configured through text
//! bindings as the platform configures it (vars and secrets alike), with the
//! `AICR_RATE_LIMITER` binding simulated by miniflare's own module and client addresses
//! in `CF-Connecting-IP`, which the platform sets on every request.
//!
//! Keys are minted with `aicr_stack::keys::mint`, so the tenants document holds only their
//! hashes, as deployed. Ignored in a plain `cargo test`: `cargo xtask test` builds the
//! worker and runs them (see the crate docs).

use aicr_stack::keys::{self, MintedKey};
use aicr_worker_e2e::client::{Answer, agent, call};
use aicr_worker_e2e::{BUILD_ENV, LocalWorker, RateLimitBinding, build_dir};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod common;
use common::in_process;

const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";
/// The server secret of these tests: distinctive, so a leak is found by a plain search.
const SECRET: &str = "edge-e2e-server-secret-7f3a9c1e5b2d4f6a8c0e";
const PUBLIC_ORIGIN: &str = "https://public.example";
const ACME_ORIGIN: &str = "https://dash.acme.example";
const OTHER_ORIGIN: &str = "https://elsewhere.example";

fn mint(n: u8) -> MintedKey {
    keys::mint(&[n; 38], SECRET.as_bytes())
}

/// A tenants document entry: the key's id and hash, never the key.
fn stored(key: &MintedKey) -> String {
    format!(r#"{{"id":"{}","hash":"{}"}}"#, key.id, key.hash)
}

fn worker(vars: &[(&str, &str)], rate_limit: Option<RateLimitBinding>) -> LocalWorker {
    let build = build_dir(BUILD_ENV).unwrap_or_else(|e| panic!("{e}"));
    LocalWorker::direct_with(&build, vars, rate_limit, None).unwrap_or_else(|e| panic!("{e}"))
}

fn binding(limit: u32) -> RateLimitBinding {
    RateLimitBinding {
        limit,
        period_secs: 60,
        latency_ms: 0,
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Waits until at least `needed` seconds remain of the binding's current window (its
/// simulation counts in fixed windows of `period` seconds on the wall clock, which the
/// worker shares), so a burst of counted requests falls in one window.
fn fresh_window(period: u64, needed: u64) {
    let into = unix_secs() % period;
    if period - into < needed {
        std::thread::sleep(Duration::from_secs(period - into));
    }
}

fn assert_security_headers(answer: &Answer, what: &str) {
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", aicr_stack::API_CSP),
        ("strict-transport-security", aicr_stack::HSTS),
    ] {
        assert_eq!(answer.header(name), Some(value), "{what}: {name}");
    }
}

/// The error body the stack's refusals share with the API's errors.
fn assert_error(answer: &Answer, status: u16, code: &str, what: &str) -> Value {
    assert_eq!(answer.status, status, "{what}: {}", answer.text());
    let body = answer.json();
    assert_eq!(body["code"], code, "{what}: {body}");
    assert!(body["requestId"].is_string(), "{what}: {body}");
    assert_security_headers(answer, what);
    body
}

struct Tenants {
    acme: MintedKey,
    narrow: MintedKey,
    signer: MintedKey,
    document: String,
}

/// acme: any route, its own browser origin; narrow: `/v1/recipe` only, eks only;
/// signer: every request signed.
fn tenants() -> Tenants {
    let (acme, narrow, signer) = (mint(1), mint(2), mint(3));
    let document = format!(
        r#"{{"tenants":[
            {{"name":"acme","keys":[{}],"corsOrigins":["{ACME_ORIGIN}"]}},
            {{"name":"narrow","keys":[{}],"routes":["/v1/recipe"],"allowed":{{"services":"eks"}}}},
            {{"name":"signer","keys":[{}],"requireSignature":true}}
        ]}}"#,
        stored(&acme),
        stored(&narrow),
        stored(&signer)
    );
    Tenants {
        acme,
        narrow,
        signer,
        document,
    }
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn keys_tenants_signatures_cors_and_security_headers_in_workerd() {
    let t = tenants();
    let worker = worker(
        &[
            ("AICR_KEY_SECRET", SECRET),
            ("AICR_TENANTS", &t.document),
            ("AICR_PROTECTED_ROUTES", "/v1/query,/v1/bundle"),
            ("AICR_CORS_ORIGINS", PUBLIC_ORIGIN),
        ],
        Some(binding(600)),
    );
    let agent = agent();
    let mut answers: Vec<Answer> = Vec::new();
    let mut send = |method: &str, target: &str, headers: &[(&str, &str)], body: Option<&[u8]>| {
        let answer = call(&agent, method, &worker.url(target), headers, body);
        let seen = Answer {
            status: answer.status,
            headers: answer.headers.clone(),
            body: answer.body.clone(),
        };
        answers.push(seen);
        answer
    };
    let bearer = |key: &MintedKey| format!("Bearer {}", key.key);

    // Anonymous, unprotected: the API's bytes, with every security header, uncompressed
    // although the client accepts gzip and br (the platform compresses, not the worker).
    let recipe = send("GET", RECIPE, &[("accept-encoding", "gzip, br")], None);
    assert_eq!(recipe.status, 200, "{}", recipe.text());
    assert_eq!(recipe.body, *in_process("GET", RECIPE, &[], b"").body());
    assert_security_headers(&recipe, "anonymous recipe");
    assert_eq!(
        recipe.header("content-encoding"),
        None,
        "compressed by the worker"
    );

    // A protected route: no key is 401 with a challenge; a key by either header is let in.
    let query = "/v1/query?service=eks&selector=criteria.service";
    let none = send("GET", query, &[], None);
    assert_error(&none, 401, "UNAUTHORIZED", "protected route without a key");
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"aicr\"")
    );
    let by_bearer = send("GET", query, &[("authorization", &bearer(&t.acme))], None);
    assert_eq!(
        (by_bearer.status, by_bearer.json()),
        (200, Value::from("eks"))
    );
    assert_security_headers(&by_bearer, "keyed query");
    let by_header = send("GET", query, &[("x-api-key", &t.acme.key)], None);
    assert_eq!(
        (by_header.status, by_header.json()),
        (200, Value::from("eks"))
    );

    // Keys that are not keys, not ours, or not right: 401, never anonymous.
    let unknown = mint(9).key;
    let mut wrong = t.acme.key.clone();
    let last = if wrong.ends_with('A') { 'B' } else { 'A' };
    wrong.pop();
    wrong.push(last);
    for (key, what, error) in [
        (
            "aicr_123_tooshort".to_owned(),
            "malformed key",
            "invalid_token",
        ),
        (unknown, "unknown key", "invalid_token"),
        (wrong, "right id, wrong secret", "invalid_token"),
    ] {
        for target in [query, RECIPE] {
            let answer = send("GET", target, &[("x-api-key", &key)], None);
            assert_error(&answer, 401, "UNAUTHORIZED", what);
            assert_eq!(
                answer.header("www-authenticate"),
                Some(format!("Bearer realm=\"aicr\", error=\"{error}\"").as_str()),
                "{what}"
            );
        }
    }
    let not_bearer = send(
        "GET",
        query,
        &[("authorization", "Basic dXNlcjpwYXNz")],
        None,
    );
    assert_error(&not_bearer, 401, "UNAUTHORIZED", "Basic credentials");

    // Tenant routes and allowlists: narrow may only ask /v1/recipe, and only for eks
    // (its allowlist answers as AICR_ALLOWED_SERVICES would).
    let narrow = bearer(&t.narrow);
    let forbidden = send("GET", query, &[("authorization", &narrow)], None);
    let body = assert_error(&forbidden, 403, "FORBIDDEN", "route outside the tenant's");
    assert_eq!(body["details"]["tenant"], "narrow");
    let gke = send(
        "GET",
        "/v1/recipe?service=gke",
        &[("authorization", &narrow)],
        None,
    );
    let body = assert_error(&gke, 400, "INVALID_REQUEST", "service outside the tenant's");
    assert_eq!(body["details"]["parameter"], "service");
    assert_eq!(body["details"]["allowed"], serde_json::json!(["eks"]));
    let eks = send("GET", RECIPE, &[("authorization", &narrow)], None);
    assert_eq!(eks.status, 200, "{}", eks.text());
    assert_eq!(eks.body, recipe.body);
    let anyone_gke = send("GET", "/v1/recipe?service=gke", &[], None);
    assert_eq!(
        anyone_gke.status, 200,
        "the tenant's list is only the tenant's"
    );

    // Signed requests: accepted once; a replay, a changed query, an old timestamp and a
    // missing signature are refused.
    let signer = bearer(&t.signer);
    let signed = |method: &str, path: &str, query: &str, timestamp: u64, body: &[u8]| {
        let timestamp = timestamp.to_string();
        let canonical = keys::canonical_request(method, path, query, &timestamp, body);
        (timestamp, keys::sign(&t.signer.key, &canonical))
    };
    let (ts, signature) = signed("GET", "/v1/recipe", "service=eks", unix_secs(), b"");
    let headers = [
        ("authorization", signer.as_str()),
        (keys::TIMESTAMP_HEADER, ts.as_str()),
        (keys::SIGNATURE_HEADER, signature.as_str()),
    ];
    let first = send("GET", "/v1/recipe?service=eks", &headers, None);
    assert_eq!(first.status, 200, "signed request: {}", first.text());
    let replay = send("GET", "/v1/recipe?service=eks", &headers, None);
    let body = assert_error(&replay, 401, "UNAUTHORIZED", "replayed signature");
    assert!(
        body["message"].as_str().unwrap().contains("already used"),
        "{body}"
    );
    let (ts, signature) = signed("GET", "/v1/recipe", "service=eks", unix_secs(), b"");
    let tampered = send(
        "GET",
        "/v1/recipe?service=gke",
        &[
            ("authorization", signer.as_str()),
            (keys::TIMESTAMP_HEADER, ts.as_str()),
            (keys::SIGNATURE_HEADER, signature.as_str()),
        ],
        None,
    );
    let body = assert_error(&tampered, 401, "UNAUTHORIZED", "tampered query");
    assert!(
        body["message"].as_str().unwrap().contains("does not match"),
        "{body}"
    );
    let old = unix_secs() - keys::SIGNATURE_WINDOW_SECS - 60;
    let (ts, signature) = signed("GET", "/v1/recipe", "service=eks", old, b"");
    let expired = send(
        "GET",
        "/v1/recipe?service=eks",
        &[
            ("authorization", signer.as_str()),
            (keys::TIMESTAMP_HEADER, ts.as_str()),
            (keys::SIGNATURE_HEADER, signature.as_str()),
        ],
        None,
    );
    let body = assert_error(&expired, 401, "UNAUTHORIZED", "expired timestamp");
    assert_eq!(
        body["details"]["windowSeconds"],
        keys::SIGNATURE_WINDOW_SECS
    );
    let unsigned = send(
        "GET",
        "/v1/recipe?service=eks",
        &[("authorization", &signer)],
        None,
    );
    assert_error(
        &unsigned,
        401,
        "UNAUTHORIZED",
        "unsigned request of a signing tenant",
    );
    let criteria = br#"{"kind":"RecipeCriteria","spec":{"service":"eks"}}"#;
    let (ts, signature) = signed("POST", "/v1/recipe", "", unix_secs(), criteria);
    let posted = send(
        "POST",
        "/v1/recipe",
        &[
            ("authorization", signer.as_str()),
            ("content-type", "application/json"),
            (keys::TIMESTAMP_HEADER, ts.as_str()),
            (keys::SIGNATURE_HEADER, signature.as_str()),
        ],
        Some(criteria),
    );
    assert_eq!(posted.status, 200, "signed POST: {}", posted.text());

    // CORS: a preflight from a listed origin is 204 with the origin allowed; from any
    // other, nothing is allowed. Answers name the origin and vary by it.
    let preflight = |origin: &str| {
        call(
            &agent,
            "OPTIONS",
            &worker.url("/v1/query"),
            &[
                ("origin", origin),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "x-api-key"),
            ],
            None,
        )
    };
    let allowed = preflight(PUBLIC_ORIGIN);
    assert_eq!(allowed.status, 204, "{}", allowed.text());
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some(PUBLIC_ORIGIN)
    );
    assert!(varies_by_origin(&allowed), "{:?}", allowed.headers);
    assert!(
        allowed
            .header("access-control-allow-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("x-api-key")),
        "{:?}",
        allowed.headers
    );
    assert_eq!(
        preflight(ACME_ORIGIN).header("access-control-allow-origin"),
        Some(ACME_ORIGIN),
        "a tenant's origin may send a preflight (it carries no key yet)"
    );
    let refused = preflight(OTHER_ORIGIN);
    assert_eq!(
        refused.header("access-control-allow-origin"),
        None,
        "{:?}",
        refused.headers
    );
    let cross = send("GET", RECIPE, &[("origin", PUBLIC_ORIGIN)], None);
    assert_eq!(cross.status, 200);
    assert_eq!(
        cross.header("access-control-allow-origin"),
        Some(PUBLIC_ORIGIN)
    );
    assert!(varies_by_origin(&cross), "{:?}", cross.headers);
    let foreign = send("GET", RECIPE, &[("origin", OTHER_ORIGIN)], None);
    assert_eq!(foreign.header("access-control-allow-origin"), None);

    // A tenant's key from a page of an origin it did not list: 403; from its own: allowed.
    let acme = bearer(&t.acme);
    let elsewhere = send(
        "GET",
        query,
        &[("authorization", &acme), ("origin", OTHER_ORIGIN)],
        None,
    );
    let body = assert_error(
        &elsewhere,
        403,
        "FORBIDDEN",
        "tenant key from another origin",
    );
    assert_eq!(body["details"]["origin"], OTHER_ORIGIN);
    let at_home = send(
        "GET",
        query,
        &[("authorization", &acme), ("origin", ACME_ORIGIN)],
        None,
    );
    assert_eq!(at_home.status, 200, "{}", at_home.text());
    assert_eq!(
        at_home.header("access-control-allow-origin"),
        Some(ACME_ORIGIN)
    );

    // Nothing secret in any answer, nor in anything workerd printed.
    let secrets = secrets_of(&[&t.acme, &t.narrow, &t.signer]);
    for answer in &answers {
        let text = format!("{:?} {}", answer.headers, answer.text());
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "an answer shows a secret: {text}"
            );
        }
    }
    assert_log_keeps_secrets(&worker, &secrets);
}

/// Whether `Vary` names `Origin`.
fn varies_by_origin(answer: &Answer) -> bool {
    answer
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .any(|(_, v)| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("origin"))
        })
}

/// The server secret, and each key and its stored hash.
fn secrets_of(keys: &[&MintedKey]) -> Vec<String> {
    let mut secrets = vec![SECRET.to_owned()];
    for key in keys {
        secrets.push(key.key.clone());
        secrets.push(key.hash.clone());
        // The secret half alone, in case only it were written somewhere.
        secrets.push(key.key.rsplit('_').next().unwrap_or_default().to_owned());
    }
    secrets
}

fn assert_log_keeps_secrets(worker: &LocalWorker, secrets: &[String]) {
    let log = worker.log();
    for secret in secrets {
        assert!(
            !log.contains(secret.as_str()),
            "workerd's output shows a secret:\n{log}"
        );
    }
}

/// Worker vars, its rate-limiting binding, and the variable the 500 must name.
type Case<'a> = (&'a [(&'a str, &'a str)], Option<RateLimitBinding>, &'a str);

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn configuration_the_stack_cannot_use_is_a_500_naming_it() {
    let acme = mint(1);
    let document = format!(
        r#"{{"tenants":[{{"name":"acme","keys":[{}]}}]}}"#,
        stored(&acme)
    );
    let short_secret = "short-server-secret-17";
    let bad_limit = format!(
        r#"{{"tenants":[{{"name":"acme","keys":[{}],"rateLimit":"often"}}]}}"#,
        stored(&acme)
    );
    let cases: [Case; 6] = [
        (
            &[
                ("AICR_KEY_SECRET", short_secret),
                ("AICR_TENANTS", &document),
            ],
            Some(binding(9)),
            "AICR_KEY_SECRET",
        ),
        (
            &[("AICR_TENANTS", &document)],
            Some(binding(9)),
            "AICR_KEY_SECRET",
        ),
        (
            &[
                ("AICR_KEY_SECRET", SECRET),
                ("AICR_TENANTS", "{\"tenants\": ["),
            ],
            Some(binding(9)),
            "AICR_TENANTS",
        ),
        (
            &[("AICR_KEY_SECRET", SECRET), ("AICR_TENANTS", &bad_limit)],
            Some(binding(9)),
            "AICR_TENANTS: tenants[0].rateLimit",
        ),
        (&[("AICR_RATE_LIMIT", "10/m")], None, "AICR_RATE_LIMITER"),
        (
            &[("AICR_RATE_LIMITER_PERIOD", "30")],
            Some(binding(9)),
            "AICR_RATE_LIMITER_PERIOD",
        ),
    ];
    let agent = agent();
    for (vars, rate_limit, variable) in cases {
        let worker = worker(vars, rate_limit);
        for target in [RECIPE, "/health"] {
            let answer = call(
                &agent,
                "GET",
                &worker.url(target),
                &[("x-api-key", &acme.key)],
                None,
            );
            assert_eq!(answer.status, 500, "{variable}: {}", answer.text());
            let body = answer.json();
            assert_eq!(body["message"], "Invalid server configuration", "{body}");
            assert_eq!(body["details"]["variable"], variable, "{body}");
            let text = answer.text();
            assert!(
                !text.contains(short_secret) && !text.contains(SECRET),
                "{text}"
            );
        }
        // The log names the cause, and no secret.
        let log = worker.log();
        assert!(
            log.contains(variable),
            "{variable} not in workerd's output:\n{log}"
        );
        assert_log_keeps_secrets(
            &worker,
            &[
                SECRET.to_owned(),
                short_secret.to_owned(),
                acme.key.clone(),
                acme.hash.clone(),
            ],
        );
    }
    // Limits with the binding, and a binding with no limits, are both fine.
    let limited = worker(&[("AICR_RATE_LIMIT", "10/m")], Some(binding(10)));
    assert_eq!(
        call(&agent, "GET", &limited.url(RECIPE), &[], None).status,
        200
    );
    let unlimited = worker(&[], None);
    assert_eq!(
        call(&agent, "GET", &unlimited.url(RECIPE), &[], None).status,
        200
    );
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn limits_count_per_platform_client_address_whatever_x_forwarded_for_says() {
    const LIMIT: u32 = 5;
    let plain = mint(4);
    let document = format!(
        r#"{{"tenants":[{{"name":"plain","keys":[{}]}}]}}"#,
        stored(&plain)
    );
    let worker = worker(
        &[
            ("AICR_RATE_LIMIT", "5/m"),
            ("AICR_KEY_SECRET", SECRET),
            ("AICR_TENANTS", &document),
        ],
        Some(binding(LIMIT)),
    );
    let agent = agent();
    let from = |ip: &str, forged: &str| {
        call(
            &agent,
            "GET",
            &worker.url(RECIPE),
            &[("cf-connecting-ip", ip), ("x-forwarded-for", forged)],
            None,
        )
    };
    fresh_window(60, 20);
    // One client, a new forged X-Forwarded-For each time: one count.
    for i in 0..LIMIT {
        let answer = from("203.0.113.7", &format!("198.51.100.{i}"));
        assert_eq!(answer.status, 200, "request {i}: {}", answer.text());
        assert_security_headers(&answer, "counted answer");
        assert_eq!(
            answer.header("ratelimit-remaining"),
            None,
            "the binding does not say"
        );
    }
    for i in 0..3 {
        let refused = from("203.0.113.7", &format!("192.0.2.{i}, 10.0.0.1"));
        let body = assert_error(&refused, 429, "RATE_LIMIT_EXCEEDED", "over the limit");
        assert_eq!(body["retryable"], true, "{body}");
        assert_eq!(
            refused.header("retry-after"),
            Some("60"),
            "the binding's period"
        );
    }
    // Another client has its own count; a tenant without a limit is not counted.
    assert_eq!(from("203.0.113.8", "203.0.113.7").status, 200);
    let keyed = call(
        &agent,
        "GET",
        &worker.url(RECIPE),
        &[
            ("cf-connecting-ip", "203.0.113.7"),
            ("x-api-key", &plain.key),
        ],
        None,
    );
    assert_eq!(keyed.status, 200, "{}", keyed.text());
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn overlapping_waiting_requests_keep_their_own_bodies() {
    // Anonymous requests are counted (each waits 15 ms for the binding, as at the edge,
    // where the count is a network call); keyed ones are not and answer at once, in the
    // same isolate meanwhile. Every answer must be its own request's.
    const REQUESTS: usize = 800;
    const CONCURRENCY: usize = 16;
    let plain = mint(5);
    let document = format!(
        r#"{{"tenants":[{{"name":"plain","keys":[{}]}}]}}"#,
        stored(&plain)
    );
    let worker = worker(
        &[
            ("AICR_RATE_LIMIT", "100000/m"),
            ("AICR_KEY_SECRET", SECRET),
            ("AICR_TENANTS", &document),
        ],
        Some(RateLimitBinding {
            limit: 100_000,
            period_secs: 60,
            latency_ms: 15,
        }),
    );
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONCURRENCY)
            .map(|t| {
                let worker = &worker;
                let key = plain.key.as_str();
                scope.spawn(move || {
                    let agent = agent();
                    (t..REQUESTS)
                        .step_by(CONCURRENCY)
                        .filter_map(|i| {
                            let target =
                                format!("/v1/query?service=eks&nodes={i}&selector=criteria.nodes");
                            let id = format!("00000000-0000-4000-8000-{i:012}");
                            let mut headers = vec![("x-request-id", id.as_str())];
                            if i % 2 == 1 {
                                headers.push(("x-api-key", key));
                            }
                            let answer = call(&agent, "GET", &worker.url(&target), &headers, None);
                            let ok = answer.status == 200
                                && answer.json() == i
                                && answer.header("x-request-id") == Some(id.as_str());
                            (!ok).then(|| {
                                format!(
                                    "#{i}: {} {:?} {}",
                                    answer.status,
                                    answer.header("x-request-id"),
                                    answer.text()
                                )
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} answers were not their request's: {:?}",
        failures.len(),
        &failures[..failures.len().min(10)]
    );
}

#[test]
#[ignore = "needs the built worker: run by `cargo xtask test`"]
fn mixed_tenants_under_load_only_the_limited_one_is_refused() {
    const REQUESTS: usize = 2400;
    const CONCURRENCY: usize = 16;
    const LIMIT: u32 = 40;
    let (alpha, beta, gamma) = (mint(6), mint(7), mint(8));
    let document = format!(
        r#"{{"tenants":[
            {{"name":"alpha","keys":[{}]}},
            {{"name":"beta","keys":[{}]}},
            {{"name":"gamma","keys":[{}],"rateLimit":"40/m"}}
        ]}}"#,
        stored(&alpha),
        stored(&beta),
        stored(&gamma)
    );
    let worker = worker(
        &[("AICR_KEY_SECRET", SECRET), ("AICR_TENANTS", &document)],
        Some(binding(LIMIT)),
    );
    let callers: [(&str, Option<&str>); 4] = [
        ("alpha", Some(&alpha.key)),
        ("beta", Some(&beta.key)),
        ("gamma", Some(&gamma.key)),
        ("anonymous", None),
    ];
    let targets = [
        RECIPE,
        "/v1/recipe?service=gke&intent=inference",
        "/v1/query?service=aks&selector=criteria",
        "/health",
    ];
    fresh_window(60, 30);
    let started = Instant::now();
    let statuses: Vec<(&str, u16)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CONCURRENCY)
            .map(|t| {
                let worker = &worker;
                let callers = &callers;
                scope.spawn(move || {
                    let agent = agent();
                    (t..REQUESTS)
                        .step_by(CONCURRENCY)
                        .map(|i| {
                            let (who, key) = callers[i % callers.len()];
                            let target = targets[(i / callers.len()) % targets.len()];
                            let headers: Vec<(&str, &str)> =
                                key.map(|k| ("x-api-key", k)).into_iter().collect();
                            (
                                who,
                                call(&agent, "GET", &worker.url(target), &headers, None).status,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("client thread"))
            .collect()
    });
    let elapsed = started.elapsed().as_secs();
    let mut counts: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    for status in &statuses {
        *counts.entry(*status).or_default() += 1;
    }
    eprintln!("{REQUESTS} requests, {CONCURRENCY} concurrent, {elapsed} s: {counts:?}");
    let per_caller = REQUESTS / callers.len();
    for who in ["alpha", "beta", "anonymous"] {
        assert_eq!(
            counts.get(&(who, 200)),
            Some(&per_caller),
            "{who}: {counts:?}"
        );
    }
    let gamma_ok = counts.get(&("gamma", 200)).copied().unwrap_or(0);
    let gamma_refused = counts.get(&("gamma", 429)).copied().unwrap_or(0);
    assert_eq!(
        gamma_ok + gamma_refused,
        per_caller,
        "gamma: only 200 or 429: {counts:?}"
    );
    // The first window lets exactly the limit through; a run that reaches into later
    // windows may get the limit again in each.
    let windows = elapsed as usize / 60 + 2;
    assert!(
        gamma_ok >= LIMIT as usize && gamma_ok <= LIMIT as usize * windows,
        "gamma: {gamma_ok} allowed, limit {LIMIT} in {windows} windows at most"
    );
    assert!(gamma_refused > 0, "{counts:?}");
    assert!(
        statuses.iter().all(|(_, s)| *s < 500),
        "server errors: {counts:?}"
    );
}
