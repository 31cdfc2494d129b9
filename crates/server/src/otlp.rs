//! OTLP/HTTP export of one server span per request, when `AICR_OTLP_ENDPOINT` is set.
//!
//! The stack already continues or starts the request's W3C trace ([`TraceContext`]); this
//! sends the span it names to a collector as OTLP/HTTP JSON (`POST {endpoint}/v1/traces`),
//! so the request shows up in the caller's trace. Spans of a continued trace are sent when
//! the caller sampled it (the `traceparent` flag); spans that start a trace here always
//! are.
//!
//! Requests never wait for the exporter: a span goes into a bounded queue
//! ([`QUEUE`] spans) with `try_send`, and a full queue drops it (counted in
//! `aicr_otlp_spans_dropped_total`). One task sends batches of up to [`BATCH`] spans at
//! least every [`INTERVAL`], each over a fresh connection with a timeout; a collector that
//! is down costs dropped spans and one log line, never latency. At shutdown the queue is
//! sent once more, within a bounded time.
//!
//! Our own exporter rather than `opentelemetry-otlp`: that crate brings the OpenTelemetry
//! SDK and an HTTP client stack (reqwest or tonic) to send what is one JSON document built
//! from data the stack already has; here it is hyper's client, which the server links
//! anyway, and about two hundred lines. Plain `http://` only: the collector is expected
//! beside the server (a sidecar, a node agent, an in-cluster service behind the mesh's
//! mTLS).

use crate::config::OtlpEndpoint;
use crate::metrics::Metrics;
use aicr_stack::TraceContext;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout, timeout_at};

/// Most spans waiting to be sent.
pub const QUEUE: usize = 4096;
/// Most spans in one request to the collector.
pub const BATCH: usize = 512;
/// Longest a span waits before its batch is sent.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Longest one send may take (connect, request, answer).
const SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// One answered request as a span.
#[derive(Debug, Clone)]
pub struct Span {
    pub trace: TraceContext,
    pub method: &'static str,
    pub route: &'static str,
    pub status: u16,
    pub tenant: String,
    pub request_id: String,
    pub start_unix_nanos: u128,
    pub end_unix_nanos: u128,
}

impl Span {
    /// Whether the span is exported: a trace started here, or one the caller sampled.
    pub fn wanted(trace: &TraceContext) -> bool {
        trace.parent_id.is_none() || trace.sampled
    }

    fn to_json(&self) -> Value {
        let string = |key: &str, value: &str| json!({"key": key, "value": {"stringValue": value}});
        let mut span = json!({
            "traceId": self.trace.trace_id_hex(),
            "spanId": self.trace.span_id_hex(),
            "name": format!("{} {}", self.method, self.route),
            "kind": 2,
            "startTimeUnixNano": self.start_unix_nanos.to_string(),
            "endTimeUnixNano": self.end_unix_nanos.to_string(),
            "attributes": [
                string("http.request.method", self.method),
                string("http.route", self.route),
                {"key": "http.response.status_code", "value": {"intValue": self.status.to_string()}},
                string("aicr.tenant", &self.tenant),
                string("aicr.request_id", &self.request_id),
            ],
            // Server spans are errors for 5xx only (OpenTelemetry's HTTP conventions).
            "status": {"code": if self.status >= 500 { 2 } else { 0 }},
        });
        if let Some(parent) = self.trace.parent_id {
            span["parentSpanId"] = hex::encode(parent).into();
        }
        span
    }
}

/// The OTLP/HTTP JSON request body for `spans`.
pub fn document(spans: &[Span]) -> Value {
    json!({
        "resourceSpans": [{
            "resource": {"attributes": [
                {"key": "service.name", "value": {"stringValue": "aicr-server"}},
                {"key": "service.version", "value": {"stringValue": env!("CARGO_PKG_VERSION")}},
            ]},
            "scopeSpans": [{
                "scope": {"name": "aicr-server", "version": env!("CARGO_PKG_VERSION")},
                "spans": spans.iter().map(Span::to_json).collect::<Vec<_>>(),
            }],
        }],
    })
}

/// The requests' side: queue a span, never wait.
pub struct Exporter {
    queue: mpsc::Sender<Span>,
    metrics: Arc<Metrics>,
}

impl Exporter {
    /// Starts the sending task; it ends once `stop` turns true and the queue is sent.
    pub fn start(
        endpoint: OtlpEndpoint,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> (Exporter, tokio::task::JoinHandle<()>) {
        let (queue, spans) = mpsc::channel(QUEUE);
        let task = tokio::spawn(send_loop(endpoint, spans, metrics.clone(), stop));
        (Exporter { queue, metrics }, task)
    }

    pub fn export(&self, span: Span) {
        if self.queue.try_send(span).is_err() {
            self.metrics.span_dropped(1);
        }
    }
}

async fn send_loop(
    endpoint: OtlpEndpoint,
    mut spans: mpsc::Receiver<Span>,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failing = false;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let first = tokio::select! {
            span = spans.recv() => span,
            _ = crate::serve::stopped(&mut stop) => {
                // No new spans; what is queued is received below, then None.
                spans.close();
                spans.recv().await
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        let deadline = Instant::now() + INTERVAL;
        while batch.len() < BATCH {
            match timeout_at(deadline, spans.recv()).await {
                Ok(Some(span)) => batch.push(span),
                Ok(None) | Err(_) => break,
            }
        }
        let body = serde_json::to_vec(&document(&batch)).unwrap_or_default();
        match post(&endpoint, body).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!(target: "otlp", "spans are reaching the collector again");
            }
            Ok(()) => {}
            Err(error) => {
                metrics.span_dropped(batch.len() as u64);
                if !failing {
                    failing = true;
                    tracing::warn!(target: "otlp", %error, host = %endpoint.host, port = endpoint.port,
                        "spans cannot be sent; dropping them until the collector answers");
                }
            }
        }
        batch.clear();
    }
}

/// One POST of a JSON body to the collector, over a fresh connection.
async fn post(endpoint: &OtlpEndpoint, body: Vec<u8>) -> Result<(), String> {
    let send = async {
        let stream = tokio::net::TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let driver = tokio::spawn(connection);
        let authority = if endpoint.host.contains(':') {
            format!("[{}]:{}", endpoint.host, endpoint.port)
        } else {
            format!("{}:{}", endpoint.host, endpoint.port)
        };
        let request = http::Request::post(endpoint.path.as_str())
            .header(http::header::HOST, authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        driver.abort();
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the collector answered {}", response.status()))
        }
    };
    timeout(SEND_TIMEOUT, send)
        .await
        .map_err(|_| format!("no answer within {} s", SEND_TIMEOUT.as_secs()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_otlp_json_with_hex_ids() {
        let trace = TraceContext {
            trace_id: [0xab; 16],
            parent_id: Some([1; 8]),
            span_id: [2; 8],
            sampled: true,
        };
        let doc = document(&[Span {
            trace,
            method: "GET",
            route: "/v1/recipe",
            status: 503,
            tenant: "anonymous".into(),
            request_id: "r".into(),
            start_unix_nanos: 1,
            end_unix_nanos: 2,
        }]);
        let span = &doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "ab".repeat(16));
        assert_eq!(span["parentSpanId"], "0101010101010101");
        assert_eq!(span["spanId"], "0202020202020202");
        assert_eq!(span["name"], "GET /v1/recipe");
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["endTimeUnixNano"], "2");
        assert!(Span::wanted(&trace));
        let unsampled = TraceContext {
            sampled: false,
            ..trace
        };
        assert!(!Span::wanted(&unsampled));
        assert!(Span::wanted(&TraceContext {
            parent_id: None,
            ..unsampled
        }));
    }
}
