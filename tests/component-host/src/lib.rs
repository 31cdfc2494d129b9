//! # aicr-component-host — `aicr.wasm` in a real wasmtime
//!
//! The smallest honest embedding of the component in a Rust service: wasmtime with
//! `component::bindgen!` over the resolver-only world `embed`, WASI 0.2 from
//! `wasmtime-wasi`, and `wasi:http/types` from `wasmtime-wasi-http` (the component also
//! exports an HTTP handler, so it imports those types even when a host only resolves).
//! [`Host::serve`] also drives that handler through wasmtime-wasi-http's own wasi:http
//! implementation, the one `wasmtime serve` runs, so HTTP framing rules that only a real
//! host enforces (e.g. `Content-Length` against the bytes written) are tested too.
//! Its tests check every export against the native engine; its `component-bench` binary
//! prints the wasmtime figures for `cargo xtask bench`.
//!
//! It never mocks the runtime: if the component misbehaves under wasmtime, these fail.

use http::HeaderName;
use http_body_util::BodyExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, format_err};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::sync::ProxyPre;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView,
    WasiHttpHooks, WasiHttpView,
};

wasmtime::component::bindgen!({
    world: "embed",
    path: "../../wit",
    additional_derives: [PartialEq],
});

pub use exports::aicr::recipe::resolver as wit;

/// eks / h100 / ubuntu / training as the typed export takes it: the criteria the bench and
/// the startup test measure (the README's example recipe).
pub const EKS_H100_UBUNTU_TRAINING: wit::Criteria = wit::Criteria {
    service: Some(wit::Service::Eks),
    accelerator: Some(wit::Accelerator::H100),
    intent: Some(wit::Intent::Training),
    os: Some(wit::Os::Ubuntu),
    platform: None,
    nodes: 0,
};

/// The same criteria as a `GET` of the HTTP export takes them.
pub const EKS_H100_UBUNTU_TRAINING_GET: &str =
    "/v1/recipe?service=eks&accelerator=h100&os=ubuntu&intent=training";

/// Where `cargo xtask build` puts the component; `AICR_COMPONENT_WASM` overrides it (the
/// Debian build route and the upstream-catalog build use other target directories).
pub fn component_path() -> PathBuf {
    match std::env::var_os("AICR_COMPONENT_WASM") {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/wasm32-wasip2/release/aicr.wasm"),
    }
}

/// False when the default component path is absent and `AICR_COMPONENT_WASM` is unset.
fn is_built() -> bool {
    std::env::var_os("AICR_COMPONENT_WASM").is_some() || component_path().exists()
}

/// Whether a test can run: true when the component is built. Otherwise a local run says
/// the test is skipped and returns false, and a CI run (`CI=true`, where `cargo xtask test`
/// always builds the component first) fails: a test never passes by skipping there.
pub fn built_or_skip() -> bool {
    if is_built() {
        return true;
    }
    let message = format!(
        "{} is not built (run `cargo xtask build`, or `cargo xtask test`)",
        component_path().display()
    );
    let on_ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    assert!(!on_ci, "{message}");
    eprintln!("SKIPPED: {message}");
    false
}

/// Bytes of stdout or stderr a store keeps.
const CAPTURE: usize = 16 << 20;

/// Fuel a metered store starts with: more than any test runs, and far from wasmtime's
/// limits so the arithmetic stays exact.
const FUEL: u64 = 1 << 60;

/// Per-store state: WASI context, wasi:http context, resource table, memory accounting.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: Hooks,
    table: ResourceTable,
    memory: MemoryMeter,
}

/// The host's wasi:http policy. The component never makes outgoing requests; if it tried,
/// it would be denied. Header names are refused as wasmtime refuses them, plus
/// `refused_header`, for testing how the component copes with a stricter host.
#[derive(Default)]
struct Hooks {
    refused_header: Option<HeaderName>,
}

type Pending = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;

impl WasiHttpHooks for Hooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        self.refused_header.as_ref() == Some(name) || DEFAULT_FORBIDDEN_HEADERS.contains(name)
    }

    fn send_request(
        &mut self,
        _request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Pending,
    ) -> Box<
        dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, Pending)>> + Send,
    > {
        Box::new(std::future::ready(Err(
            wasmtime_wasi_http::Error::HttpRequestDenied,
        )))
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            hooks: &mut self.hooks,
            table: &mut self.table,
            ctx: &mut self.http,
        }
    }
}

/// Counts the bytes of linear memory the instance has (every memory, summed), as wasmtime
/// grows it.
#[derive(Default)]
struct MemoryMeter {
    bytes: usize,
}

impl ResourceLimiter for MemoryMeter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.bytes += desired - current;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

/// Bytes of linear memory the store's instances hold now.
pub fn memory_bytes(store: &Store<State>) -> usize {
    store.data().memory.bytes
}

/// Fuel (about one unit per wasm instruction) the store's instances have used so far;
/// `None` unless the host was [`Host::load_metered`].
pub fn fuel_used(store: &Store<State>) -> Option<u64> {
    store.get_fuel().ok().map(|left| FUEL - left)
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl State {
    fn new(wasi: WasiCtx) -> State {
        State {
            wasi,
            http: WasiHttpCtx::new(),
            hooks: Hooks::default(),
            table: ResourceTable::new(),
            memory: MemoryMeter::default(),
        }
    }
}

/// The compiled component, linked once; cheap to instantiate many times.
pub struct Host {
    /// Whether stores count the wasm instructions run ([`Host::load_metered`]).
    metered: bool,
    pub engine: Engine,
    pub component: Component,
    pub linker: Linker<State>,
    pub pre: EmbedPre<State>,
    /// The `wasi:http/proxy` view of the same component, for [`Host::serve`].
    pub proxy: ProxyPre<State>,
}

/// An answer of the component's `wasi:http/incoming-handler`, as wasmtime's wasi:http
/// implementation delivered it, and what the component wrote to stderr meanwhile.
#[derive(Debug)]
pub struct Served {
    pub response: http::Response<Vec<u8>>,
    pub stderr: String,
    /// Fuel the fresh instance used to answer (see [`fuel_used`]); `None` unless the host
    /// was [`Host::load_metered`].
    pub fuel: Option<u64>,
}

/// What a `wasi:cli/run` invocation printed and returned.
#[derive(Debug)]
pub struct RunOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Host {
    /// Compiles and links the component at `path`.
    pub fn load(path: &Path) -> wasmtime::Result<Host> {
        Host::load_with(path, false)
    }

    /// [`Host::load`] with wasmtime's fuel metering on, so [`fuel_used`] tells how much
    /// wasm a store ran: a count of instructions, the same on every machine and run.
    pub fn load_metered(path: &Path) -> wasmtime::Result<Host> {
        Host::load_with(path, true)
    }

    fn load_with(path: &Path, metered: bool) -> wasmtime::Result<Host> {
        let engine = Engine::new(Config::new().consume_fuel(metered))?;
        let component = Component::from_file(&engine, path)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // The HTTP export makes the component import `wasi:http/types`.
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        let instance = linker.instantiate_pre(&component)?;
        let pre = EmbedPre::new(instance.clone())?;
        let proxy = ProxyPre::new(instance)?;
        Ok(Host {
            metered,
            engine,
            component,
            linker,
            pre,
            proxy,
        })
    }

    /// [`Host::load`] of [`component_path`], once per process (compiling is the slow
    /// part). `None` only when the component was never built and no path was given, outside
    /// CI (see [`built_or_skip`]); `cargo xtask test` builds first and sets
    /// `AICR_COMPONENT_WASM`, so there a missing file fails.
    pub fn shared() -> Option<&'static Host> {
        static HOST: OnceLock<Option<Host>> = OnceLock::new();
        HOST.get_or_init(|| {
            let path = component_path();
            if !built_or_skip() {
                return None;
            }
            Some(
                Host::load(&path)
                    .unwrap_or_else(|e| panic!("cannot load {}: {e:?}", path.display())),
            )
        })
        .as_ref()
    }

    /// A store for one instance: its memory accounted, and when metered, all the fuel
    /// it can use.
    fn store(&self, state: State) -> wasmtime::Result<Store<State>> {
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        if self.metered {
            store.set_fuel(FUEL)?;
        }
        Ok(store)
    }

    /// A fresh store and resolver instance (stdio discarded).
    pub fn instantiate(&self) -> wasmtime::Result<(Store<State>, Embed)> {
        let mut store = self.store(State::new(WasiCtx::builder().build()))?;
        let bindings = self.pre.instantiate(&mut store)?;
        Ok((store, bindings))
    }

    /// Runs `wasi:cli/run` with `args` (after the program name), capturing stdout and
    /// stderr: what `wasmtime run aicr.wasm <args>` does.
    pub fn run(&self, args: &[&str]) -> wasmtime::Result<RunOutput> {
        let (stdout, stderr) = (
            MemoryOutputPipe::new(CAPTURE),
            MemoryOutputPipe::new(CAPTURE),
        );
        let mut argv = vec!["aicr.wasm"];
        argv.extend_from_slice(args);
        let wasi = WasiCtx::builder()
            .args(&argv)
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let mut store = self.store(State::new(wasi))?;
        let command = Command::instantiate(&mut store, &self.component, &self.linker)?;
        let success = command.wasi_cli_run().call_run(&mut store)?.is_ok();
        drop(store);
        let text = |p: MemoryOutputPipe| String::from_utf8_lossy(&p.contents()).into_owned();
        Ok(RunOutput {
            success,
            stdout: text(stdout),
            stderr: text(stderr),
        })
    }

    /// Serves one request through the component's `wasi:http/incoming-handler` with
    /// wasmtime-wasi-http's wasi:http implementation, as `wasmtime serve` does: the
    /// request becomes an `incoming-request` (its authority from the URI, else the `Host`
    /// header), the answer comes from the `response-outparam`, and its body is collected
    /// while the guest writes it. `refused_header` is a response header name this host
    /// refuses on top of wasmtime's own list.
    ///
    /// Errors are what a client of `wasmtime serve` would see fail: a trap, no answer, an
    /// error answer, or a body the host aborted (e.g. fewer bytes than `Content-Length`).
    pub fn serve(
        &self,
        request: http::Request<String>,
        refused_header: Option<HeaderName>,
    ) -> wasmtime::Result<Served> {
        let stderr = MemoryOutputPipe::new(CAPTURE);
        let mut state = State::new(WasiCtx::builder().stderr(stderr.clone()).build());
        state.hooks.refused_header = refused_header;
        let mut store = self.store(state)?;
        let proxy = self.proxy.instantiate(&mut store)?;
        let request = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)?;
        let (answer, answered) = std::sync::mpsc::channel();
        let out = store
            .data_mut()
            .http()
            .new_response_outparam_from_callback(move |response| {
                // The receiver is gone only if this function already returned.
                let _ = answer.send(response);
            })?;
        let response = std::thread::scope(|threads| {
            // The guest blocks while the host's body buffer is full, so it runs on its own
            // thread while this one drains the body.
            let guest = threads.spawn(move || {
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .map(|()| fuel_used(&store))
            });
            let response = match answered.recv() {
                Ok(Ok(response)) => {
                    let (parts, body) = response.into_parts();
                    wasmtime_wasi::runtime::in_tokio(body.collect())
                        .map(|body| http::Response::from_parts(parts, body.to_bytes().to_vec()))
                        .map_err(|e| format_err!("the host aborted the response body: {e:?}"))
                }
                Ok(Err(code)) => Err(format_err!("the component answered with error {code:?}")),
                Err(_) => Err(format_err!("the component returned without an answer")),
            };
            let fuel = guest
                .join()
                .map_err(|_| format_err!("the guest thread panicked"))??;
            response.map(|response| (response, fuel))
        })?;
        let (response, fuel) = response;
        let stderr = String::from_utf8_lossy(&stderr.contents()).into_owned();
        Ok(Served {
            response,
            stderr,
            fuel,
        })
    }
}
