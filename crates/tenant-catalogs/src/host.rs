//! What only the host has: a clock, a timer and randomness.
//!
//! The crate runs in the native server (tokio), in the edge worker (a V8 isolate with no
//! tokio timers; `setTimeout` and `Date.now()` through workers-rs) and in the WASI
//! component. None of those can share one runtime, so nothing here reads a clock or sleeps
//! by itself: the host passes a [`Host`], and every timing decision (breaker cool-down,
//! retry backoff and its jitter, read timeouts, pointer freshness) goes through it. Tests
//! pass a host whose clock they can read and whose randomness is fixed.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A future the host can await: `Send` on native hosts (a multi-threaded runtime moves it
/// between threads), not on wasm, where the platform's futures (Workers KV, `setTimeout`)
/// are not.
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A future the host can await (wasm: one thread, platform futures are not `Send`).
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// `Send` where [`BoxFuture`] must be, nothing on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` where [`BoxFuture`] must be, nothing on wasm.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` where state is shared between threads, nothing on wasm.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` where state is shared between threads, nothing on wasm.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// The host's clock, timer and randomness.
pub trait Host: MaybeSend + MaybeSync + 'static {
    /// Milliseconds on a clock that does not go backwards within the process (any epoch):
    /// `Instant` on a server, `Date.now()` on the edge.
    fn now_ms(&self) -> u64;
    /// Completes after `duration` (tokio's `sleep`, workers-rs' `Delay`, …).
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    /// 64 random bits; seeds the retry jitter, so instances do not retry in step.
    fn random_u64(&self) -> u64;
}
