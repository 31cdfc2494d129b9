//! # aicr-server — the native server
//!
//! A drop-in for upstream's `aicrd` where a long-lived process is wanted (a cluster that
//! may not send its details to a third-party edge): the same stack the edge worker and the
//! wasi:http component answer through (`aicr_stack::Stack` around `aicr_api::Api`, with
//! in-process GCRA rate limits and compression), hosted on tokio and hyper, plus what only
//! a process can do: graceful drain, timeouts and limits, native TLS with hot reload, JSON
//! access logs, OTLP spans, Prometheus metrics and an admin API on a second listener, and
//! feature flags. It serves the API only; the explorer page is the edge's (and any static
//! host's) job.
//!
//! Threads: one per CPU the process may use serves the API, each with a single-threaded
//! tokio runtime and its own `SO_REUSEPORT` socket on the port, so a request never moves
//! between threads; the main thread runs the admin listener, signals, TLS reloads and the
//! span exporter.
//!
//! Start-up: read and check the whole environment (exit 2 naming the first variable that
//! cannot be used), load the catalog and the TLS pair, bind both listeners (exit 1 if one
//! cannot be bound), log `listening` with each address, serve. On SIGTERM or SIGINT:
//! `/ready` answers 503 for `AICR_DRAIN_SECONDS` while everything else is still served
//! (a second signal ends the delay early), then both listeners stop accepting, requests in
//! flight are answered (within `AICR_SHUTDOWN_TIMEOUT_SECONDS`), queued spans are sent,
//! and the process exits 0.

mod admin;
mod app;
mod catalogs;
mod config;
mod flags;
mod logging;
mod metrics;
mod otlp;
mod ready;
mod serve;
mod tls;

use crate::app::App;
use crate::config::{Settings, Vars, parse_level};
use crate::logging::LogControl;
use crate::serve::{Listener, Server};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing::level_filters::LevelFilter;

/// Longest the exporter may take to send its last spans at shutdown.
const OTLP_FLUSH: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let started = Instant::now();
    let vars = Vars::from_env();
    // Logs first, so a configuration error is a JSON line like any other; a bad LOG_LEVEL
    // is reported by the full check below.
    let level = vars
        .as_ref()
        .ok()
        .and_then(|v| v.get("LOG_LEVEL"))
        .and_then(|l| parse_level(&l))
        .unwrap_or(LevelFilter::INFO);
    let log = LogControl::init(level);
    let configured = vars.and_then(|vars| Ok((Settings::from_vars(&vars)?, vars)));
    let (settings, vars) = match configured {
        Ok(pair) => pair,
        Err(e) => return refuse(&e),
    };
    if let Err(error) = log.set_level(settings.log_level) {
        tracing::warn!(target: "server", %error, "LOG_LEVEL not applied");
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(error) => {
            tracing::error!(target: "server", %error, "cannot start the async runtime");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(run(settings, vars, log.clone(), started));
    log.flush();
    code
}

fn refuse(error: &aicr_api::ConfigError) -> ExitCode {
    tracing::error!(target: "server", variable = %error.variable, value = %error.value,
        expected = %error.expected, "invalid configuration; not starting");
    ExitCode::from(2)
}

/// A listening socket on `address`; with `shared`, others may listen on the same port
/// (`SO_REUSEPORT`: the kernel spreads connections over them). Returned unregistered, for
/// the runtime of the thread that accepts on it.
fn bind(address: SocketAddr, shared: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if shared {
        socket.set_reuseport(true)?;
    }
    socket.bind(address)?;
    socket.listen(1024)?.into_std()
}

/// The API's listening sockets, one per worker thread, all on one port.
fn bind_api(address: SocketAddr, workers: usize) -> std::io::Result<Vec<std::net::TcpListener>> {
    let first = bind(address, true)?;
    // With PORT=0 the first socket chose the port; the others take the same.
    let address = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(bind(address, true)?);
    }
    Ok(listeners)
}

fn cannot_listen(which: &str, address: SocketAddr, error: &std::io::Error) -> ExitCode {
    tracing::error!(target: "server", listener = which, %address, %error, "cannot listen");
    ExitCode::from(1)
}

/// Serves the API on `listener` from a thread of its own with a single-threaded runtime
/// (a thread per core: no work stealing, no wake-ups across threads; measured faster than
/// one multi-threaded runtime), until `stop` and every connection is closed.
fn spawn_worker(
    index: usize,
    listener: std::net::TcpListener,
    server: Arc<Server>,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    stop: Arc<watch::Sender<bool>>,
) -> std::io::Result<()> {
    // Made here, so a worker that cannot start stops the start-up rather than leave its
    // share of connections waiting.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = {
        let _in = runtime.enter();
        TcpListener::from_std(listener)?
    };
    let stopped = stop.subscribe();
    std::thread::Builder::new()
        .name(format!("aicr-api-{index}"))
        .spawn(move || {
            runtime.block_on(async move {
                serve::accept(listener, Listener::Api, server, acceptor, stopped).await;
                // This thread's connections run on its runtime: keep it until all are done.
                stop.closed().await;
            });
        })
        .map(|_| ())
}

async fn run(settings: Settings, vars: Vars, log: LogControl, started: Instant) -> ExitCode {
    // Before any port is open, so a signal is never met by the default action.
    let (mut terminate, mut interrupt) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(t), Ok(i)) => (t, i),
        (Err(error), _) | (_, Err(error)) => {
            tracing::error!(target: "server", %error, "cannot watch for SIGTERM and SIGINT");
            return ExitCode::from(1);
        }
    };
    let (stop, stopped) = watch::channel(false);
    let (stop_otlp, otlp_stopped) = watch::channel(false);
    let metrics = Arc::new(metrics::Metrics::default());
    let (exporter, otlp_task) = match settings.otlp.clone() {
        Some(endpoint) => {
            let (exporter, task) = otlp::Exporter::start(endpoint, metrics.clone(), otlp_stopped);
            (Some(exporter), Some(task))
        }
        None => (None, None),
    };
    let tls = match &settings.tls {
        None => None,
        Some(files) => match tls::load(files) {
            Ok(loaded) => Some(loaded),
            Err(e) => return refuse(&e),
        },
    };
    let fingerprint = tls.as_ref().map(|l| l.fingerprint.clone());
    let app = match App::new(settings, vars, log, metrics, exporter) {
        Ok(app) => Arc::new(app),
        Err(e) => return refuse(&e),
    };
    *app.tls_fingerprint
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = fingerprint;
    let settings = &app.settings;
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let api_address = SocketAddr::new(settings.bind, settings.port);
    let api = match bind_api(api_address, workers) {
        Ok(l) => l,
        Err(error) => return cannot_listen("api", api_address, &error),
    };
    let admin_address = SocketAddr::new(settings.admin_bind, settings.admin_port);
    let admin = match bind(admin_address, false).and_then(TcpListener::from_std) {
        Ok(l) => l,
        Err(error) => return cannot_listen("admin", admin_address, &error),
    };
    let resolver = tls.map(tls::Reloading::new);
    let acceptor = resolver
        .as_ref()
        .map(|r| tokio_rustls::TlsAcceptor::from(r.server_config()));
    if let (Some(files), Some(resolver)) = (&settings.tls, &resolver) {
        tokio::spawn(serve::reload_tls(
            files.clone(),
            resolver.clone(),
            app.clone(),
            stopped.clone(),
        ));
    }
    let server = Arc::new(Server::new(app.clone()));
    let shown =
        |a: std::io::Result<SocketAddr>| a.map_or_else(|e| e.to_string(), |a| a.to_string());
    tracing::info!(target: "server", listener = Listener::Api.name(),
        address = %shown(api[0].local_addr()), tls = acceptor.is_some(), threads = workers,
        "listening");
    tracing::info!(target: "server", listener = Listener::Admin.name(),
        address = %shown(admin.local_addr()), tls = acceptor.is_some(), "listening");
    tokio::spawn(serve::accept(
        admin,
        Listener::Admin,
        server.clone(),
        acceptor.clone(),
        stopped.clone(),
    ));
    let stop = Arc::new(stop);
    for (index, listener) in api.into_iter().enumerate() {
        let started = spawn_worker(
            index,
            listener,
            server.clone(),
            acceptor.clone(),
            stop.clone(),
        );
        if let Err(error) = started {
            tracing::error!(target: "server", %error, "cannot start a worker thread");
            return ExitCode::from(1);
        }
    }
    drop(stopped);
    let info = app.api.catalog().info();
    tracing::info!(target: "server", version = env!("CARGO_PKG_VERSION"),
        catalog = %info.name, catalog_digest = %info.digest, source = %app.catalog_source,
        startup_ms = started.elapsed().as_secs_f64() * 1e3, "serving");
    app.log.flush();

    let which = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    let drain = app.settings.drain;
    app.draining.store(true, Ordering::Relaxed);
    tracing::info!(target: "server", signal = which, drain_seconds = drain.as_secs(),
        "draining: /ready answers 503, requests are still served");
    tokio::select! {
        _ = tokio::time::sleep(drain) => {}
        _ = terminate.recv() => tracing::info!(target: "server", "second signal: ending the drain delay"),
        _ = interrupt.recv() => tracing::info!(target: "server", "second signal: ending the drain delay"),
    }
    tracing::info!(target: "server", "no longer accepting connections; finishing requests in flight");
    let _ = stop.send(true);
    let timeout = app.settings.shutdown_timeout;
    if tokio::time::timeout(timeout, stop.closed()).await.is_err() {
        tracing::warn!(target: "server", open_connections = stop.receiver_count(),
            timeout_seconds = timeout.as_secs(), "shutdown timeout: closing what is left");
    }
    let _ = stop_otlp.send(true);
    if let Some(task) = otlp_task {
        let _ = tokio::time::timeout(OTLP_FLUSH, task).await;
    }
    tracing::info!(target: "server", "stopped");
    ExitCode::SUCCESS
}
