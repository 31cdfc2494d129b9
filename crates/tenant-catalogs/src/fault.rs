//! A store that fails on command, for tests of everything that reads a store: this
//! crate's, and hosts' (a server or worker test can put one behind its admin API and
//! serving path and watch the answers go stale and come back).

use crate::host::{BoxFuture, Host, MaybeSend};
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What the next operations do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Pass through to the wrapped store.
    None,
    /// The next `n` operations fail, then pass through again.
    FailNext(u32),
    /// Every operation fails.
    FailAlways,
    /// Every operation never completes (the reader's timeout must end it).
    Hang,
    /// Every operation waits this long (on the host's timer), then passes through.
    Slow(Duration),
}

/// Wraps a store; faults are set through the [`FaultHandle`] the test keeps while the store
/// itself goes to the code under test.
pub struct FaultyStore<S> {
    inner: S,
    host: Arc<dyn Host>,
    control: FaultHandle,
}

/// The test's side of a [`FaultyStore`]: set faults, count operations.
#[derive(Clone, Default)]
pub struct FaultHandle {
    state: Arc<Mutex<ControlState>>,
}

#[derive(Default)]
struct ControlState {
    fault: Option<Fault>,
    /// Operations started, by `"get <key>"`, `"put <key>"`, `"list <prefix>"`.
    calls: HashMap<String, usize>,
}

impl FaultHandle {
    fn lock(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets what the next operations do.
    pub fn set(&self, fault: Fault) {
        self.lock().fault = Some(fault);
    }

    /// Operations started on `what` (`"get tenants/acme/active"`).
    pub fn calls(&self, what: &str) -> usize {
        self.lock().calls.get(what).copied().unwrap_or(0)
    }

    /// Operations started whose description starts with `prefix` (`"put "`: every put).
    pub fn count(&self, prefix: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// Counts the call and decides its fault.
    fn begin(&self, what: String) -> Fault {
        let mut state = self.lock();
        *state.calls.entry(what).or_default() += 1;
        match state.fault.unwrap_or(Fault::None) {
            Fault::FailNext(n) => {
                state.fault = Some(if n > 1 {
                    Fault::FailNext(n - 1)
                } else {
                    Fault::None
                });
                Fault::FailAlways
            }
            other => other,
        }
    }
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`; `host` times [`Fault::Slow`].
    pub fn new(inner: S, host: Arc<dyn Host>) -> (FaultyStore<S>, FaultHandle) {
        let control = FaultHandle::default();
        (
            FaultyStore {
                inner,
                host,
                control: control.clone(),
            },
            control,
        )
    }

    /// Counts the call, then fails, hangs, waits or starts `operation` (only then: a
    /// failed put writes nothing).
    fn run<'a, T: MaybeSend + 'a>(
        &'a self,
        what: String,
        operation: impl FnOnce() -> BoxFuture<'a, Result<T, StoreError>> + MaybeSend + 'a,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        let fault = self.control.begin(what.clone());
        Box::pin(async move {
            match fault {
                Fault::None | Fault::FailNext(_) => operation().await,
                Fault::FailAlways => Err(StoreError(format!("injected failure ({what})"))),
                Fault::Hang => futures_util::future::pending().await,
                Fault::Slow(delay) => {
                    self.host.sleep(delay).await;
                    operation().await
                }
            }
        })
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        self.run(format!("get {key}"), || self.inner.get(key))
    }

    fn put<'a>(&'a self, key: &'a str, value: &'a [u8]) -> BoxFuture<'a, Result<(), StoreError>> {
        self.run(format!("put {key}"), || self.inner.put(key, value))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<String>, StoreError>> {
        self.run(format!("list {prefix}"), || self.inner.list(prefix))
    }
}
