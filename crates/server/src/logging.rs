//! Logs: one JSON object a line on stderr (tracing-subscriber's JSON format, fields at the
//! top level), at a level the admin API can change while the server runs.
//!
//! Every answered request is one `info` line with target `access`, built from
//! [`aicr_stack::AccessRecord`]: request id, trace and span id, tenant, method, route
//! template, status, latency and bytes. The record holds no key, body or query string, so
//! no log line can. Admin changes are `info` lines with target `admin` naming the tenant
//! that made them.

use crate::config::level_name;
use aicr_stack::AccessRecord;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Registry, fmt, reload};

/// Reads and changes the level of the running subscriber.
#[derive(Clone)]
pub struct LogControl {
    handle: reload::Handle<LevelFilter, Registry>,
}

impl LogControl {
    /// Installs the subscriber at `level` as the process's default.
    pub fn init(level: LevelFilter) -> LogControl {
        let (filter, handle) = reload::Layer::new(level);
        let json = fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stderr);
        // Fails only if a subscriber is already installed, which nothing else does.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(json)
            .try_init();
        LogControl { handle }
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
        requestId = %record.request_id,
        traceId = %record.trace_id,
        spanId = %record.span_id,
        tenant = %record.tenant,
        method = %record.method,
        route = record.route,
        status = record.status,
        latencyMs = record.latency_ms,
        bytes = record.bytes,
        "request"
    );
}
