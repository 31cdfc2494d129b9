//! Test steps with HAProxy (Debian's) in front of real aicr-server processes on 127.0.0.1,
//! using the shipped configs (deploy/haproxy/*.cfg, addresses from the environment) and the
//! shipped deploy/blue-green.sh, and the same static binary the image holds.
//!
//! Fault run: three servers behind deploy/haproxy/aicr.cfg, a bounded wrk run (10 s, 16
//! connections); 3 s in, one server is SIGKILLed, 2 s later another gets SIGTERM (it
//! drains: /ready 503 while it still serves, then finishes what it has and exits 0). Every
//! request must succeed: wrk's non-2xx/3xx count and socket errors must be 0. What makes
//! that true is HAProxy's, as a user would configure it: health checks on /ready take the
//! draining server out before it stops accepting, and retries with redispatch resend a
//! request that met the killed one. The run reports how many retries it took.
//!
//! Blue-green: the script passes shellcheck; then three servers per colour behind
//! deploy/haproxy/blue-green.cfg, and the script switches blue → green and back, refuses
//! a green that fails its smoke check (a misconfigured allowlist: its recipe answers 400),
//! and rolls back a green with one such server of three, whose preview check happened to
//! meet good ones (the test lines up HAProxy's round robin so that it does) and whose live
//! check did not. The script's kubectl mode runs too, against deploy/check/fake-kubectl
//! (the cluster's objects as files, port-forwards to real servers), with the same three
//! outcomes.

use crate::install::{self, HAPROXY_PACKAGES};
use crate::steps::{Result, root};
use aicr_worker_e2e::free_port;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Seconds a SIGTERMed server keeps answering with /ready at 503 before it stops accepting.
const DRAIN_SECONDS: u64 = 2;

/// The folder for logs, sockets and map files of these runs.
fn scratch() -> Result<PathBuf> {
    let dir = root().join("target/haproxy");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// A local process with its output in a log file; killed (its process group) when dropped.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &str, mut cmd: Command) -> Result<Process> {
        let log = scratch()?.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        Ok(Process {
            name: name.to_owned(),
            child,
            log,
        })
    }

    fn signal(&self, signal: i32) -> Result {
        let pid = i32::try_from(self.child.id()).map_err(|e| e.to_string())?;
        // SAFETY: kill(2) on our own child's pid; it touches no memory of ours.
        if unsafe { libc::kill(pid, signal) } == 0 {
            Ok(())
        } else {
            Err(format!(
                "kill({pid}, {signal}) for {}: {}",
                self.name,
                std::io::Error::last_os_error()
            ))
        }
    }

    fn wait_exit(&mut self, within: Duration) -> Result<ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            if start.elapsed() > within {
                return Err(format!("{} did not exit within {within:?}", self.name));
            }
            sleep(Duration::from_millis(50));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: as in `signal`, for the process group the child leads.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
        }
        let _ = self.child.wait();
    }
}

/// One aicr-server on 127.0.0.1 (its admin listener too), answering /health.
struct Server {
    process: Process,
    port: u16,
    admin: u16,
}

impl Server {
    fn start(binary: &Path, name: &str, port: u16, env: &[(&str, &str)]) -> Result<Server> {
        let admin = free_port()?;
        let mut cmd = Command::new(binary);
        cmd.env("PORT", port.to_string())
            .env("AICR_BIND", "127.0.0.1")
            .env("AICR_ADMIN_PORT", admin.to_string())
            .env("AICR_DRAIN_SECONDS", DRAIN_SECONDS.to_string())
            .envs(env.iter().copied());
        let mut process = Process::spawn(name, cmd)?;
        let agent = agent();
        let start = Instant::now();
        while agent
            .get(&format!("http://127.0.0.1:{port}/health"))
            .call()
            .is_err()
        {
            if let Some(status) = process.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!("{name} exited ({status}):\n{}", process.log_tail()));
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "{name} answered no /health in 20 s:\n{}",
                    process.log_tail()
                ));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(Server {
            process,
            port,
            admin,
        })
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(5))
        .build()
}

/// HAProxy running a shipped config, with its runtime API on a socket.
struct Haproxy {
    process: Process,
    socket: PathBuf,
}

impl Haproxy {
    fn start(name: &str, config: &str, env: &[(String, String)]) -> Result<Haproxy> {
        let socket = scratch()?.join(format!("{name}.sock"));
        let _ = std::fs::remove_file(&socket);
        let mut cmd = Command::new("haproxy");
        cmd.arg("-db")
            .arg("-f")
            .arg(root().join(config))
            .env("AICR_HAPROXY_SOCKET", &socket)
            .envs(env.iter().map(|(k, v)| (k, v)));
        let mut process = Process::spawn(name, cmd)?;
        let start = Instant::now();
        while UnixStream::connect(&socket).is_err() {
            if let Some(status) = process.child.try_wait().map_err(|e| e.to_string())? {
                return Err(format!(
                    "haproxy exited ({status}):\n{}",
                    process.log_tail()
                ));
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("haproxy opened no {} in 10 s", socket.display()));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(Haproxy { process, socket })
    }

    /// One runtime API command; its answer.
    fn command(&self, line: &str) -> Result<String> {
        let mut stream = UnixStream::connect(&self.socket)
            .map_err(|e| format!("{}: {e}", self.socket.display()))?;
        stream
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .map_err(|e| e.to_string())?;
        Ok(answer)
    }

    /// `show stat` rows of one backend's servers: (server, status, sessions total,
    /// retries, redispatches).
    fn servers(&self, backend: &str) -> Result<Vec<Stat>> {
        let csv = self.command("show stat")?;
        let header: Vec<&str> = csv
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .ok_or_else(|| format!("show stat: no header in {csv:.200}"))?
            .split(',')
            .collect();
        let column = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| format!("show stat has no {name} column"))
        };
        let (px, sv, status, stot, wretr, wredis) = (
            column("pxname")?,
            column("svname")?,
            column("status")?,
            column("stot")?,
            column("wretr")?,
            column("wredis")?,
        );
        let number = |s: &str| s.parse::<u64>().unwrap_or(0);
        Ok(csv
            .lines()
            .skip(1)
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| {
                f.len() > wredis && f[px] == backend && !["FRONTEND", "BACKEND"].contains(&f[sv])
            })
            .map(|f| Stat {
                server: f[sv].to_owned(),
                status: f[status].to_owned(),
                sessions: number(f[stot]),
                retries: number(f[wretr]),
                redispatches: number(f[wredis]),
            })
            .collect())
    }

    /// Waits until each of `servers` in `backend` has `status` (UP or DOWN).
    fn wait_for(&self, backend: &str, servers: &[&str], status: &str) -> Result {
        let start = Instant::now();
        loop {
            let stats = self.servers(backend)?;
            let done = servers.iter().all(|s| {
                stats
                    .iter()
                    .any(|st| st.server == *s && st.status.starts_with(status))
            });
            if done {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(20) {
                return Err(format!(
                    "{backend}: {servers:?} not {status} within 20 s: {stats:?}\n{}",
                    self.process.log_tail()
                ));
            }
            sleep(Duration::from_millis(100));
        }
    }
}

#[derive(Debug)]
struct Stat {
    server: String,
    status: String,
    sessions: u64,
    retries: u64,
    redispatches: u64,
}

/// wrk's threads, connections and seconds for the fault run, and when the faults happen.
const WRK_THREADS: u32 = 2;
const WRK_CONNECTIONS: u32 = 16;
const WRK_SECONDS: u64 = 10;
const KILL_AT: Duration = Duration::from_secs(3);
const TERM_AT: Duration = Duration::from_secs(5);

/// Test step: the fault run (see the module docs).
pub fn fault_run() -> Result {
    install::apt_install(HAPROXY_PACKAGES)?;
    let binary = crate::image::static_server()?.path;
    let mut servers = Vec::new();
    for i in 1..=3 {
        servers.push(Server::start(
            &binary,
            &format!("fault-s{i}"),
            free_port()?,
            &[],
        )?);
    }
    let lb = free_port()?;
    let mut env = vec![("AICR_LB_BIND".to_owned(), format!("127.0.0.1:{lb}"))];
    for (i, s) in servers.iter().enumerate() {
        env.push((format!("AICR_SERVER_{}", i + 1), s.address()));
    }
    let haproxy = Haproxy::start("fault-haproxy", "deploy/haproxy/aicr.cfg", &env)?;
    haproxy.wait_for("aicr", &["s1", "s2", "s3"], "UP")?;

    let url = format!("http://127.0.0.1:{lb}{}", crate::load::RECIPE);
    let wrk = Command::new("timeout")
        .arg((WRK_SECONDS + 20).to_string())
        .arg("wrk")
        .arg(format!("-t{WRK_THREADS}"))
        .arg(format!("-c{WRK_CONNECTIONS}"))
        .arg(format!("-d{WRK_SECONDS}s"))
        .args(["--timeout", "5s", "--latency"])
        .arg(&url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let start = Instant::now();
    sleep(KILL_AT);
    servers[0].process.signal(libc::SIGKILL)?;
    eprintln!("{:.1} s: SIGKILL s1", start.elapsed().as_secs_f64());
    sleep(TERM_AT.saturating_sub(start.elapsed()));
    servers[1].process.signal(libc::SIGTERM)?;
    eprintln!(
        "{:.1} s: SIGTERM s2 (drain {DRAIN_SECONDS} s)",
        start.elapsed().as_secs_f64()
    );
    let drained = servers[1]
        .process
        .wait_exit(Duration::from_secs(DRAIN_SECONDS + 20))?;
    eprintln!(
        "{:.1} s: s2 exited ({drained})",
        start.elapsed().as_secs_f64()
    );
    let out = wrk.wait_with_output().map_err(|e| format!("wrk: {e}"))?;
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("wrk through HAProxy, s1 SIGKILLed at 3 s, s2 SIGTERMed at 5 s:\n{report}");
    if !out.status.success() {
        return Err(format!(
            "wrk failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let stats = haproxy.servers("aicr")?;
    let (retries, redispatches): (u64, u64) = stats
        .iter()
        .fold((0, 0), |(r, d), s| (r + s.retries, d + s.redispatches));
    println!(
        "HAProxy backend aicr after the run: {stats:?}; retries {retries}, redispatches {redispatches}"
    );
    if let Some(line) = report
        .lines()
        .find(|l| l.contains("Non-2xx") || l.contains("Socket errors"))
    {
        return Err(format!(
            "requests failed during the faults: {}",
            line.trim()
        ));
    }
    let requests: u64 = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .ok_or_else(|| format!("wrk printed no request count:\n{report}"))?;
    if requests == 0 {
        return Err("wrk sent no request".into());
    }
    if !drained.success() {
        return Err(format!(
            "the drained server exited {drained}, not 0:\n{}",
            servers[1].process.log_tail()
        ));
    }
    let state = |name: &str| {
        stats
            .iter()
            .find(|s| s.server == name)
            .map(|s| s.status.as_str())
    };
    if !state("s1").is_some_and(|s| s.starts_with("DOWN"))
        || !state("s2").is_some_and(|s| s.starts_with("DOWN"))
        || !state("s3").is_some_and(|s| s.starts_with("UP"))
    {
        return Err(format!("expected s1 and s2 DOWN, s3 UP: {stats:?}"));
    }
    // The HPA's request-rate metric is the adapter's rate of this counter.
    let metrics = agent()
        .get(&format!("http://127.0.0.1:{}/metrics", servers[2].admin))
        .call()
        .map_err(|e| format!("s3's /metrics: {e}"))?
        .into_string()
        .map_err(|e| e.to_string())?;
    if !metrics
        .lines()
        .any(|l| l.starts_with("aicr_http_requests_total{") && l.contains("\"/v1/recipe\""))
    {
        return Err(format!(
            "s3's /metrics has no aicr_http_requests_total for /v1/recipe (the HPA's series):\n{metrics:.1000}"
        ));
    }
    println!(
        "HAProxy fault run: {requests} requests, 0 failed (1 server killed, 1 drained to exit 0, \
         {retries} retries, {redispatches} redispatches)"
    );
    Ok(())
}

/// deploy/blue-green.sh in `haproxy` mode against `lb`; its exit code and output.
fn blue_green(lb: &BlueGreen) -> Result<(i32, String)> {
    let out = Command::new("timeout")
        .arg("120")
        .arg("bash")
        .arg(root().join("deploy/blue-green.sh"))
        .arg("haproxy")
        .arg("--socket")
        .arg(&lb.haproxy.socket)
        .arg("--map")
        .arg(&lb.map)
        .args([
            "--preview",
            &lb.preview,
            "--live",
            &lb.live,
            "--timeout",
            "20",
        ])
        .output()
        .map_err(|e| format!("cannot run deploy/blue-green.sh: {e}"))?;
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    eprint!("{text}");
    let code = out
        .status
        .code()
        .ok_or_else(|| format!("blue-green.sh ended by a signal ({})", out.status))?;
    Ok((code, text))
}

struct BlueGreen {
    haproxy: Haproxy,
    map: PathBuf,
    live: String,
    preview: String,
}

impl BlueGreen {
    /// The live colour by the runtime map, checked against the map file.
    fn live_colour(&self) -> Result<String> {
        let shown = self
            .haproxy
            .command(&format!("show map {}", self.map.display()))?;
        let live = shown
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3 && f[1] == "live").then(|| f[2].to_owned())
            })
            .ok_or_else(|| format!("show map: no live entry in {shown:?}"))?;
        let file = std::fs::read_to_string(&self.map).map_err(|e| e.to_string())?;
        if !file.lines().any(|l| l == format!("live {live}")) {
            return Err(format!(
                "runtime map says live {live}, the map file says {file:?}"
            ));
        }
        Ok(live)
    }

    /// Sends `n` recipe requests through the live frontend (all must answer 200) and
    /// returns which backend's session counts grew.
    fn serving_colour(&self, n: u64) -> Result<String> {
        let total = |backend: &str| -> Result<u64> {
            Ok(self
                .haproxy
                .servers(backend)?
                .iter()
                .map(|s| s.sessions)
                .sum())
        };
        let before = (total("blue")?, total("green")?);
        for _ in 0..n {
            let status = agent()
                .get(&format!("{}{}", self.live, crate::load::RECIPE))
                .call()
                .map_err(|e| format!("a recipe through the live frontend: {e}"))?
                .status();
            if status != 200 {
                return Err(format!("the live frontend answered {status}"));
            }
        }
        let after = (total("blue")?, total("green")?);
        match (after.0 - before.0, after.1 - before.1) {
            (b, 0) if b == n => Ok("blue".into()),
            (0, g) if g == n => Ok("green".into()),
            grown => Err(format!(
                "{n} live requests went to (blue, green) = {grown:?}"
            )),
        }
    }

    /// Which green server answers one /health through the preview frontend.
    fn probe_preview(&self) -> Result<String> {
        let before = self.haproxy.servers("green")?;
        agent()
            .get(&format!("{}/health", self.preview))
            .call()
            .map_err(|e| format!("/health through the preview frontend: {e}"))?;
        let after = self.haproxy.servers("green")?;
        let grown: Vec<&str> = after
            .iter()
            .filter(|a| {
                before
                    .iter()
                    .any(|b| b.server == a.server && a.sessions > b.sessions)
            })
            .map(|a| a.server.as_str())
            .collect();
        match grown[..] {
            [one] => Ok(one.to_owned()),
            _ => Err(format!("one preview request grew {grown:?}")),
        }
    }

    /// Positions green's round robin so that the script's preview check (4 requests: the
    /// wait for /ready, /health, /ready, the recipe) sends its recipe to a good server and
    /// the live check after the switch (4 more) sends its recipe to `bad`: with three
    /// servers in a fixed cycle, that is when the last request went to the server after
    /// `bad`. Learns the cycle from three probes, then probes until it is there.
    fn align_round_robin(&self, bad: &str) -> Result {
        let cycle = [
            self.probe_preview()?,
            self.probe_preview()?,
            self.probe_preview()?,
        ];
        let at = cycle
            .iter()
            .position(|s| s == bad)
            .ok_or_else(|| format!("{bad} is not in the round robin {cycle:?}"))?;
        let after_bad = &cycle[(at + 1) % 3];
        let mut last = cycle[2].clone();
        for _ in 0..3 {
            if last == *after_bad {
                return Ok(());
            }
            last = self.probe_preview()?;
        }
        Err(format!(
            "the round robin is no fixed cycle: {cycle:?}, then {last}"
        ))
    }

    fn expect(&self, (code, text): (i32, String), want: i32, live: &str) -> Result {
        if code != want {
            return Err(format!(
                "blue-green.sh exited {code}, expected {want}:\n{text}"
            ));
        }
        let (by_map, by_traffic) = (self.live_colour()?, self.serving_colour(4)?);
        if by_map != live || by_traffic != live {
            return Err(format!(
                "after blue-green.sh (exit {code}) the map says {by_map} and traffic goes to \
                 {by_traffic}; expected {live}"
            ));
        }
        Ok(())
    }
}

/// Test step: the blue-green script against a local HAProxy (see the module docs).
pub fn blue_green_switch() -> Result {
    install::apt_install(HAPROXY_PACKAGES)?;
    install::apt_install(&["shellcheck"])?;
    crate::steps::run(Command::new("shellcheck").arg(root().join("deploy/blue-green.sh")))?;
    let binary = crate::image::static_server()?.path;
    let names = ["blue1", "blue2", "blue3", "green1", "green2", "green3"];
    let mut servers = Vec::new();
    for name in names {
        servers.push(Server::start(
            &binary,
            &format!("bg-{name}"),
            free_port()?,
            &[],
        )?);
    }
    let map = scratch()?.join("colour.map");
    std::fs::write(&map, "live blue\npreview green\n")
        .map_err(|e| format!("{}: {e}", map.display()))?;
    let (live, preview) = (free_port()?, free_port()?);
    let mut env = vec![
        ("AICR_LIVE_BIND".to_owned(), format!("127.0.0.1:{live}")),
        (
            "AICR_PREVIEW_BIND".to_owned(),
            format!("127.0.0.1:{preview}"),
        ),
        ("AICR_COLOUR_MAP".to_owned(), map.display().to_string()),
    ];
    for (name, s) in names.iter().zip(&servers) {
        let (colour, n) = name.split_at(name.len() - 1);
        env.push((format!("AICR_{}_{n}", colour.to_uppercase()), s.address()));
    }
    let lb = BlueGreen {
        haproxy: Haproxy::start("bg-haproxy", "deploy/haproxy/blue-green.cfg", &env)?,
        map,
        live: format!("http://127.0.0.1:{live}"),
        preview: format!("http://127.0.0.1:{preview}"),
    };
    let greens = ["green1", "green2", "green3"];
    lb.haproxy
        .wait_for("blue", &["blue1", "blue2", "blue3"], "UP")?;
    lb.haproxy.wait_for("green", &greens, "UP")?;
    lb.expect((0, String::new()), 0, "blue")?;

    eprintln!("--- a good green: switch to it, then back to blue");
    lb.expect(blue_green(&lb)?, 0, "green")?;
    lb.expect(blue_green(&lb)?, 0, "blue")?;

    // Replaces green's servers (same ports) with ones started with these variables.
    let bad: &[(&str, &str)] = &[("AICR_ALLOWED_ACCELERATORS", "a100")];
    let mut regreen = |env: [&[(&str, &str)]; 3]| -> Result {
        for (i, env) in env.iter().enumerate() {
            let slot = 3 + i;
            let port = servers[slot].port;
            servers[slot].process.signal(libc::SIGKILL)?;
            servers[slot].process.wait_exit(Duration::from_secs(5))?;
            servers[slot] = Server::start(&binary, &format!("bg-{}", greens[i]), port, env)?;
        }
        lb.haproxy.wait_for("green", &greens, "UP")
    };

    eprintln!("--- a bad green (its allowlist refuses the smoke recipe): no switch");
    regreen([bad, bad, bad])?;
    lb.expect(blue_green(&lb)?, 1, "blue")?;

    eprintln!(
        "--- a green with one bad server of three: passes the preview, fails live, rolled back"
    );
    regreen([&[], bad, &[]])?;
    lb.align_round_robin("green2")?;
    let (code, text) = blue_green(&lb)?;
    if !text.contains("rolled back to blue") {
        return Err(format!("expected a rollback to blue (exit 2):\n{text}"));
    }
    lb.expect((code, text), 2, "blue")?;
    println!(
        "blue-green.sh with HAProxy: blue → green → blue switched (exit 0); a bad green \
         refused before the switch (exit 1); a green with one bad server of three rolled \
         back after the switch (exit 2); traffic followed the map each time"
    );
    Ok(())
}

/// The state deploy/check/fake-kubectl keeps for one kubectl-mode run: blue live with two
/// replicas, green idle, both on `aicr-server:old`.
fn fake_cluster(state: &Path) -> Result {
    let _ = std::fs::remove_dir_all(state);
    std::fs::create_dir_all(state).map_err(|e| format!("{}: {e}", state.display()))?;
    for (file, value) in [
        ("service-aicr", "blue"),
        ("service-aicr-preview", "green"),
        ("image-blue", "aicr-server:old"),
        ("image-green", "aicr-server:old"),
        ("replicas-blue", "2"),
        ("replicas-green", "0"),
        ("hpa", "aicr-blue"),
    ] {
        std::fs::write(state.join(file), format!("{value}\n"))
            .map_err(|e| format!("{}: {e}", state.display()))?;
    }
    Ok(())
}

/// deploy/blue-green.sh in `kubectl` mode with the fake kubectl first on PATH; its exit
/// code, output and the fake cluster's state afterwards (file → value).
fn blue_green_kubectl(
    state: &Path,
    ports: &[(&str, u16)],
) -> Result<(i32, String, BTreeMap<String, String>)> {
    let bin = scratch()?.join("fake-bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("{}: {e}", bin.display()))?;
    let kubectl = bin.join("kubectl");
    let _ = std::fs::remove_file(&kubectl);
    std::os::unix::fs::symlink(root().join("deploy/check/fake-kubectl"), &kubectl)
        .map_err(|e| format!("{}: {e}", kubectl.display()))?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("timeout");
    cmd.arg("120")
        .arg("bash")
        .arg(root().join("deploy/blue-green.sh"))
        .args(["kubectl", "--image", "aicr-server:new", "--timeout", "20"])
        .env("PATH", path)
        .env("FAKE_KUBECTL_STATE", state);
    for (name, port) in ports {
        cmd.env(format!("FAKE_KUBECTL_PORT_{name}"), port.to_string());
    }
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run deploy/blue-green.sh: {e}"))?;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    eprint!("{text}");
    let code = out
        .status
        .code()
        .ok_or_else(|| format!("blue-green.sh ended by a signal ({})", out.status))?;
    let forwarders = std::fs::read_to_string(state.join("forwarders")).unwrap_or_default();
    for pid in forwarders
        .lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
    {
        // SAFETY: signal 0 only asks whether the process exists.
        if unsafe { libc::kill(pid, 0) } == 0 {
            return Err(format!("blue-green.sh left its port-forward {pid} running"));
        }
    }
    let mut after = BTreeMap::new();
    for file in [
        "service-aicr",
        "service-aicr-preview",
        "image-green",
        "replicas-green",
        "hpa",
    ] {
        let value = std::fs::read_to_string(state.join(file)).map_err(|e| e.to_string())?;
        after.insert(file.to_owned(), value.trim().to_owned());
    }
    Ok((code, text, after))
}

/// Test step: blue-green.sh's kubectl mode, without a cluster: deploy/check/fake-kubectl
/// keeps the objects' state in files and "port-forwards" to real servers (see its header).
/// The script's flow, its kubectl calls and its smoke checks run as written: a good green
/// is deployed and switched to (Services, HPA); a bad one is refused and put back as it
/// was; a green whose live path fails after the switch is switched back.
pub fn blue_green_kubectl_mode() -> Result {
    install::apt_install(HAPROXY_PACKAGES)?;
    install::apt_install(&["shellcheck"])?;
    crate::steps::run(Command::new("shellcheck").arg(root().join("deploy/check/fake-kubectl")))?;
    let binary = crate::image::static_server()?.path;
    let bad = [("AICR_ALLOWED_ACCELERATORS", "a100")];
    let blue = Server::start(&binary, "k-blue", free_port()?, &[])?;
    let green = Server::start(&binary, "k-green", free_port()?, &[])?;
    let broken = Server::start(&binary, "k-green-bad", free_port()?, &bad)?;
    let state = scratch()?.join("fake-cluster");
    let want = |after: &BTreeMap<String, String>, expected: &[(&str, &str)]| -> Result {
        for (file, value) in expected {
            if after.get(*file).map(String::as_str) != Some(*value) {
                return Err(format!(
                    "expected {file} = {value}, the fake cluster has {after:?}"
                ));
            }
        }
        Ok(())
    };

    eprintln!("--- kubectl: a good green");
    fake_cluster(&state)?;
    let (code, text, after) =
        blue_green_kubectl(&state, &[("blue", blue.port), ("green", green.port)])?;
    if code != 0 {
        return Err(format!("exit {code}, expected 0:\n{text}"));
    }
    want(
        &after,
        &[
            ("service-aicr", "green"),
            ("service-aicr-preview", "blue"),
            ("hpa", "aicr-green"),
            ("image-green", "aicr-server:new"),
            ("replicas-green", "2"),
        ],
    )?;

    eprintln!("--- kubectl: a bad green, refused and put back");
    fake_cluster(&state)?;
    let (code, text, after) =
        blue_green_kubectl(&state, &[("blue", blue.port), ("green", broken.port)])?;
    if code != 1 {
        return Err(format!("exit {code}, expected 1:\n{text}"));
    }
    want(
        &after,
        &[
            ("service-aicr", "blue"),
            ("service-aicr-preview", "green"),
            ("hpa", "aicr-blue"),
            ("image-green", "aicr-server:old"),
            ("replicas-green", "0"),
        ],
    )?;

    eprintln!("--- kubectl: green passes the preview, its live path fails: switched back");
    fake_cluster(&state)?;
    let (code, text, after) = blue_green_kubectl(
        &state,
        &[
            ("blue", blue.port),
            ("green", green.port),
            ("aicr_green", broken.port),
        ],
    )?;
    if code != 2 || !text.contains("rolled back to blue") {
        return Err(format!("exit {code}, expected 2 and a rollback:\n{text}"));
    }
    want(
        &after,
        &[
            ("service-aicr", "blue"),
            ("service-aicr-preview", "green"),
            ("hpa", "aicr-blue"),
        ],
    )?;
    println!(
        "blue-green.sh kubectl mode (fake kubectl, real servers): a good green deployed and \
         switched to (exit 0); a bad one refused and put back (exit 1); a failing live path \
         switched back (exit 2); every port-forward stopped"
    );
    Ok(())
}
