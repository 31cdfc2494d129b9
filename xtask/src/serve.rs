//! `cargo xtask serve [--port N]`: the dev server. Builds what the page and the worker need
//! (on a fresh clone that includes the explorer's `www/pkg/`, which no file in git holds),
//! then runs the worker and the explorer in local workerd through `wrangler dev` until
//! Ctrl-C, which stops wrangler and its workerd together.
//!
//! Each step prints a numbered progress line first, with what a first run on a fresh
//! machine costs, so a newcomer sees where the minutes go.

use crate::catalog::Catalog;
use crate::steps::{Result, Step, cargo, root};
use aicr_worker_e2e::{free_port, stop_group, wrangler_dev};
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const DEFAULT_PORT: u16 = 8787;

/// The build steps before serving: what each does and costs on a fresh machine.
const STEPS: &[Step] = &[
    Step {
        name: "wasm std for wasm32 (rustup target, or Debian's rustc-web route; first run < 1 min)",
        run: crate::install::wasm_std,
    },
    Step {
        name: "tools: npm packages (wrangler, esbuild, binaryen) and the wasm-bindgen CLI (first run compiles it, ~3 min)",
        run: crate::worker::setup,
    },
    Step {
        name: "explorer: www/pkg (engine + catalog for the browser; first run ~1 min)",
        run: crate::web::build,
    },
    Step {
        name: "edge worker: target/worker/build (first run ~1 min)",
        run: build_worker,
    },
];

fn build_worker() -> Result {
    crate::worker::built(Catalog::Ours).map(drop)
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn request_stop(_signal: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn port(args: &[String]) -> Result<u16> {
    let port = match args {
        [] => DEFAULT_PORT,
        [flag, value] if flag == "--port" => value
            .parse()
            .map_err(|_| format!("--port {value:?}: expected a port number 1-65535"))?,
        _ => {
            return Err(format!(
                "usage: cargo xtask serve [--port N] (default {DEFAULT_PORT}), got {args:?}"
            ));
        }
    };
    if port == 0 {
        return Err("--port 0: expected a port number 1-65535".into());
    }
    Ok(port)
}

pub fn run(args: &[String]) -> Result {
    let port = port(args)?;
    let start = Instant::now();
    for (n, step) in STEPS.iter().enumerate() {
        eprintln!("\n==> serve [{}/{}] {}", n + 1, STEPS.len(), step.name);
        (step.run)()?;
    }
    eprintln!(
        "\n==> serve: built in {:.0} s; starting wrangler dev (local workerd)",
        start.elapsed().as_secs_f64()
    );
    let mut child = wrangler_dev(port, &root().join("wrangler.toml"), &[])
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start wrangler: {e}; run `cargo xtask setup`"))?;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            request_stop as *const () as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            request_stop as *const () as libc::sighandler_t,
        );
    }
    let base = format!("http://127.0.0.1:{port}");
    println!("\naicr-edge is starting in local workerd (Ctrl-C stops it):");
    println!("  explorer: {base}/");
    println!("  API:      {base}/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training");
    println!("  OpenAPI:  {base}/openapi.json\n");
    loop {
        if STOP.load(Ordering::SeqCst) {
            eprintln!("\nstopping wrangler and workerd…");
            stop_group(&mut child);
            return Ok(());
        }
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            stop_group(&mut child);
            return Err(format!("wrangler exited ({status})"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// How long a first `serve` may take to build and answer (a fresh machine needs ~6 min).
const FIRST_ANSWER_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// How long `serve` may take to stop after Ctrl-C.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// The explorer tests run against the served page: a recipe picked in the form, one
/// opened from a share link (`/?service=eks&accelerator=h100&os=ubuntu&intent=training`),
/// and no console error on either: the page is served with `www/_headers`' policy, and
/// Chromium reports what the policy blocks there.
const SERVED_PAGE_TESTS: &str = "picked criteria|share link shows its recipe|no console errors";

/// Test step: a newcomer's first run. `www/pkg/` is removed, as on a fresh clone; the
/// README's `cargo xtask serve` (on a free port) must build it and serve a working explorer,
/// checked in headless Chromium; then Ctrl-C (SIGINT) must stop it and its workerd.
pub fn from_clean_www() -> Result {
    let pkg = root().join("www/pkg");
    if pkg.exists() {
        std::fs::remove_dir_all(&pkg).map_err(|e| format!("{}: {e}", pkg.display()))?;
    }
    let port = free_port()?;
    let mut serve = cargo()
        .args(["xtask", "serve", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start cargo xtask serve: {e}"))?;
    let base = format!("http://127.0.0.1:{port}/");
    let checked = wait_answering(&mut serve, &base)
        .and_then(|()| crate::web::chromium_tests(&base, Some(SERVED_PAGE_TESTS)));
    let stopped = interrupt(&mut serve, port);
    checked.and(stopped)
}

/// Polls `/health` until it answers 200, `serve` exits, or the time is up.
fn wait_answering(serve: &mut Child, base: &str) -> Result {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    let start = Instant::now();
    while start.elapsed() < FIRST_ANSWER_TIMEOUT {
        if let Some(status) = serve.try_wait().map_err(|e| e.to_string())? {
            return Err(format!(
                "cargo xtask serve exited ({status}) before answering"
            ));
        }
        if agent.get(&format!("{base}health")).call().is_ok() {
            eprintln!(
                "serve answered after {:.0} s",
                start.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Err(format!(
        "cargo xtask serve did not answer {base}health within {FIRST_ANSWER_TIMEOUT:?}"
    ))
}

/// Ctrl-C, as a terminal sends it to the foreground group: `serve` must exit successfully
/// and nothing may answer on its port afterwards.
fn interrupt(serve: &mut Child, port: u16) -> Result {
    let pid = i32::try_from(serve.id()).map_err(|e| e.to_string())?;
    // SAFETY: kill(2) on the process group `serve` leads; it touches no memory of ours.
    unsafe { libc::kill(-pid, libc::SIGINT) };
    let start = Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > STOP_TIMEOUT {
            stop_group(serve);
            return Err(format!(
                "cargo xtask serve did not stop within {STOP_TIMEOUT:?} of Ctrl-C"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        return Err(format!(
            "cargo xtask serve exited with {status} after Ctrl-C"
        ));
    }
    match std::net::TcpStream::connect(("127.0.0.1", port)) {
        Ok(_) => Err(format!("port {port} still answers after serve stopped")),
        Err(_) => Ok(()),
    }
}
