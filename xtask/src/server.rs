//! The native server (`crates/server`): its test step and its bench rows.
//!
//! The tests start the real binary on loopback (`cargo test -p aicr-server`); the bench
//! runs the release build — what the image ships — under the same wrk load as upstream's
//! `aicrd` when its binary is given (`--aicrd PATH`), taking turns in the same run (each
//! figure the median of [`ROUNDS`] loads), and reports each figure as a ratio to aicrd's
//! beside the target:
//!
//! - `GET /v1/recipe` and a deep `/v1/query`: req/s and p99 (targets: ≥ 5× aicrd's recipe
//!   throughput with p99 ≤ 5 ms, ≥ 50× on query);
//! - peak resident memory over both loads (`VmHWM`; target ≤ 20 MB);
//! - exec to the first answer on `/health`, the median of [`STARTS`] starts (≤ 20 ms).

use crate::load;
use crate::load::{QUERY, RECIPE};
use crate::steps::{self, Result, Row, cargo, file_len, root};
use aicr_worker_e2e::free_port;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Test step: every test of the server crate, the binary on loopback included.
pub fn tests() -> Result {
    steps::run(cargo().args(["test", "-p", "aicr-server"]))
}

/// Starts measured for the exec → first answer figure.
const STARTS: usize = 7;
/// Load runs per server and path; the table shows their medians.
const ROUNDS: usize = 3;
/// Longest a server may take to answer its first request.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The release binary, built now (incrementally).
fn release_binary() -> Result<PathBuf> {
    steps::run(cargo().args(["build", "--release", "-p", "aicr-server"]))?;
    Ok(root().join("target/release/aicr-server"))
}

/// A server under measurement; killed when dropped.
struct Running {
    child: Child,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn url(&self, target: &str) -> String {
        format!("http://127.0.0.1:{}{target}", self.port)
    }

    /// Peak resident set of the process so far, in bytes (`VmHWM`).
    fn peak_rss(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|e| format!("/proc/{}/status: {e}", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|kib| kib * 1024.0)
            .ok_or_else(|| format!("no VmHWM in /proc/{}/status", self.child.id()))
    }
}

/// Whether `GET /health` on `port` answers 200 now.
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Starts `binary` as `name` on a free port with the variables each server reads, and
/// returns it once it answers, with the time from exec to that first answer.
fn start(binary: &Path, name: &str) -> Result<(Running, Duration)> {
    let port = free_port()?;
    let logs = root().join("target/server-bench");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let log = std::fs::File::create(logs.join(format!("{name}.log")))
        .map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut cmd = Command::new(binary);
    cmd.env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(log);
    if name == "aicr-server" {
        cmd.env("AICR_ADMIN_PORT", free_port()?.to_string());
    }
    let started = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let mut running = Running { child, port };
    while !answers(port) {
        if let Ok(Some(status)) = running.child.try_wait() {
            return Err(format!(
                "{name} exited ({status}); see target/server-bench/{name}.log"
            ));
        }
        if started.elapsed() > START_LIMIT {
            return Err(format!(
                "{name} did not answer /health within {START_LIMIT:?}"
            ));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let first_answer = started.elapsed();
    Ok((running, first_answer))
}

/// What one server did under the bench.
struct Measured {
    name: &'static str,
    recipe: load::Load,
    query: load::Load,
    peak_rss: f64,
    first_answer: Duration,
}

/// The median of each figure over the rounds (this machine is shared: one slow round
/// moves a median less than a mean).
fn median(loads: &[load::Load]) -> load::Load {
    let pick = |f: fn(&load::Load) -> f64| {
        let mut values: Vec<f64> = loads.iter().map(f).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    load::Load {
        requests_per_second: pick(|l| l.requests_per_second),
        p50_ns: pick(|l| l.p50_ns),
        p99_ns: pick(|l| l.p99_ns),
    }
}

/// The median exec → first answer over [`STARTS`] starts.
fn first_answer(binary: &Path, name: &str) -> Result<Duration> {
    let mut starts = Vec::with_capacity(STARTS);
    for _ in 0..STARTS {
        let (running, first_answer) = start(binary, name)?;
        starts.push(first_answer);
        drop(running);
    }
    starts.sort();
    Ok(starts[STARTS / 2])
}

/// Each server under each load, [`ROUNDS`] times, the servers taking turns within a
/// round so both meet the same moments of a shared machine.
fn measure_all(servers: &[(&Path, &'static str)]) -> Result<Vec<Measured>> {
    let mut running = Vec::new();
    for (binary, name) in servers {
        running.push((start(binary, name)?.0, *name));
    }
    let mut loads: Vec<[Vec<load::Load>; 2]> = servers.iter().map(|_| Default::default()).collect();
    for _ in 0..ROUNDS {
        for (i, (server, name)) in running.iter().enumerate() {
            for (slot, (path, target)) in [("recipe", RECIPE), ("query", QUERY)].iter().enumerate()
            {
                let load = load::run(&server.url(target))?;
                eprintln!("{name} {path}: {:.0} req/s", load.requests_per_second);
                loads[i][slot].push(load);
            }
        }
    }
    let mut measured = Vec::new();
    for (((server, name), [recipe, query]), (binary, _)) in running.iter().zip(&loads).zip(servers)
    {
        measured.push(Measured {
            name,
            recipe: median(recipe),
            query: median(query),
            peak_rss: server.peak_rss()?,
            first_answer: first_answer(binary, name)?,
        });
    }
    Ok(measured)
}

/// "2.50× aicrd (target ≥ 5×)" when aicrd was measured.
fn versus(ours: f64, theirs: Option<f64>, what: &str, target: &str) -> String {
    match theirs {
        Some(t) if t > 0.0 => format!("; {:.2}× aicrd's {what} ({target})", ours / t),
        _ => format!("; {target}"),
    }
}

pub fn bench_rows(aicrd: Option<&Path>) -> Result<Vec<Row>> {
    let binary = release_binary()?;
    let mut servers = vec![(binary.as_path(), "aicr-server")];
    servers.extend(aicrd.map(|path| (path, "aicrd")));
    let mut measured = measure_all(&servers)?.into_iter();
    let ours = measured.next().ok_or("aicr-server was not measured")?;
    let upstream = measured.next();
    let mut rows = Vec::new();
    for m in std::iter::once(&ours).chain(upstream.as_ref()) {
        let theirs = upstream.as_ref().filter(|_| m.name == "aicr-server");
        let target = |t: &str| {
            if m.name == "aicr-server" {
                t.to_owned()
            } else {
                String::new()
            }
        };
        for (path, load, other, goal) in [
            (
                "recipe",
                m.recipe,
                theirs.map(|t| t.recipe),
                "target ≥ 5×, p99 ≤ 5 ms",
            ),
            ("query", m.query, theirs.map(|t| t.query), "target ≥ 50×"),
        ] {
            let mut note = format!(
                "median of {ROUNDS}: p50 {:.2} ms, p99 {:.2} ms",
                load.p50_ns / 1e6,
                load.p99_ns / 1e6
            );
            if m.name == "aicr-server" {
                note += &versus(
                    load.requests_per_second,
                    other.map(|o| o.requests_per_second),
                    "req/s",
                    goal,
                );
            }
            rows.push(Row {
                name: format!("{}: GET {path} throughput", m.name),
                value: load.requests_per_second,
                unit: "req/s",
                note: format!("{note} ({})", load::describe()),
            });
        }
        rows.push(Row {
            name: format!("{}: peak RSS under that load", m.name),
            value: m.peak_rss / 1e6,
            unit: "MB",
            note: match theirs {
                Some(t) => format!(
                    "aicrd {:.1} MB, {:.2}× ({})",
                    t.peak_rss / 1e6,
                    m.peak_rss / t.peak_rss,
                    target("target ≤ 20 MB")
                ),
                None => target("target ≤ 20 MB"),
            },
        });
        rows.push(Row {
            name: format!("{}: exec → first answer", m.name),
            value: m.first_answer.as_secs_f64() * 1e3,
            unit: "ms",
            note: match theirs {
                Some(t) => format!(
                    "median of {STARTS}; aicrd {:.1} ms ({})",
                    t.first_answer.as_secs_f64() * 1e3,
                    target("target ≤ 20 ms")
                ),
                None => format!("median of {STARTS}; {}", target("target ≤ 20 ms")),
            },
        });
    }
    rows.push(Row {
        name: "aicr-server binary (release, stripped)".into(),
        value: file_len(&binary)? as f64 / 1e6,
        unit: "MB",
        note: match aicrd {
            Some(path) => format!("aicrd {:.1} MB", file_len(path)? as f64 / 1e6),
            None => String::new(),
        },
    });
    Ok(rows)
}
