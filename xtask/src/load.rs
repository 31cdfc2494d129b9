//! HTTP load on loopback with `wrk` (Debian), for the bench: one fixed load for every
//! server so their figures compare within one run, and the parse of wrk's report.

use crate::install::apt_install;
use crate::steps::Result;
use std::process::Command;

/// The recipe request every load, profile and smoke check of a server uses.
pub const RECIPE: &str = "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";
/// The query request of the loads: a deep selector on the same recipe.
pub const QUERY: &str = "/v1/query?service=eks&accelerator=h100&os=ubuntu&intent=training&selector=components.gpu-operator.values.driver.version";

/// wrk's threads, connections and seconds: the load the figures were taken with.
pub const THREADS: u32 = 2;
pub const CONNECTIONS: u32 = 32;
pub const SECONDS: u32 = 10;

/// What one load run measured.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub requests_per_second: f64,
    pub p50_ns: f64,
    pub p99_ns: f64,
}

impl Load {
    /// Server time per request if the server is one busy thread (workerd runs a worker's
    /// requests on one): 1 / throughput.
    pub fn cost_ns(&self) -> f64 {
        1e9 / self.requests_per_second
    }
}

/// The load description for notes.
pub fn describe() -> String {
    format!("wrk -t{THREADS} -c{CONNECTIONS} -d{SECONDS}s, 127.0.0.1")
}

/// Runs the load against `url` after a one-second warm-up (so runtimes have compiled
/// what they compile lazily). Any non-2xx answer or socket error fails the run: a fast
/// error is not a fast answer.
pub fn run(url: &str) -> Result<Load> {
    apt_install(&["wrk"])?;
    let wrk = |args: &[String]| -> Result<String> {
        let out = Command::new("timeout")
            .arg((SECONDS + 10).to_string())
            .arg("wrk")
            .args(args)
            .arg(url)
            .output()
            .map_err(|e| format!("wrk: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "wrk {url} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    };
    wrk(&["-t1".into(), "-c1".into(), "-d1s".into()])?;
    let text = wrk(&[
        format!("-t{THREADS}"),
        format!("-c{CONNECTIONS}"),
        format!("-d{SECONDS}s"),
        "--latency".into(),
    ])?;
    parse(&text).map_err(|e| format!("{url}: {e}\n{text}"))
}

fn parse(text: &str) -> Result<Load> {
    if let Some(line) = text
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!("wrk saw errors: {}", line.trim()));
    }
    let field = |prefix: &str| -> Result<&str> {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
            .ok_or_else(|| format!("wrk printed no {prefix:?} line"))
    };
    let latency = |prefix: &str| -> Result<f64> {
        let raw = field(prefix)?;
        duration_ns(raw).ok_or_else(|| format!("wrk {prefix} {raw:?}: unknown duration"))
    };
    Ok(Load {
        requests_per_second: field("Requests/sec:")?
            .parse()
            .map_err(|e| format!("wrk Requests/sec: {e}"))?,
        p50_ns: latency("50%")?,
        p99_ns: latency("99%")?,
    })
}

/// wrk's latency text (`850.12us`, `1.23ms`, `2.00s`) in nanoseconds.
fn duration_ns(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return None,
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_wrks_report() {
        let report = "Running 10s test @ http://127.0.0.1:1/\n  Latency Distribution\n     50%  697.00us\n     75%    1.10ms\n     90%    2.00ms\n     99%    1.20s\n  210000 requests in 10.00s, 1.00MB read\nRequests/sec:  21000.86\nTransfer/sec:      1.00MB\n";
        let load = super::parse(report).unwrap();
        assert_eq!(load.requests_per_second, 21000.86);
        assert_eq!(load.p50_ns, 697_000.0);
        assert_eq!(load.p99_ns, 1.2e9);
        let failed = format!("{report}  Non-2xx or 3xx responses: 5\n");
        assert!(super::parse(&failed).is_err());
    }
}
