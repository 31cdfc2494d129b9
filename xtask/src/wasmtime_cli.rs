//! The real `wasmtime` CLI (pinned, built once by setup) running the component the way the
//! README tells users to: every `wasmtime run` and `wasmtime serve` command of README.md,
//! verbatim, and the upstream conformance cases over HTTP against `wasmtime serve`. The
//! component-host tests drive wasmtime's crates with a linker of their own; only the CLI
//! shows what a user's command line does (which WASI worlds it links, which flags it needs).

use crate::catalog::Catalog;
use crate::component::build_wasm;
use crate::install;
use crate::steps::{Result, root};
use aicr_worker_e2e::{LocalWorker, free_port};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The component's path as the README writes it (the rustup route's).
const README_WASM: &str = "target/wasm32-wasip2/release/aicr.wasm";

/// The README's tuning of `wasmtime serve` for an instance per request: wasmtime's pooling
/// allocator, keeping the first 4 MiB of each linear memory and 64 KiB of each table
/// resident between instances and resetting only the memory pages an instance wrote
/// (Linux's PAGEMAP_SCAN, 6.7 and later). Each thing it keeps resident is one `madvise` or
/// copy-on-write fault less per request, and each of those stops the other cores to flush
/// their TLBs: without the tuning a recipe request took ~20 page faults, with the memory
/// part ~2 and one `madvise` of the table, with the table part too ~0 of either (measured
/// with `perf stat`). Our tables are a few KiB (400 entries in the engine's module).
const SERVE_TUNING: &str = "pooling-allocator=y,pooling-pagemap-scan=auto,\
                            pooling-memory-keep-resident=4194304,\
                            pooling-table-keep-resident=65536";

/// The component (or any wasi:http component) under `wasmtime serve` on a free port, as the
/// README's tuned command runs it, with `env` as its environment (`--env NAME=value`, its
/// configuration).
pub fn serve(wasm: &Path, env: &BTreeMap<String, String>) -> Result<LocalWorker> {
    let port = free_port()?;
    let mut cmd = Command::new("wasmtime");
    // As the README advises for serving: with it set, wasmtime captures a host backtrace
    // as each request's instance is dropped.
    cmd.env_remove("RUST_BACKTRACE");
    cmd.args(["serve", "-Scli", "-O", SERVE_TUNING, "--addr"])
        .arg(format!("127.0.0.1:{port}"));
    for (name, value) in env {
        cmd.arg("--env").arg(format!("{name}={value}"));
    }
    cmd.arg(wasm);
    LocalWorker::spawn(cmd, "wasmtime-serve", port)
}

/// The shell commands of README.md's ```sh blocks that start with `prefix`, in order.
fn readme_commands(prefix: &str) -> Result<Vec<String>> {
    let path = root().join("README.md");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut in_sh = false;
    let mut found = Vec::new();
    for line in text.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            command if in_sh && command.starts_with(prefix) => found.push(command.to_owned()),
            _ => {}
        }
    }
    Ok(found)
}

/// A README command with the component's path of this machine's build route.
fn localised(command: &str, wasm: &Path) -> Result<String> {
    let wasm = wasm
        .strip_prefix(root())
        .map_err(|_| format!("{} is outside the workspace", wasm.display()))?;
    Ok(command.replace(README_WASM, &wasm.display().to_string()))
}

/// Test step: each `wasmtime run` command of the README exits 0 with output; each
/// `wasmtime serve` command serves, and the README's `curl` commands for its address get
/// the recipe; a bad flag value exits 1 naming the value.
pub fn readme() -> Result {
    install::wasmtime_cli()?;
    let wasm = build_wasm(Catalog::Ours)?;
    let runs = readme_commands("wasmtime run ")?;
    let serves = readme_commands("wasmtime serve ")?;
    if runs.is_empty() || serves.is_empty() {
        return Err("README.md shows no `wasmtime run` or `wasmtime serve` command".into());
    }
    for command in &runs {
        let out = sh(&localised(command, &wasm)?)
            .output()
            .map_err(|e| format!("sh: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stdout.trim().is_empty() {
            return Err(format!(
                "`{command}` failed ({}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let first: String = stdout
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(80)
            .collect();
        eprintln!("ok: {command}  ->  {first}");
    }
    let bad = format!(
        "{} recipe --service lke",
        runs[0].split(" recipe ").next().unwrap_or("")
    );
    let out = sh(&localised(&bad, &wasm)?)
        .output()
        .map_err(|e| format!("sh: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(1) || !stderr.contains("lke") {
        return Err(format!(
            "`{bad}` should exit 1 naming `lke`: {} {stderr}",
            out.status
        ));
    }
    if !serves.iter().any(|c| c.contains(SERVE_TUNING)) {
        return Err(format!(
            "README.md shows no `wasmtime serve -O {SERVE_TUNING}` command, the one the bench measures"
        ));
    }
    let curls = readme_commands("curl 'http://127.0.0.1:8080/")?;
    // The access-control example serves a tenants document minted by `cargo xtask key
    // new`; a fresh clone has none yet, so make one the way the README says.
    if serves.iter().any(|c| c.contains(".aicr/")) && !root().join(".aicr/tenants.json").exists() {
        crate::key::run(&["new".into(), "--tenant".into(), "readme".into()])?;
    }
    for command in &serves {
        let port = command
            .split_whitespace()
            .skip_while(|w| *w != "--addr")
            .nth(1)
            .and_then(|address| address.strip_prefix("127.0.0.1:")?.parse().ok())
            .ok_or_else(|| format!("`{command}` names no --addr 127.0.0.1:PORT"))?;
        let server = LocalWorker::spawn(
            sh(&format!("exec {}", localised(command, &wasm)?)),
            "readme-wasmtime-serve",
            port,
        )?;
        answers(&server, &curls).map_err(|e| format!("`{command}`: {e}"))?;
        eprintln!("ok: {command} (and {} curl command(s))", curls.len());
    }
    Ok(())
}

/// `/health` of a started server answers 200, and each README curl for its address gets a
/// recipe document.
fn answers(server: &LocalWorker, curls: &[String]) -> Result {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build();
    agent
        .get(&server.url("/health"))
        .call()
        .map_err(|e| format!("/health: {e}"))?;
    for curl in curls.iter().filter(|c| c.contains(&server.base)) {
        let url = curl
            .split('\'')
            .nth(1)
            .ok_or_else(|| format!("`{curl}`: no quoted URL"))?;
        let body = agent
            .get(url)
            .call()
            .map_err(|e| format!("{curl}: {e}"))?
            .into_string()
            .map_err(|e| format!("{curl}: {e}"))?;
        let doc: serde_json::Value =
            serde_json::from_str(&body).map_err(|e| format!("{curl}: not JSON: {e}"))?;
        if doc["kind"] != "RecipeResult" {
            return Err(format!("{curl}: not a recipe: {body}"));
        }
    }
    Ok(())
}

/// `sh -c command` in the workspace root, as a user types it there.
fn sh(command: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(command).current_dir(root());
    cmd
}

/// Test step: the component built on upstream's catalog under `wasmtime serve` passes the
/// recorded upstream cases over HTTP (see `component::conformance_served_by`).
pub fn conformance() -> Result {
    install::wasmtime_cli()?;
    crate::component::conformance_served_by(serve)
}

/// Test step: the component's stack under `wasmtime serve`, configured as a user would
/// (`--env`): a protected route refuses a request without a key (401 with a challenge)
/// and takes a minted one, answers are gzip-coded on request (wasi:http hosts do not
/// compress) and carry the security headers, and neither the key nor the server secret
/// shows up in an answer or in the server's log.
pub fn stack() -> Result {
    install::wasmtime_cli()?;
    let wasm = build_wasm(Catalog::Ours)?;
    let secret = "wasmtime-serve-stack-secret-0123456789";
    let minted = aicr_stack::keys::mint(&[3; 38], secret.as_bytes());
    let tenants = format!(
        r#"{{"tenants":[{{"name":"ci","keys":[{{"id":"{}","hash":"{}"}}]}}]}}"#,
        minted.id, minted.hash
    );
    let env = BTreeMap::from([
        ("AICR_KEY_SECRET".to_owned(), secret.to_owned()),
        ("AICR_TENANTS".to_owned(), tenants),
        ("AICR_PROTECTED_ROUTES".to_owned(), "/v1/bundle".to_owned()),
    ]);
    let server = serve(&wasm, &env)?;
    let get = |path: &str, headers: &[(&str, &str)]| -> Result<ureq::Response> {
        let mut request = ureq::get(&server.url(path));
        for (name, value) in headers {
            request = request.set(name, value);
        }
        match request.call() {
            Ok(response) | Err(ureq::Error::Status(_, response)) => Ok(response),
            Err(e) => Err(format!("GET {path}: {e}")),
        }
    };
    let expect = |what: &str, ok: bool| if ok { Ok(()) } else { Err(what.to_owned()) };
    let bundle = "/v1/bundle?service=eks&accelerator=h100&intent=training";
    let refused = get(bundle, &[])?;
    expect(
        "a protected route without a key must be 401 with WWW-Authenticate",
        refused.status() == 401
            && refused.header("www-authenticate") == Some("Bearer realm=\"aicr\""),
    )?;
    let refused_body = refused.into_string().map_err(|e| e.to_string())?;
    let bearer = format!("Bearer {}", minted.key);
    let taken = get(bundle, &[("authorization", &bearer)])?;
    expect(
        "a minted key must open the protected route",
        taken.status() == 200,
    )?;
    let recipe = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";
    let plain = get(recipe, &[])?;
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", aicr_stack::API_CSP),
    ] {
        expect(
            &format!("{name} must be {value:?} on every answer"),
            plain.header(name) == Some(value),
        )?;
    }
    let mut identity = Vec::new();
    plain
        .into_reader()
        .read_to_end(&mut identity)
        .map_err(|e| e.to_string())?;
    let coded = get(recipe, &[("accept-encoding", "gzip, br")])?;
    expect(
        "the component must gzip a recipe for a client that accepts it (br is the native server's)",
        coded.header("content-encoding") == Some("gzip"),
    )?;
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(coded.into_reader())
        .read_to_end(&mut unpacked)
        .map_err(|e| format!("the gzip body does not decode: {e}"))?;
    expect(
        "the gzip body must decode to the identity body",
        unpacked == identity,
    )?;
    let log = server.log();
    for (what, text) in [
        ("answer", refused_body.as_str()),
        ("server log", log.as_str()),
    ] {
        expect(
            &format!("the {what} must not contain the key or the server secret"),
            !text.contains(&minted.key[18..]) && !text.contains(secret),
        )?;
    }
    Ok(())
}
