//! # aicr-worker-e2e — the edge worker in a real local workerd
//!
//! [`LocalWorker`] starts the built worker with `wrangler dev --local` on a free
//! 127.0.0.1 port and stops it (its whole process group) when dropped, so a failing test
//! never leaves a server behind. It goes through wrangler rather than a bare workerd config
//! so that what is tested is what `cargo xtask serve` and `wrangler deploy` use: the
//! `wrangler.toml` at the root, its vars, the explorer's static assets and
//! `run_worker_first`. [`wrangler_dev`] is the one command line both share.
//!
//! [`LocalWorker::direct`] runs a build in workerd itself, as the platform does, from a
//! generated Cap'n Proto config: the modules, the vars (and secrets: both are text bindings
//! to the worker) and the `AICR_RATE_LIMITER` binding, simulated as miniflare (under
//! `wrangler dev`) simulates it: a wrapped binding over miniflare's own
//! `ratelimit.worker.js` (see [`RateLimitBinding`]).
//!
//! The tests in `tests/` need a built worker, so they are `#[ignore]`d in a plain
//! `cargo test` and run by `cargo xtask test`, which builds the worker first and passes the
//! build folders in [`BUILD_ENV`] and [`UPSTREAM_BUILD_ENV`].

pub mod catalog_answers;
pub mod client;

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Names the folder of a worker built on our catalog (`index.js` + `index_bg.wasm`).
pub const BUILD_ENV: &str = "AICR_WORKER_BUILD";
/// Names the folder of a worker built on the upstream catalog (conformance).
pub const UPSTREAM_BUILD_ENV: &str = "AICR_UPSTREAM_WORKER_BUILD";

/// How long a worker may take from launch to its first answer on `/health`.
const READY_TIMEOUT: Duration = Duration::from_secs(90);
/// How long a stopping worker gets before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

/// `wrangler dev` of a wrangler config (the root `wrangler.toml` unless testing another
/// build) in local mode on 127.0.0.1:`port`, with telemetry and the vendor's `Request.cf`
/// download off (no network needed); `vars` override worker vars. The command leads its
/// own process group, so [`stop_group`] can stop wrangler and its workerd together.
pub fn wrangler_dev(port: u16, config: &Path, vars: &[(&str, &str)]) -> Command {
    let root = root();
    let mut cmd = Command::new(root.join("node_modules/.bin/wrangler"));
    cmd.current_dir(&root)
        .args([
            "dev",
            "--local",
            "--ip",
            "127.0.0.1",
            "--show-interactive-dev-session=false",
        ])
        .arg("--port")
        .arg(port.to_string())
        .arg("--config")
        .arg(config)
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CLOUDFLARE_CF_FETCH_ENABLED", "false")
        .process_group(0);
    // wrangler's inspector listens on 9229 unless told otherwise, so two dev servers on
    // one machine (parallel test runs, a developer's own `cargo xtask serve`) collide.
    if let Ok(inspector) = free_port() {
        cmd.arg("--inspector-port").arg(inspector.to_string());
    }
    for (name, value) in vars {
        cmd.arg("--var").arg(format!("{name}:{value}"));
    }
    // If whoever started wrangler dies without stopping it (a killed test run), wrangler
    // gets SIGTERM and takes its workerd down with it.
    die_with_parent(&mut cmd);
    cmd
}

/// The child gets SIGTERM when the process that started it dies.
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// The `AICR_RATE_LIMITER` binding of a worker run by [`LocalWorker::direct_with`]: the
/// platform's rate-limiting binding, with `limit` requests per `period_secs` (10 or 60)
/// for each key, counted by miniflare's simulation of it (a fixed window per period).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitBinding {
    pub limit: u32,
    pub period_secs: u32,
    /// Milliseconds each count takes to answer. The platform's binding answers over the
    /// network, so other requests of the isolate run meanwhile; the simulation answers at
    /// once, so without a delay no two waiting requests ever overlap. 0: at once.
    pub latency_ms: u32,
}

/// The binding's name, as the worker reads it.
pub const RATE_LIMITER: &str = "AICR_RATE_LIMITER";
/// The KV binding of tenants' catalogs, as the worker reads it.
pub const CATALOGS: &str = "AICR_CATALOGS";
/// The var naming the binding's period, set beside it.
pub const RATE_LIMITER_PERIOD: &str = "AICR_RATE_LIMITER_PERIOD";
/// Where the module miniflare simulates the binding with lives in the worker's modules.
const SIMULATION_MODULE: &str = "cloudflare-internal:ratelimit:module";
/// The delaying wrapper of [`RateLimitBinding::latency_ms`].
const DELAYED_MODULE: &str = "aicr-test:delayed-ratelimit";
/// It counts in the simulation and answers after `latencyMs`, on a timer of the request
/// that asked (workerd resumes a request only from its own I/O). Its class keeps the
/// binding's constructor name, which workers-rs checks.
const DELAYED_SOURCE: &str = r#"import simulation from "cloudflare-internal:ratelimit:module";
class Ratelimit {
  #inner;
  #ms;
  constructor(env) { this.#inner = simulation(env); this.#ms = env.latencyMs; }
  async limit(options) {
    await new Promise((resolve) => setTimeout(resolve, this.#ms));
    return this.#inner.limit(options);
  }
}
export default function (env) { return new Ratelimit(env); }
"#;

impl RateLimitBinding {
    /// The binding of the root `wrangler.toml`'s default environment.
    pub fn shipped() -> Result<RateLimitBinding, String> {
        let path = root().join("wrangler.toml");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let config = WranglerBindings::parse(&text)?;
        config
            .bindings
            .iter()
            .find(|b| b.env.is_none() && b.name == RATE_LIMITER)
            .map(|b| RateLimitBinding {
                limit: b.limit,
                period_secs: b.period_secs,
                latency_ms: 0,
            })
            .ok_or_else(|| format!("{}: no [[ratelimits]] named {RATE_LIMITER}", path.display()))
    }
}

/// One `[[ratelimits]]` (or `[[env.NAME.ratelimits]]`) entry of a wrangler config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WranglerRateLimit {
    /// `None` for the top level, else the environment's name.
    pub env: Option<String>,
    pub name: String,
    pub namespace_id: String,
    pub limit: u32,
    pub period_secs: u32,
}

/// One `[[kv_namespaces]]` (or `[[env.NAME.kv_namespaces]]`) entry of a wrangler config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WranglerKvNamespace {
    /// `None` for the top level, else the environment's name.
    pub env: Option<String>,
    pub binding: String,
    pub id: String,
}

/// The rate-limit bindings, KV namespaces and each environment's vars of a wrangler
/// config, read from the flat TOML `wrangler.toml` is written in (one `key = value` a
/// line; `simple` an inline table).
#[derive(Debug, Default)]
pub struct WranglerBindings {
    pub bindings: Vec<WranglerRateLimit>,
    pub kv_namespaces: Vec<WranglerKvNamespace>,
    /// (environment, var name, value) of every `[vars]` / `[env.NAME.vars]` entry.
    pub vars: Vec<(Option<String>, String, String)>,
}

impl WranglerBindings {
    pub fn parse(text: &str) -> Result<WranglerBindings, String> {
        enum Table {
            Other,
            Vars(Option<String>),
            RateLimit(usize),
            Kv(usize),
        }
        let mut out = WranglerBindings::default();
        let mut table = Table::Other;
        let env_of = |header: &str, suffix: &str| -> Option<Option<String>> {
            if header == suffix {
                return Some(None);
            }
            let name = header
                .strip_prefix("env.")?
                .strip_suffix(&format!(".{suffix}"))?;
            Some(Some(name.to_owned()))
        };
        let unquote = |v: &str| v.trim().trim_matches('"').to_owned();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(header) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
                let header = header.trim();
                table = if let Some(env) = env_of(header, "ratelimits") {
                    out.bindings.push(WranglerRateLimit {
                        env,
                        name: String::new(),
                        namespace_id: String::new(),
                        limit: 0,
                        period_secs: 0,
                    });
                    Table::RateLimit(out.bindings.len() - 1)
                } else if let Some(env) = env_of(header, "kv_namespaces") {
                    out.kv_namespaces.push(WranglerKvNamespace {
                        env,
                        binding: String::new(),
                        id: String::new(),
                    });
                    Table::Kv(out.kv_namespaces.len() - 1)
                } else {
                    Table::Other
                };
                continue;
            }
            if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                table = env_of(header.trim(), "vars").map_or(Table::Other, Table::Vars);
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                return Err(format!(
                    "wrangler.toml line {}: {line:?} is not key = value",
                    n + 1
                ));
            };
            let (key, value) = (key.trim(), value.trim());
            match &table {
                Table::Other => {}
                Table::Vars(env) => out.vars.push((env.clone(), key.to_owned(), unquote(value))),
                Table::Kv(i) => {
                    let namespace = &mut out.kv_namespaces[*i];
                    match key {
                        "binding" => namespace.binding = unquote(value),
                        "id" => namespace.id = unquote(value),
                        _ => {}
                    }
                }
                Table::RateLimit(i) => {
                    let binding = &mut out.bindings[*i];
                    match key {
                        "name" => binding.name = unquote(value),
                        "namespace_id" => binding.namespace_id = unquote(value),
                        "simple" => {
                            let inner = value
                                .strip_prefix('{')
                                .and_then(|v| v.strip_suffix('}'))
                                .ok_or_else(|| {
                                format!(
                                    "wrangler.toml line {}: simple is not an inline table",
                                    n + 1
                                )
                            })?;
                            for pair in inner.split(',') {
                                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                                let number = v.trim().parse().map_err(|_| {
                                    format!(
                                        "wrangler.toml line {}: simple.{} is not a whole number",
                                        n + 1,
                                        k.trim()
                                    )
                                })?;
                                match k.trim() {
                                    "limit" => binding.limit = number,
                                    "period" => binding.period_secs = number,
                                    other => {
                                        return Err(format!(
                                            "wrangler.toml line {}: unknown simple.{other}",
                                            n + 1
                                        ));
                                    }
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The files of a workerd config written for one run: the config itself and the modules
/// it embeds that are not in the build.
struct WorkerdConfig {
    text: String,
    /// Extra modules to write beside the config: (file name, source).
    extra: Vec<(String, String)>,
}

/// A workerd config serving `index.js` and, if the build has one, `index_bg.wasm` (paths
/// relative to the config, which lives beside them) on 127.0.0.1:`port`, with the root
/// `wrangler.toml`'s compatibility date, `vars` as text bindings and, if given, the
/// rate-limiting binding (its period added as a var unless `vars` set it).
fn workerd_config(
    build: &Path,
    port: u16,
    vars: &[(&str, &str)],
    rate_limit: Option<RateLimitBinding>,
) -> Result<WorkerdConfig, String> {
    let mut modules = vec![r#"(name = "index.js", esModule = embed "index.js")"#];
    if build.join("index_bg.wasm").exists() {
        modules.push(r#"(name = "index_bg.wasm", wasm = embed "index_bg.wasm")"#);
    }
    let mut bindings: Vec<String> = vars
        .iter()
        .map(|(name, value)| format!("(name = {name:?}, text = {value:?})"))
        .collect();
    let mut extensions = String::new();
    let mut extra = Vec::new();
    if let Some(binding) = rate_limit {
        let simulation =
            root().join("node_modules/miniflare/dist/src/workers/ratelimit/ratelimit.worker.js");
        let source = std::fs::read_to_string(&simulation).map_err(|e| {
            format!(
                "{}: {e}; run `cargo xtask setup` (npm's miniflare comes with wrangler)",
                simulation.display()
            )
        })?;
        let simulation_file = format!("workerd-{port}-ratelimit.js");
        let mut internal = vec![format!(
            "(name = {SIMULATION_MODULE:?}, esModule = embed {simulation_file:?}, internal = true)"
        )];
        extra.push((simulation_file, source));
        let mut inner = vec![
            format!(
                "(name = \"namespaceId\", json = {:?})",
                format!("{RATE_LIMITER:?}")
            ),
            format!("(name = \"limit\", json = \"{}\")", binding.limit),
            format!("(name = \"period\", json = \"{}\")", binding.period_secs),
        ];
        let module = if binding.latency_ms > 0 {
            let delayed_file = format!("workerd-{port}-delayed-ratelimit.js");
            internal.push(format!(
                "(name = {DELAYED_MODULE:?}, esModule = embed {delayed_file:?}, internal = true)"
            ));
            extra.push((delayed_file, DELAYED_SOURCE.to_owned()));
            inner.push(format!(
                "(name = \"latencyMs\", json = \"{}\")",
                binding.latency_ms
            ));
            DELAYED_MODULE
        } else {
            SIMULATION_MODULE
        };
        bindings.push(format!(
            "(name = {RATE_LIMITER:?}, wrapped = (moduleName = {module:?}, innerBindings = [{}]))",
            inner.join(", ")
        ));
        if !vars.iter().any(|(name, _)| *name == RATE_LIMITER_PERIOD) {
            bindings.push(format!(
                "(name = {RATE_LIMITER_PERIOD:?}, text = \"{}\")",
                binding.period_secs
            ));
        }
        extensions = format!("  extensions = [(modules = [{}])],\n", internal.join(", "));
    }
    let text = format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "main", worker = .worker)],
  sockets = [(name = "http", address = "127.0.0.1:{port}", http = (), service = "main")],
{extensions});
const worker :Workerd.Worker = (
  modules = [{modules}],
  compatibilityDate = "{date}",
  bindings = [{bindings}],
);
"#,
        date = compatibility_date()?,
        bindings = bindings.join(", "),
        modules = modules.join(", "),
    );
    Ok(WorkerdConfig { text, extra })
}

/// `compatibility_date` of the root `wrangler.toml`, so every runner has the same semantics.
fn compatibility_date() -> Result<String, String> {
    let root_config = root().join("wrangler.toml");
    let text = std::fs::read_to_string(&root_config)
        .map_err(|e| format!("{}: {e}", root_config.display()))?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("compatibility_date"))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .ok_or_else(|| format!("{}: no compatibility_date", root_config.display()))
}

/// Stops a process group led by `child`: SIGTERM, then SIGKILL after a grace period.
pub fn stop_group(child: &mut Child) {
    let Ok(pid) = i32::try_from(child.id()) else {
        return;
    };
    let signal_group = |signal| {
        // SAFETY: kill(2) with a negative pid signals the process group `child` leads
        // (it was started with process_group(0)); it touches no memory of ours.
        unsafe { libc::kill(-pid, signal) };
    };
    signal_group(libc::SIGTERM);
    let deadline = Instant::now() + STOP_GRACE;
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            // The leader is gone; make sure no straggler of its group survives it.
            signal_group(libc::SIGKILL);
            return;
        }
        sleep(Duration::from_millis(50));
    }
    signal_group(libc::SIGKILL);
    let _ = child.wait();
}

/// A free TCP port on 127.0.0.1 (released before use; the window is milliseconds).
pub fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// A build folder named by an environment variable, checked to hold a worker.
pub fn build_dir(variable: &str) -> Result<PathBuf, String> {
    let dir = std::env::var_os(variable)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{variable} is not set: run these tests with `cargo xtask test`, which builds the worker"))?;
    let main = dir.join("index.js");
    if !main.exists() {
        return Err(format!(
            "{} is missing: build the worker with `cargo xtask build`",
            main.display()
        ));
    }
    Ok(dir)
}

/// A wrangler config for `build` alone (no static assets), next to it, with the root
/// config's compatibility date so both run the same runtime semantics.
fn api_only_config(build: &Path) -> Result<PathBuf, String> {
    let main = build.join("index.js");
    let config = build.with_file_name("wrangler-api-only.toml");
    let body = format!(
        "name = \"aicr-edge-test\"\nmain = {:?}\ncompatibility_date = {:?}\nsend_metrics = false\n",
        main.display().to_string(),
        compatibility_date()?,
    );
    std::fs::write(&config, body).map_err(|e| format!("{}: {e}", config.display()))?;
    Ok(config)
}

/// A worker running in local workerd; stopped when dropped.
pub struct LocalWorker {
    child: Child,
    log: PathBuf,
    /// Files written for this run only (a config, its modules), removed when it stops.
    scratch: Vec<PathBuf>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl LocalWorker {
    /// Starts the worker with `vars` and waits until `/health` answers (any status: a
    /// misconfigured worker answers 500). `None` runs the root `wrangler.toml` (the shipped
    /// build, with the explorer's assets); `Some(build)` runs that build alone, API only,
    /// from a config written beside it.
    pub fn start(build: Option<&Path>, vars: &[(&str, &str)]) -> Result<LocalWorker, String> {
        let port = free_port()?;
        let config = match build {
            None => root().join("wrangler.toml"),
            Some(build) => api_only_config(build)?,
        };
        LocalWorker::spawn(wrangler_dev(port, &config, vars), "wrangler", port)
    }

    /// The shipped site (root `wrangler.toml`) under `wrangler dev`, with its local state
    /// (the simulated Workers KV namespace and Cache API of miniflare) in `state` rather
    /// than `.wrangler/state`: a test starts from an empty store, and a second start on the
    /// same `state` is a fresh isolate over the same store and cache (as a new isolate
    /// in the same location sees them).
    pub fn start_with_state(vars: &[(&str, &str)], state: &Path) -> Result<LocalWorker, String> {
        let port = free_port()?;
        let mut cmd = wrangler_dev(port, &root().join("wrangler.toml"), vars);
        cmd.arg("--persist-to").arg(state);
        LocalWorker::spawn(cmd, "wrangler", port)
    }

    /// Starts `build` in workerd itself, with no wrangler proxy in front: what the platform
    /// runs, and what the bench measures. The config (Cap'n Proto text, the modules embedded
    /// from the build folder, `vars` as text bindings, the rate-limiting binding as the root
    /// `wrangler.toml` declares it) is written into the build folder.
    pub fn direct(build: &Path, vars: &[(&str, &str)]) -> Result<LocalWorker, String> {
        LocalWorker::direct_with(build, vars, Some(RateLimitBinding::shipped()?), None)
    }

    /// [`LocalWorker::direct`] with workerd's inspector (V8's DevTools protocol) on
    /// 127.0.0.1:`inspector`, for profiles and memory readings.
    pub fn direct_inspected(
        build: &Path,
        vars: &[(&str, &str)],
        inspector: Option<u16>,
    ) -> Result<LocalWorker, String> {
        LocalWorker::direct_with(build, vars, Some(RateLimitBinding::shipped()?), inspector)
    }

    /// [`LocalWorker::direct`] with this rate-limiting binding (`None`: none at all) and,
    /// if given, the inspector on 127.0.0.1:`inspector`.
    pub fn direct_with(
        build: &Path,
        vars: &[(&str, &str)],
        rate_limit: Option<RateLimitBinding>,
        inspector: Option<u16>,
    ) -> Result<LocalWorker, String> {
        let port = free_port()?;
        let generated = workerd_config(build, port, vars, rate_limit)?;
        let mut scratch = Vec::new();
        for (name, text) in &generated.extra {
            let path = build.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
            scratch.push(path);
        }
        let config = build.join(format!("workerd-{port}.capnp"));
        std::fs::write(&config, &generated.text)
            .map_err(|e| format!("{}: {e}", config.display()))?;
        scratch.push(config.clone());
        let mut cmd = Command::new(root().join("node_modules/.bin/workerd"));
        cmd.arg("serve");
        if let Some(inspector) = inspector {
            cmd.arg(format!("--inspector-addr=127.0.0.1:{inspector}"));
        }
        cmd.arg(&config);
        let spawned = LocalWorker::spawn(cmd, "workerd", port);
        if spawned.is_err() {
            for path in &scratch {
                let _ = std::fs::remove_file(path);
            }
        }
        let mut worker = spawned?;
        worker.scratch = scratch;
        Ok(worker)
    }

    /// Starts any local HTTP server that answers `/health` on 127.0.0.1:`port`, leading its
    /// own process group (so [`stop_group`] stops it with its children) and stopped if this
    /// process dies; its output goes to `target/worker-e2e/<name>-<port>.log`.
    pub fn spawn(mut cmd: Command, name: &str, port: u16) -> Result<LocalWorker, String> {
        cmd.process_group(0);
        die_with_parent(&mut cmd);
        let logs = root().join("target/worker-e2e");
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let log = logs.join(format!("{name}-{port}.log"));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}; run `cargo xtask setup`"))?;
        let mut worker = LocalWorker {
            child,
            log,
            scratch: Vec::new(),
            base: format!("http://127.0.0.1:{port}"),
        };
        worker.wait_ready()?;
        Ok(worker)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "wrangler exited ({status}) before answering:\n{}",
                    self.log_tail()
                ));
            }
            match agent.get(&format!("{}/health", self.base)).call() {
                Ok(_) | Err(ureq::Error::Status(..)) => return Ok(()),
                Err(_) => {}
            }
            sleep(Duration::from_millis(100));
        }
        Err(format!(
            "no answer from {}/health within {READY_TIMEOUT:?}:\n{}",
            self.base,
            self.log_tail()
        ))
    }

    /// The last lines the server printed (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Everything the server printed so far, stdout and stderr (the worker's `console`
    /// output among it).
    pub fn log(&self) -> String {
        let mut bytes = Vec::new();
        let _ = std::fs::File::open(&self.log).and_then(|mut f| f.read_to_end(&mut bytes));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The server process (workerd itself for [`LocalWorker::direct`]).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }
}

impl Drop for LocalWorker {
    fn drop(&mut self) {
        stop_group(&mut self.child);
        for path in &self.scratch {
            let _ = std::fs::remove_file(path);
        }
    }
}
