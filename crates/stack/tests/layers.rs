//! The stack natively, layer by layer, over the embedded catalog: what each policy answers
//! and that none of them leaks a key. The same stack runs in workerd and under wasmtime;
//! those hosts' own tests repeat the parts that depend on the host.

use aicr_api::{Api, Config, RequestContext};
use aicr_stack::{Connection, Gcra, HostOptions, Policy, Stack, keys, now_or_later};
use http::{Request, Response};
use serde_json::Value;
use std::io::Read;

const SECRET: &str = "integration-secret-integration-secret";
const NOW: u64 = 1_800_000_000;
const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

struct Fixture {
    stack: Stack,
    acme: String,
    ops: String,
    narrow: String,
    signer: String,
}

fn key(n: u8) -> keys::MintedKey {
    keys::mint(&[n; 38], SECRET.as_bytes())
}

fn entry(k: &keys::MintedKey) -> String {
    format!(r#"{{"id":"{}","hash":"{}"}}"#, k.id, k.hash)
}

fn fixture(extra: &[(&str, &str)], options: HostOptions) -> Fixture {
    let (acme, ops, narrow, signer) = (key(1), key(2), key(3), key(4));
    let tenants = format!(
        r#"{{"tenants":[
          {{"name":"acme","keys":[{}],"corsOrigins":["https://dash.acme.example"],"rateLimit":"3/m"}},
          {{"name":"ops","keys":[{}],"admin":true}},
          {{"name":"narrow","keys":[{}],"routes":["/v1/recipe"],"allowed":{{"services":"eks"}}}},
          {{"name":"signer","keys":[{}],"requireSignature":true}}
        ]}}"#,
        entry(&acme),
        entry(&ops),
        entry(&narrow),
        entry(&signer)
    );
    let mut vars: Vec<(String, String)> = vec![
        ("AICR_TENANTS".into(), tenants),
        ("AICR_KEY_SECRET".into(), SECRET.into()),
        ("AICR_CORS_ORIGINS".into(), "https://public.example".into()),
    ];
    vars.extend(extra.iter().map(|(k, v)| ((*k).into(), (*v).into())));
    let policy = Policy::from_vars(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    Fixture {
        stack: Stack::new(api, policy, Some(Gcra::default()), options),
        acme: acme.key,
        ops: ops.key,
        narrow: narrow.key,
        signer: signer.key,
    }
}

fn send(stack: &Stack, request: Request<Vec<u8>>, peer: &str) -> Response<Vec<u8>> {
    let ctx = RequestContext {
        unix_nanos: u128::from(NOW) * 1_000_000_000,
        random: [5; 16],
    };
    let connection = Connection {
        peer: Some(peer.parse().unwrap()),
    };
    match now_or_later(stack.answer(request, ctx, connection)) {
        Ok(response) => response,
        Err(_) => panic!("every native layer answers without waiting"),
    }
}

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Vec<u8>> {
    let mut builder = Request::get(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Vec::new()).unwrap()
}

fn json(response: &Response<Vec<u8>>) -> Value {
    serde_json::from_slice(response.body()).unwrap()
}

fn header<'r>(response: &'r Response<Vec<u8>>, name: &str) -> &'r str {
    response
        .headers()
        .get(name)
        .map_or("", |v| v.to_str().unwrap())
}

/// Every `Vary` value, lower-cased and joined.
fn vary(response: &Response<Vec<u8>>) -> String {
    let values: Vec<&str> = response
        .headers()
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    values.join(", ").to_ascii_lowercase()
}

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[test]
fn anonymous_recipes_pass_with_every_security_header() {
    let f = fixture(&[], HostOptions::default());
    let r = send(&f.stack, get(RECIPE, &[]), "192.0.2.1");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert_eq!(header(&r, "referrer-policy"), "no-referrer");
    assert_eq!(header(&r, "x-frame-options"), "DENY");
    assert_eq!(header(&r, "content-security-policy"), aicr_stack::API_CSP);
    assert_eq!(header(&r, "strict-transport-security"), "");
    let tls = fixture(
        &[],
        HostOptions {
            hsts: true,
            compress: false,
        },
    );
    let r = send(&tls.stack, get("/health", &[]), "192.0.2.1");
    assert_eq!(header(&r, "strict-transport-security"), aicr_stack::HSTS);
    // No origin configured anywhere: no CORS headers, no `Vary: Origin`.
    let api = Api::new(aicr_embedded_catalog::catalog(), Config::default());
    let bare = Stack::new(api, Policy::default(), None::<Gcra>, HostOptions::default());
    let r = send(
        &bare,
        get(RECIPE, &[("origin", "https://a.example")]),
        "192.0.2.1",
    );
    assert_eq!(header(&r, "access-control-expose-headers"), "");
    assert!(!vary(&r).contains("origin"), "{}", vary(&r));
}

#[test]
fn keys_name_their_tenant_and_bad_keys_are_refused() {
    let f = fixture(
        &[("AICR_PROTECTED_ROUTES", "/v1/bundle")],
        HostOptions::default(),
    );
    let protected = "/v1/bundle?service=eks&accelerator=h100&intent=training";
    let r = send(&f.stack, get(protected, &[]), "192.0.2.1");
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "www-authenticate"), "Bearer realm=\"aicr\"");
    assert_eq!(json(&r)["code"], "UNAUTHORIZED");
    for (name, value) in [
        ("authorization", bearer(&f.acme)),
        ("x-api-key", f.acme.clone()),
    ] {
        let r = send(&f.stack, get(protected, &[(name, &value)]), "192.0.2.1");
        assert_eq!(r.status(), 200, "{name}");
    }
    let mut wrong = f.acme.clone();
    wrong.replace_range(20..21, if &wrong[20..21] == "A" { "B" } else { "A" });
    let unknown = format!("aicr_ffffffffffff_{}", &f.acme[18..]);
    for bad in [
        wrong.as_str(),
        unknown.as_str(),
        "aicr_nonsense",
        "Basic abc",
    ] {
        let value = if bad.starts_with("Basic") {
            bad.to_owned()
        } else {
            bearer(bad)
        };
        // A bad key is refused even where no key is needed.
        let r = send(
            &f.stack,
            get(RECIPE, &[("authorization", &value)]),
            "192.0.2.1",
        );
        assert_eq!(r.status(), 401, "{bad}");
        assert!(header(&r, "www-authenticate").starts_with("Bearer realm=\"aicr\", error="));
        let body = String::from_utf8_lossy(r.body()).into_owned();
        assert!(
            !body.contains(&f.acme[18..]) && !body.contains(SECRET),
            "{body}"
        );
    }
    let r = send(
        &f.stack,
        get(
            RECIPE,
            &[("authorization", &bearer(&f.acme)), ("x-api-key", &f.ops)],
        ),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 400);
}

#[test]
fn tenants_have_their_own_routes_allowlists_and_admin_rights() {
    let f = fixture(&[], HostOptions::default());
    let narrow = bearer(&f.narrow);
    let r = send(
        &f.stack,
        get(
            "/v1/query?service=eks&selector=components",
            &[("authorization", &narrow)],
        ),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 403);
    assert_eq!(json(&r)["code"], "FORBIDDEN");
    let gke = "/v1/recipe?service=gke&accelerator=h100&intent=training";
    let r = send(
        &f.stack,
        get(gke, &[("authorization", &narrow)]),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 400);
    assert_eq!(json(&r)["details"]["allowed"], serde_json::json!(["eks"]));
    // Anonymous callers keep the server-wide (empty) allowlists.
    assert_eq!(send(&f.stack, get(gke, &[]), "192.0.2.1").status(), 200);
    // Admin paths: never anonymous, admin tenants only (then routed as usual: 404 here).
    assert_eq!(
        send(&f.stack, get("/admin/flags", &[]), "192.0.2.1").status(),
        401
    );
    let r = send(
        &f.stack,
        get("/admin/flags", &[("authorization", &bearer(&f.acme))]),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 403);
    let r = send(
        &f.stack,
        get("/admin/flags", &[("authorization", &bearer(&f.ops))]),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 404);
}

fn signed(key: &str, uri: &str, at: u64, tamper: Option<&str>) -> Request<Vec<u8>> {
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let canonical = keys::canonical_request("GET", path, query, &at.to_string(), b"");
    let signature = keys::sign(key, &canonical);
    get(
        tamper.unwrap_or(uri),
        &[
            ("authorization", &bearer(key)),
            (keys::TIMESTAMP_HEADER, &at.to_string()),
            (keys::SIGNATURE_HEADER, &signature),
        ],
    )
}

#[test]
fn signed_requests_bind_content_and_time_and_cannot_be_replayed() {
    let f = fixture(&[], HostOptions::default());
    let r = send(
        &f.stack,
        get(RECIPE, &[("authorization", &bearer(&f.signer))]),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 401, "this tenant must sign");
    let r = send(
        &f.stack,
        signed(&f.signer, RECIPE, NOW - 10, None),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 200);
    let r = send(
        &f.stack,
        signed(&f.signer, RECIPE, NOW - 10, None),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 401, "a replay");
    assert!(
        json(&r)["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let tampered = RECIPE.replace("training", "inference");
    let r = send(
        &f.stack,
        signed(&f.signer, RECIPE, NOW, Some(&tampered)),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 401);
    let r = send(
        &f.stack,
        signed(&f.signer, RECIPE, NOW - 301, None),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 401);
    assert_eq!(json(&r)["details"]["windowSeconds"], 300);
    // Other tenants may sign too (optional for them).
    let r = send(
        &f.stack,
        signed(&f.acme, RECIPE, NOW + 200, None),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 200);
}

#[test]
fn cors_allows_listed_origins_and_tenant_origins_only_with_their_keys() {
    let f = fixture(&[], HostOptions::default());
    let preflight = |origin: &str| {
        Request::options(RECIPE)
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .body(Vec::new())
            .unwrap()
    };
    for origin in ["https://public.example", "https://dash.acme.example"] {
        let r = send(&f.stack, preflight(origin), "192.0.2.1");
        assert_eq!(r.status(), 204, "{origin}");
        assert_eq!(header(&r, "access-control-allow-origin"), origin);
        assert!(header(&r, "access-control-allow-headers").contains("authorization"));
        assert!(vary(&r).contains("origin"));
        assert_eq!(header(&r, "access-control-allow-credentials"), "");
    }
    let r = send(&f.stack, preflight("https://evil.example"), "192.0.2.1");
    assert_eq!(header(&r, "access-control-allow-origin"), "");
    // A plain OPTIONS still reaches the API.
    let r = send(
        &f.stack,
        Request::options(RECIPE).body(Vec::new()).unwrap(),
        "192.0.2.1",
    );
    assert_eq!(
        (r.status().as_u16(), header(&r, "allow")),
        (204, "GET, HEAD, POST, OPTIONS")
    );
    let acme = bearer(&f.acme);
    let r = send(
        &f.stack,
        get(
            RECIPE,
            &[
                ("origin", "https://dash.acme.example"),
                ("authorization", &acme),
            ],
        ),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "access-control-allow-origin"),
        "https://dash.acme.example"
    );
    assert!(header(&r, "access-control-expose-headers").contains("etag"));
    let narrow = bearer(&f.narrow);
    let r = send(
        &f.stack,
        get(
            RECIPE,
            &[
                ("origin", "https://dash.acme.example"),
                ("authorization", &narrow),
            ],
        ),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 403, "acme's origin is not narrow's");
}

#[test]
fn limits_key_on_tenant_or_trusted_client_and_forged_forwarding_changes_nothing() {
    let f = fixture(
        &[
            ("AICR_RATE_LIMIT", "2/m"),
            ("AICR_TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
        HostOptions::default(),
    );
    // A direct client: forged X-Forwarded-For values do not give it new buckets.
    let statuses: Vec<u16> = ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
        .iter()
        .map(|forged| {
            send(
                &f.stack,
                get("/health", &[("x-forwarded-for", forged)]),
                "198.51.100.5",
            )
            .status()
            .as_u16()
        })
        .collect();
    assert_eq!(statuses, [200, 200, 429]);
    let r = send(&f.stack, get("/health", &[]), "198.51.100.5");
    assert_eq!(r.status(), 429);
    assert!(header(&r, "retry-after").parse::<u64>().unwrap() >= 1);
    assert_eq!(header(&r, "ratelimit-limit"), "2");
    assert_eq!(header(&r, "ratelimit-policy"), "2;w=60");
    let body = json(&r);
    assert_eq!(
        (body["code"].as_str(), body["retryable"].as_bool()),
        (Some("RATE_LIMIT_EXCEEDED"), Some(true))
    );
    // Behind the trusted proxy, each forwarded client has its own bucket, and a hop the
    // client prepended is ignored.
    for client in ["203.0.113.1", "203.0.113.2"] {
        for _ in 0..2 {
            let forged = format!("9.9.9.9, {client}");
            let r = send(
                &f.stack,
                get("/health", &[("x-forwarded-for", &forged)]),
                "10.1.2.3",
            );
            assert_eq!(r.status(), 200, "{client}");
        }
        let r = send(
            &f.stack,
            get(
                "/health",
                &[("x-forwarded-for", &format!("8.8.8.8, {client}"))],
            ),
            "10.1.2.3",
        );
        assert_eq!(r.status(), 429, "{client}");
    }
    // A tenant has its own limit (3/m), whatever the address.
    let acme = bearer(&f.acme);
    let seen: Vec<u16> = (0..4)
        .map(|i| {
            let r = send(
                &f.stack,
                get("/health", &[("authorization", &acme)]),
                &format!("192.0.2.{i}"),
            );
            r.status().as_u16()
        })
        .collect();
    assert_eq!(seen, [200, 200, 200, 429]);
    let r = send(
        &f.stack,
        get("/health", &[("authorization", &bearer(&f.ops))]),
        "198.51.100.5",
    );
    assert_eq!(
        r.status(),
        200,
        "a tenant without a limit is not the anonymous bucket"
    );
}

#[test]
fn compression_follows_accept_encoding_and_keeps_conditional_requests_working() {
    let f = fixture(
        &[],
        HostOptions {
            hsts: false,
            compress: true,
        },
    );
    let plain = send(&f.stack, get(RECIPE, &[]), "192.0.2.1");
    assert_eq!(header(&plain, "content-encoding"), "");
    let gz = send(
        &f.stack,
        get(RECIPE, &[("accept-encoding", "gzip")]),
        "192.0.2.1",
    );
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    assert!(vary(&gz).contains("accept-encoding"), "{}", vary(&gz));
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&gz.body()[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, *plain.body());
    let br = send(
        &f.stack,
        get(RECIPE, &[("accept-encoding", "gzip, br")]),
        "192.0.2.1",
    );
    assert_eq!(header(&br, "content-encoding"), "br");
    let mut unpacked = Vec::new();
    brotli::Decompressor::new(&br.body()[..], 4096)
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, *plain.body());
    assert!(
        br.body().len() * 3 < plain.body().len(),
        "{} vs {}",
        br.body().len(),
        plain.body().len()
    );
    // The coded answer's tag is weak; sending it back is a 304.
    let tag = header(&gz, "etag").to_owned();
    assert_eq!(tag, format!("W/{}", header(&plain, "etag")));
    let r = send(
        &f.stack,
        get(
            RECIPE,
            &[("accept-encoding", "gzip"), ("if-none-match", &tag)],
        ),
        "192.0.2.1",
    );
    assert_eq!(r.status(), 304);
    assert_eq!(header(&r, "etag"), tag);
    // Small answers and zips are left alone.
    let health = send(
        &f.stack,
        get("/health", &[("accept-encoding", "gzip")]),
        "192.0.2.1",
    );
    assert_eq!(header(&health, "content-encoding"), "");
    let zip = send(
        &f.stack,
        get(
            "/v1/bundle?service=eks&accelerator=h100&intent=training",
            &[("accept-encoding", "br")],
        ),
        "192.0.2.1",
    );
    assert_eq!(
        (zip.status().as_u16(), header(&zip, "content-encoding")),
        (200, "")
    );
}

#[test]
fn every_answer_echoes_a_traceparent_and_yields_an_access_record() {
    let f = fixture(&[], HostOptions::default());
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let uri = "/v1/recipe?service=eks&accelerator=h100&intent=training";
    let r = send(
        &f.stack,
        get(
            uri,
            &[("traceparent", parent), ("authorization", &bearer(&f.acme))],
        ),
        "192.0.2.1",
    );
    let echoed = header(&r, "traceparent");
    assert!(
        echoed.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-") && echoed.ends_with("-01"),
        "{echoed}"
    );
    let ctx = RequestContext::default();
    let record = aicr_stack::AccessRecord::of(&http::Method::GET, "/v1/recipe", &r, &ctx, 1.25);
    assert_eq!(record.tenant, "acme");
    assert_eq!(record.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!((record.route, record.status), ("/v1/recipe", 200));
    assert_eq!(record.request_id, header(&r, "x-request-id"));
    let line = record.to_json();
    assert!(
        !line.contains(&f.acme[18..]) && !line.contains("service=eks"),
        "{line}"
    );
    // Refused before identification: the tenant is unknown, the route still templated.
    let r = send(
        &f.stack,
        get(
            "/v1/nope/../recipe",
            &[("authorization", "Bearer nonsense")],
        ),
        "192.0.2.1",
    );
    let record =
        aicr_stack::AccessRecord::of(&http::Method::GET, "/v1/nope/../recipe", &r, &ctx, 0.1);
    assert_eq!(
        (record.tenant.as_str(), record.route, record.status),
        ("unknown", "unmatched", 401)
    );
    assert_eq!(header(&r, "traceparent").len(), 55);
}

#[test]
fn only_an_admin_tenants_valid_key_admits_a_large_upload() {
    let (ops, acme) = (key(2), key(1));
    let tenants = format!(
        r#"{{"tenants":[{{"name":"ops","admin":true,"keys":[{}]}},{{"name":"acme","keys":[{}]}}]}}"#,
        entry(&ops),
        entry(&acme)
    );
    let policy = Policy::from_vars(|name| match name {
        "AICR_TENANTS" => Some(tenants.clone()),
        "AICR_KEY_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let headers = |pairs: &[(&str, &str)]| {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    };
    assert!(policy.admits_admin(&headers(&[("authorization", &bearer(&ops.key))])));
    assert!(policy.admits_admin(&headers(&[("x-api-key", &ops.key)])));
    let mut wrong = ops.key.clone();
    wrong.pop();
    wrong.push(if ops.key.ends_with('A') { 'B' } else { 'A' });
    for refused in [
        headers(&[]),
        headers(&[("authorization", &bearer(&acme.key))]),
        headers(&[("authorization", &bearer(&wrong))]),
        headers(&[("x-api-key", "aicr_nonsense")]),
    ] {
        assert!(!policy.admits_admin(&refused), "{refused:?}");
    }
}
