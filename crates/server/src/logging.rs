//! Logs: one JSON object a line on stderr (tracing-subscriber's JSON format, fields at the
//! top level), at a level the admin API can change while the server runs.
//!
//! Every answered request is one `info` line with target `access`, built from
//! [`aicr_stack::AccessRecord`]: request id, trace and span id, tenant, method, route
//! template, status, latency and bytes. The record holds no key, body or query string, so
//! no log line can. Admin changes are `info` lines with target `admin` naming the tenant
//! that made them.
//!
//! Lines are written in batches: an `info` line goes into a buffer that a background
//! thread writes out every [`FLUSH_EVERY`] (or sooner once [`FLUSH_BYTES`] wait), so a
//! request costs no system call for its log line (measured: a third of the server's CPU
//! per memoised answer went to one `write(2)` per line). Warnings and errors are written
//! at once, after what is buffered, so nothing is reordered and nothing that says why the
//! process stops is left behind; the buffer is also written when the process exits.

use crate::config::level_name;
use aicr_stack::AccessRecord;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Registry, fmt, reload};

/// Longest a buffered line waits.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Buffered bytes that are written at once.
pub const FLUSH_BYTES: usize = 64 * 1024;

/// The buffer of lines not yet written, and the lock that orders writes to stderr.
#[derive(Default)]
struct Sink {
    pending: Mutex<Vec<u8>>,
    writing: Mutex<()>,
}

impl Sink {
    /// Writes what is buffered, then `also`, in that order.
    fn flush_then(&self, also: &[u8]) {
        let _order = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut stderr = std::io::stderr().lock();
        // Nothing to do when stderr is gone; the server goes on answering.
        let _ = stderr.write_all(&pending);
        let _ = stderr.write_all(also);
        let _ = stderr.flush();
    }

    fn buffer(&self, line: &[u8]) {
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            pending.extend_from_slice(line);
            pending.len() >= FLUSH_BYTES
        };
        if full {
            self.flush_then(&[]);
        }
    }
}

/// tracing-subscriber's writer: buffered below `warn`, direct from `warn` up.
#[derive(Clone)]
struct SinkWriter {
    sink: Arc<Sink>,
    direct: bool,
}

impl Write for SinkWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        if self.direct {
            self.sink.flush_then(line);
        } else {
            self.sink.buffer(line);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Clone)]
struct MakeSink(Arc<Sink>);

impl<'a> MakeWriter<'a> for MakeSink {
    type Writer = SinkWriter;

    fn make_writer(&'a self) -> SinkWriter {
        SinkWriter {
            sink: self.0.clone(),
            direct: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> SinkWriter {
        SinkWriter {
            sink: self.0.clone(),
            direct: *meta.level() <= Level::WARN,
        }
    }
}

/// Reads and changes the level of the running subscriber.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<LevelFilter, Registry>,
    sink: Arc<Sink>,
}

impl LogControl {
    /// Installs the subscriber at `level` as the process's default, and the thread that
    /// writes buffered lines.
    pub fn init(level: LevelFilter) -> LogControl {
        let (filter, handle) = reload::Layer::new(level);
        let sink = Arc::new(Sink::default());
        let json = fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(MakeSink(sink.clone()));
        let flusher = sink.clone();
        // If the thread cannot start, lines are still written once the buffer fills and
        // at exit.
        let _ = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    flusher.flush_then(&[]);
                }
            });
        // Fails only if a subscriber is already installed, which nothing else does.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(json)
            .try_init();
        LogControl { handle, sink }
    }

    /// Writes every buffered line now (at exit, and once the server is up).
    pub fn flush(&self) {
        self.sink.flush_then(&[]);
    }

    pub fn level(&self) -> &'static str {
        self.handle.clone_current().map_or("info", level_name)
    }

    /// Sets the level; the previous one is returned.
    pub fn set_level(&self, level: LevelFilter) -> Result<&'static str, String> {
        let previous = self.level();
        self.handle
            .reload(level)
            .map_err(|e| format!("the log level cannot be changed: {e}"))?;
        Ok(previous)
    }
}

/// Writes the access line of one answered request; `listener` says which (`api`, `admin`).
pub fn access(record: &AccessRecord, listener: &'static str) {
    tracing::info!(
        target: "access",
        listener,
        requestId = record.request_id.as_str(),
        traceId = record.trace_id.as_str(),
        spanId = record.span_id.as_str(),
        tenant = record.tenant.as_str(),
        method = record.method.as_str(),
        route = record.route,
        status = record.status,
        latencyMs = record.latency_ms,
        bytes = record.bytes,
        "request"
    );
}
