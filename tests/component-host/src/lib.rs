//! # aicr-component-host — `aicr.wasm` in a real wasmtime
//!
//! The smallest honest embedding of the component in a Rust service: wasmtime with
//! `component::bindgen!` over the resolver-only world `embed`, WASI 0.2 from
//! `wasmtime-wasi`, and `wasi:http/types` from `wasmtime-wasi-http` (the component also
//! exports an HTTP handler, so it imports those types even when a host only resolves).
//! Its tests check every export against the native engine; its `component-bench` binary
//! prints the wasmtime figures for `cargo xtask bench`.
//!
//! It never mocks the runtime: if the component misbehaves under wasmtime, these fail.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

wasmtime::component::bindgen!({
    world: "embed",
    path: "../../wit",
    additional_derives: [PartialEq],
});

pub use exports::aicr::recipe::resolver as wit;

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
pub fn is_built() -> bool {
    std::env::var_os("AICR_COMPONENT_WASM").is_some() || component_path().exists()
}

/// Per-store state: WASI context, wasi:http context, resource table, memory accounting.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoOutgoingRequests,
    table: ResourceTable,
    memory: MemoryMeter,
}

/// The component never makes outgoing requests; if it tried, it would be denied.
struct NoOutgoingRequests;

type Pending = Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>;

impl WasiHttpHooks for NoOutgoingRequests {
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
            hooks: NoOutgoingRequests,
            table: ResourceTable::new(),
            memory: MemoryMeter::default(),
        }
    }
}

/// The compiled component, linked once; cheap to instantiate many times.
pub struct Host {
    pub engine: Engine,
    pub component: Component,
    pub linker: Linker<State>,
    pub pre: EmbedPre<State>,
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
        let engine = Engine::new(&Config::new())?;
        let component = Component::from_file(&engine, path)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        // The HTTP export makes the component import `wasi:http/types`.
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
        let pre = EmbedPre::new(linker.instantiate_pre(&component)?)?;
        Ok(Host {
            engine,
            component,
            linker,
            pre,
        })
    }

    /// [`Host::load`] of [`component_path`], once per process (compiling is the slow
    /// part). `None` only when the component was never built and no path was given:
    /// plain `cargo test` runs before `cargo xtask build`, while `cargo xtask test` always
    /// builds first and sets `AICR_COMPONENT_WASM`, so there a missing file fails.
    pub fn shared() -> Option<&'static Host> {
        static HOST: OnceLock<Option<Host>> = OnceLock::new();
        HOST.get_or_init(|| {
            let path = component_path();
            if !is_built() {
                eprintln!(
                    "SKIPPED: {} is not built (run `cargo xtask build`)",
                    path.display()
                );
                return None;
            }
            Some(
                Host::load(&path)
                    .unwrap_or_else(|e| panic!("cannot load {}: {e:?}", path.display())),
            )
        })
        .as_ref()
    }

    /// A fresh store and resolver instance (stdio discarded).
    pub fn instantiate(&self) -> wasmtime::Result<(Store<State>, Embed)> {
        let mut store = Store::new(&self.engine, State::new(WasiCtx::builder().build()));
        store.limiter(|state| &mut state.memory);
        let bindings = self.pre.instantiate(&mut store)?;
        Ok((store, bindings))
    }

    /// Runs `wasi:cli/run` with `args` (after the program name), capturing stdout and
    /// stderr: what `wasmtime run aicr.wasm <args>` does.
    pub fn run(&self, args: &[&str]) -> wasmtime::Result<RunOutput> {
        const CAPTURE: usize = 16 << 20;
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
        let mut store = Store::new(&self.engine, State::new(wasi));
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
}
