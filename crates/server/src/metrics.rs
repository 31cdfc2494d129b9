//! Prometheus metrics of the public listener, in the text exposition format, with
//! upstream `aicrd`'s names where they apply so its dashboards and alerts keep working:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `aicr_http_requests_total` | counter | `method`, `path` (route template), `status` |
//! | `aicr_http_request_duration_seconds` | histogram | `method`, `path` |
//! | `aicr_http_requests_in_flight` | gauge | |
//! | `aicr_rate_limit_rejects_total` | counter | |
//! | `aicr_otlp_spans_dropped_total` | counter | (ours) spans the exporter could not queue or send |
//! | `aicr_build_info` | gauge (1) | `version`, `build`, `catalog` (digest) |
//! | `process_resident_memory_bytes`, `process_start_time_seconds` | gauge | |
//!
//! `path` is always a route template (`aicr_api::route_template`: a served path or
//! `unmatched`) and `method` one of a fixed few (else `OTHER`), so the number of series
//! stays bounded whatever clients send. Written by hand rather than with a metrics crate:
//! four families need a map under a mutex and a formatter, not a registry.

use http::Method;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Histogram bounds in seconds: upstream's (Prometheus' defaults) preceded by finer ones,
/// since most answers here take well under 5 ms.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Families {
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    durations: BTreeMap<(&'static str, &'static str), Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    families: Mutex<Families>,
    in_flight: AtomicI64,
    rate_limit_rejects: AtomicU64,
    spans_dropped: AtomicU64,
    /// Tenant catalog selections by [`CATALOG_LOOKUPS`] result.
    catalog_lookups: [AtomicU64; 5],
}

/// The results a tenant's catalog selection is counted under: found here, loaded from the
/// store, waited for another request's load, answered stale, no catalog of its own.
pub const CATALOG_LOOKUPS: [&str; 5] = ["hit", "miss", "coalesced", "stale", "embedded"];

/// A label for `method` from a fixed set.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "OTHER",
    }
}

/// Counts a request in flight until dropped.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What the exposition adds besides the counters: identity and process facts.
pub struct Identity<'a> {
    pub version: &'a str,
    pub build: &'a str,
    pub catalog_digest: &'a str,
    pub start_time_seconds: f64,
}

impl Metrics {
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self)
    }

    /// Records one answered request.
    pub fn record(&self, method: &Method, route: &'static str, status: u16, seconds: f64) {
        let method = method_label(method);
        if status == 429 {
            self.rate_limit_rejects.fetch_add(1, Ordering::Relaxed);
        }
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        *families
            .requests
            .entry((method, route, status))
            .or_default() += 1;
        let histogram = families.durations.entry((method, route)).or_default();
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            histogram.counts[i] += 1;
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }

    /// Counts one tenant's catalog selection (`result` one of [`CATALOG_LOOKUPS`]).
    pub fn catalog_lookup(&self, result: &str) {
        if let Some(i) = CATALOG_LOOKUPS.iter().position(|r| *r == result) {
            self.catalog_lookups[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn span_dropped(&self, n: u64) {
        self.spans_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// The text exposition (format 0.0.4).
    pub fn render(&self, identity: &Identity<'_>) -> String {
        let mut out = String::with_capacity(4096);
        let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP aicr_http_requests_total HTTP requests answered, by method, route template and status.\n\
             # TYPE aicr_http_requests_total counter\n",
        );
        for ((method, path, status), n) in &families.requests {
            let _ = writeln!(
                out,
                "aicr_http_requests_total{{method=\"{method}\",path=\"{path}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP aicr_http_request_duration_seconds Time from request to answer, by method and route template.\n\
             # TYPE aicr_http_request_duration_seconds histogram\n",
        );
        for ((method, path), h) in &families.durations {
            let labels = format!("method=\"{method}\",path=\"{path}\"");
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "aicr_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "aicr_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 aicr_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 aicr_http_request_duration_seconds_count{{{labels}}} {}",
                h.count, h.sum, h.count
            );
        }
        drop(families);
        out.push_str(
            "# HELP aicr_catalog_lookups_total Tenant catalog selections, by result (hit, miss, coalesced, stale, embedded).\n\
             # TYPE aicr_catalog_lookups_total counter\n",
        );
        for (result, n) in CATALOG_LOOKUPS.iter().zip(&self.catalog_lookups) {
            let _ = writeln!(
                out,
                "aicr_catalog_lookups_total{{result=\"{result}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = write!(
            out,
            "# HELP aicr_http_requests_in_flight HTTP requests being answered.\n\
             # TYPE aicr_http_requests_in_flight gauge\n\
             aicr_http_requests_in_flight {}\n\
             # HELP aicr_rate_limit_rejects_total Requests refused by a rate limit (429).\n\
             # TYPE aicr_rate_limit_rejects_total counter\n\
             aicr_rate_limit_rejects_total {}\n\
             # HELP aicr_otlp_spans_dropped_total Spans not exported: queue full or collector unreachable.\n\
             # TYPE aicr_otlp_spans_dropped_total counter\n\
             aicr_otlp_spans_dropped_total {}\n\
             # HELP aicr_build_info The running build: version, engine build identity, catalog digest.\n\
             # TYPE aicr_build_info gauge\n\
             aicr_build_info{{version=\"{}\",build=\"{}\",catalog=\"{}\"}} 1\n\
             # HELP process_start_time_seconds Start time of the process since the Unix epoch.\n\
             # TYPE process_start_time_seconds gauge\n\
             process_start_time_seconds {}\n",
            self.in_flight.load(Ordering::Relaxed),
            self.rate_limit_rejects.load(Ordering::Relaxed),
            self.spans_dropped.load(Ordering::Relaxed),
            identity.version,
            identity.build,
            identity.catalog_digest,
            identity.start_time_seconds,
        );
        if let Some(bytes) = resident_bytes() {
            let _ = write!(
                out,
                "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
                 # TYPE process_resident_memory_bytes gauge\n\
                 process_resident_memory_bytes {bytes}\n"
            );
        }
        out
    }
}

/// The process's resident set from `/proc/self/status` (Linux), in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_upstreams_names_and_cumulative_buckets() {
        let m = Metrics::default();
        {
            let _a = m.in_flight();
            m.record(&Method::GET, "/v1/recipe", 200, 0.0003);
            m.record(&Method::GET, "/v1/recipe", 200, 0.002);
            m.record(
                &Method::from_bytes(b"BREW").unwrap(),
                "unmatched",
                429,
                0.0001,
            );
        }
        let text = m.render(&Identity {
            version: "0.1.0",
            build: "abc",
            catalog_digest: "sha256:x",
            start_time_seconds: 1.0,
        });
        assert!(text.contains(
            "aicr_http_requests_total{method=\"GET\",path=\"/v1/recipe\",status=\"200\"} 2"
        ));
        assert!(text.contains("method=\"OTHER\",path=\"unmatched\",status=\"429\"} 1"));
        assert!(text.contains(
            "aicr_http_request_duration_seconds_bucket{method=\"GET\",path=\"/v1/recipe\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "aicr_http_request_duration_seconds_bucket{method=\"GET\",path=\"/v1/recipe\",le=\"+Inf\"} 2"
        ));
        assert!(text.contains("aicr_http_requests_in_flight 0\n"));
        assert!(text.contains("aicr_rate_limit_rejects_total 1\n"));
        assert!(
            text.contains(
                "aicr_build_info{version=\"0.1.0\",build=\"abc\",catalog=\"sha256:x\"} 1"
            )
        );
    }
}
