//! Listeners, connections and requests on tokio and hyper (HTTP/1.1).
//!
//! Per connection: TLS when configured (the handshake within the header-read timeout),
//! then hyper with its header-read timeout, at most [`MAX_HEADERS`] headers of at most
//! [`MAX_HEADER_BYTES`] in all (431 beyond, answered by hyper, which then closes the
//! connection). Per request: the body is read up to `MAX_BODY_BYTES + 1` bytes (the API
//! answers 413 past its limit without the server holding more), and the whole request —
//! reading the body and waiting for the answer — must finish within
//! `AICR_REQUEST_TIMEOUT_MS`, else the answer is the API's 504 `TIMEOUT`. The engine's own
//! work is CPU-bound and bounded (microseconds for a memoised answer, milliseconds for a
//! bundle); the deadline is for what can wait, such as a client that stops sending.
//!
//! The host-side answers (504, an unreadable body, an address the admin listener refuses)
//! carry what every stack answer carries: the API's error body and request id, the
//! security headers and the echoed `traceparent`.
//!
//! Shutdown: the accept loops stop when told, and each connection is then closed
//! gracefully by hyper (the request in flight is answered, keep-alive ends); the caller
//! waits for every connection to drop its end of the stop channel.

use crate::admin::AdminRouter;
use crate::app::App;
use crate::logging;
use crate::otlp::Span;
use crate::tls::{self, Reloading};
use aicr_api::{ApiError, ErrorCode, MAX_BODY_BYTES, RequestContext};
use aicr_stack::{AccessRecord, Connection, Stack, TraceContext};
use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use sha2::{Digest, Sha256};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Most request headers (hyper's default; upstream has no count limit).
pub const MAX_HEADERS: usize = 100;
/// Most bytes of request line and headers together (upstream's 64 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// Which listener a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    Api,
    Admin,
}

impl Listener {
    pub fn name(self) -> &'static str {
        match self {
            Listener::Api => "api",
            Listener::Admin => "admin",
        }
    }
}

/// Both listeners' request handling.
pub struct Server {
    pub app: Arc<App>,
    /// The admin routes inside the stack, with the start-up policy.
    admin: Stack,
}

/// Per-request randomness: SHA-256 of a secret seed (from the system, once) and a counter.
/// Unpredictable without the seed, unique per request, and no system call per request.
struct Randomness {
    seed: [u8; 32],
    counter: AtomicU64,
}

fn random16() -> [u8; 16] {
    static RANDOMNESS: OnceLock<Randomness> = OnceLock::new();
    let randomness = RANDOMNESS.get_or_init(|| {
        let mut seed = [0u8; 32];
        if getrandom::getrandom(&mut seed).is_err() {
            // No system randomness (never seen on Linux): ids stay unique, if guessable.
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            seed[..16].copy_from_slice(&nanos.to_le_bytes());
            seed[16..20].copy_from_slice(&std::process::id().to_le_bytes());
        }
        Randomness {
            seed,
            counter: AtomicU64::new(0),
        }
    });
    let n = randomness.counter.fetch_add(1, Ordering::Relaxed);
    let digest = Sha256::new()
        .chain_update(randomness.seed)
        .chain_update(n.to_le_bytes())
        .finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest[..16]);
    out
}

/// The time and 16 bytes of randomness for one request.
fn context() -> RequestContext {
    let unix_nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RequestContext {
        unix_nanos,
        random: random16(),
    }
}

/// What a host-side answer needs of the request: its path and the headers that name it
/// (kept aside before the request goes into the stack; cheap clones of shared bytes).
struct Probe {
    uri: http::Uri,
    traceparent: Option<HeaderValue>,
    request_id: Option<HeaderValue>,
    ctx: RequestContext,
}

impl Probe {
    fn of(parts: &http::request::Parts, ctx: RequestContext) -> Probe {
        Probe {
            uri: parts.uri.clone(),
            traceparent: parts.headers.get(aicr_stack::trace::TRACEPARENT).cloned(),
            request_id: parts.headers.get("x-request-id").cloned(),
            ctx,
        }
    }

    fn path(&self) -> &str {
        self.uri.path()
    }

    /// A request with what the stack reads to name an answer (id, trace, path).
    fn request(&self) -> Request<Vec<u8>> {
        let mut request = Request::new(Vec::new());
        *request.uri_mut() = self.uri.clone();
        if let Some(value) = &self.traceparent {
            request
                .headers_mut()
                .insert(aicr_stack::trace::TRACEPARENT, value.clone());
        }
        if let Some(value) = &self.request_id {
            request.headers_mut().insert("x-request-id", value.clone());
        }
        request.extensions_mut().insert(self.ctx);
        request
    }

    /// `error` as the stack would have answered it.
    fn answer(&self, error: ApiError, hsts: bool) -> Response<Vec<u8>> {
        let id = aicr_api::request_id(&self.request(), &self.ctx);
        let mut response = error.to_response_for(self.path(), &id, &self.ctx);
        self.stamp(&mut response, hsts);
        response
    }

    /// The stack's outer headers: security headers and the echoed `traceparent`.
    fn stamp(&self, response: &mut Response<Vec<u8>>, hsts: bool) {
        let trace = TraceContext::of(&self.request());
        let headers = response.headers_mut();
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(aicr_stack::API_CSP),
        );
        if hsts {
            headers.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static(aicr_stack::HSTS),
            );
        }
        if let Ok(value) = HeaderValue::from_str(&trace.traceparent()) {
            headers.insert(aicr_stack::trace::TRACEPARENT, value);
        }
        response.extensions_mut().insert(trace);
    }
}

/// The request body, at most `limit` bytes of it (the rest is left unread).
async fn read_body(mut body: Incoming, limit: usize) -> Result<Vec<u8>, hyper::Error> {
    if body.is_end_stream() {
        return Ok(Vec::new());
    }
    let hint = body.size_hint().lower().min(limit as u64) as usize;
    let mut out = Vec::with_capacity(hint);
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            let room = limit - out.len();
            out.extend_from_slice(&data[..data.len().min(room)]);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

fn is_allowed(app: &App, peer: IpAddr) -> bool {
    let peer = peer.to_canonical();
    app.settings
        .admin_allow
        .iter()
        .any(|net| net.contains(&peer))
}

impl Server {
    pub fn new(app: Arc<App>) -> Server {
        let admin = Stack::around(
            AdminRouter { app: app.clone() },
            app.policy.clone(),
            Some(aicr_stack::Gcra::default()),
            app.options,
        );
        Server { app, admin }
    }

    /// One request on `listener`, start to finish: read, answer, log, count, trace.
    async fn handle(
        self: Arc<Self>,
        listener: Listener,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let ctx = context();
        let app = &self.app;
        let in_flight = (listener == Listener::Api).then(|| app.metrics.in_flight());
        let (parts, body) = request.into_parts();
        let probe = Probe::of(&parts, ctx);
        let method = parts.method.clone();
        let deadline = tokio::time::Instant::from_std(started) + app.settings.request_timeout;
        // A catalog upload is the one request whose body may exceed the API's limit, and
        // only with an admin tenant's valid key: nobody else makes the server hold one.
        let limit = if listener == Listener::Admin
            && aicr_tenant_catalogs::routes::is_upload(&parts.method, parts.uri.path())
            && app.policy.admits_admin(&parts.headers)
        {
            aicr_tenant_catalogs::routes::UPLOAD_READ_LIMIT
        } else {
            MAX_BODY_BYTES + 1
        };
        let work = async {
            let body = match read_body(body, limit).await {
                Ok(body) => body,
                Err(e) => {
                    return probe.answer(
                        ApiError::bad_request("The request body could not be read")
                            .detail("error", aicr_api::truncate(&e.to_string())),
                        app.settings.hsts,
                    );
                }
            };
            let request = Request::from_parts(parts, body);
            let connection = Connection {
                peer: Some(peer.ip().to_canonical()),
            };
            match listener {
                Listener::Api => app.public().answer(request, ctx, connection).await,
                Listener::Admin => self.admin(request, ctx, connection, &probe).await,
            }
        };
        let mut response = match tokio::time::timeout_at(deadline, work).await {
            Ok(response) => response,
            Err(_) => probe.answer(
                ApiError::new(ErrorCode::Timeout, "Request timed out")
                    .detail("timeoutMs", app.settings.request_timeout.as_millis() as u64),
                app.settings.hsts,
            ),
        };
        let elapsed = started.elapsed();
        let path = probe.path();
        let mut record =
            AccessRecord::of(&method, path, &response, &ctx, elapsed.as_secs_f64() * 1e3);
        if listener == Listener::Admin {
            record.route = crate::admin::route_template(path);
        }
        logging::access(&record, listener.name());
        if listener == Listener::Api {
            app.metrics
                .record(&method, record.route, record.status, elapsed.as_secs_f64());
            if let (Some(otlp), Some(trace)) =
                (&app.otlp, response.extensions().get::<TraceContext>())
                && Span::wanted(trace)
            {
                otlp.export(Span {
                    trace: *trace,
                    method: crate::metrics::method_label(&method),
                    route: record.route,
                    status: record.status,
                    tenant: record.tenant,
                    request_id: record.request_id,
                    start_unix_nanos: ctx.unix_nanos,
                    end_unix_nanos: ctx.unix_nanos + elapsed.as_nanos(),
                });
            }
        }
        drop(in_flight);
        if app.draining.load(Ordering::Relaxed) {
            // Keep-alive clients reconnect, to an instance that is not going away.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        let (parts, body) = response.into_parts();
        Response::from_parts(parts, Full::new(Bytes::from(body)))
    }

    /// The admin listener: its address allowlist, `/metrics`, then the admin stack.
    async fn admin(
        &self,
        request: Request<Vec<u8>>,
        ctx: RequestContext,
        connection: Connection,
        probe: &Probe,
    ) -> Response<Vec<u8>> {
        let app = &self.app;
        let peer = connection.peer.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        if !is_allowed(app, peer) {
            return probe.answer(
                ApiError::new(
                    ErrorCode::Forbidden,
                    "The admin listener does not answer this address",
                )
                .detail("address", peer.to_string())
                .detail("error", "the address is not in AICR_ADMIN_ALLOW"),
                app.settings.hsts,
            );
        }
        if request.uri().path() == "/metrics" {
            if !matches!(*request.method(), Method::GET | Method::HEAD) {
                return probe.answer(
                    ApiError::method_not_allowed(request.method(), &["GET", "HEAD"]),
                    app.settings.hsts,
                );
            }
            return self.metrics(&request, probe);
        }
        self.admin.answer(request, ctx, connection).await
    }

    /// `/metrics` in Prometheus text.
    fn metrics(&self, request: &Request<Vec<u8>>, probe: &Probe) -> Response<Vec<u8>> {
        let app = &self.app;
        let info = app.api.catalog().info();
        let start_time_seconds = app
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let text = app.metrics.render(&crate::metrics::Identity {
            version: env!("CARGO_PKG_VERSION"),
            build: aicr_api::BUILD_IDENTITY,
            catalog_digest: &info.digest,
            start_time_seconds,
        });
        let len = text.len();
        let mut response = Response::new(if request.method() == Method::HEAD {
            Vec::new()
        } else {
            text.into_bytes()
        });
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        let id = aicr_api::request_id(&probe.request(), &probe.ctx);
        if let Ok(id) = HeaderValue::from_str(&id) {
            headers.insert("x-request-id", id);
        }
        probe.stamp(&mut response, app.settings.hsts);
        response
    }
}

/// Accepts connections on `listener` until `stop` turns true.
pub async fn accept(
    listener: TcpListener,
    which: Listener,
    server: Arc<Server>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = crate::serve::stopped(&mut stop) => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                tokio::spawn(connection(
                    stream,
                    peer,
                    which,
                    server.clone(),
                    tls.clone(),
                    stop.clone(),
                ));
            }
            Err(error) => {
                // Out of file descriptors, say: back off briefly rather than spin.
                tracing::warn!(target: "server", listener = which.name(), %error, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    which: Listener,
    server: Arc<Server>,
    tls: Option<TlsAcceptor>,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        return serve_http(TokioIo::new(stream), peer, which, server, stop).await;
    };
    let timeout = server.app.settings.header_read_timeout;
    let handshake = tokio::select! {
        done = tokio::time::timeout(timeout, acceptor.accept(stream)) => done,
        _ = crate::serve::stopped(&mut stop) => return,
    };
    match handshake {
        Ok(Ok(stream)) => serve_http(TokioIo::new(stream), peer, which, server, stop).await,
        Ok(Err(error)) => {
            tracing::debug!(target: "server", %peer, %error, "TLS handshake failed");
        }
        Err(_) => tracing::debug!(target: "server", %peer, "TLS handshake timed out"),
    }
}

async fn serve_http<I>(
    io: I,
    peer: SocketAddr,
    which: Listener,
    server: Arc<Server>,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let settings = &server.app.settings;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout)
        .max_headers(MAX_HEADERS)
        .max_header_size(MAX_HEADER_BYTES);
    let handler = server.clone();
    let service = hyper::service::service_fn(move |request| {
        let server = handler.clone();
        async move { Ok::<_, Infallible>(server.handle(which, request, peer).await) }
    });
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = crate::serve::stopped(&mut stop) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(target: "server", %peer, %error, "connection ended with an error");
    }
}

/// Polls the TLS files every `reload_every` and swaps in a changed pair that works.
pub async fn reload_tls(
    files: crate::config::TlsFiles,
    resolver: Arc<Reloading>,
    app: Arc<App>,
    mut stop: watch::Receiver<bool>,
) {
    let mut seen = tls::stamp(&files);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(files.reload_every) => {}
            _ = crate::serve::stopped(&mut stop) => return,
        }
        let now = tls::stamp(&files);
        if now == seen {
            continue;
        }
        seen = now;
        match tls::load(&files) {
            Ok(loaded) => {
                tracing::info!(target: "server", certificate_sha256 = %loaded.fingerprint,
                    "TLS certificate reloaded");
                *app.tls_fingerprint
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(loaded.fingerprint.clone());
                resolver.replace(loaded);
            }
            Err(error) => tracing::error!(target: "server", %error,
                "the changed TLS files cannot be used; the previous certificate stays in use"),
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
