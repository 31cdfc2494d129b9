//! A concurrency bulkhead: at most `K` store reads in flight; the next one fails at once.
//!
//! Why not a semaphore crate: those (tokio's, async-lock's) exist to make callers wait in
//! line, and a waiting read is exactly what a bulkhead is for avoiding: a slow store would
//! pile requests up behind it. Failing fast needs only a counter and a guard that gives
//! the slot back, however the read ends (completed, failed or its future dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// At most `limit` holders of a [`Slot`] at a time. Cheap to clone (shared counter).
#[derive(Debug, Clone)]
pub struct Bulkhead {
    limit: usize,
    in_flight: Arc<AtomicUsize>,
}

/// One place in the bulkhead, given back when dropped.
#[derive(Debug)]
pub struct Slot {
    in_flight: Arc<AtomicUsize>,
}

impl Bulkhead {
    /// A bulkhead of `limit` places (at least 1).
    pub fn new(limit: usize) -> Bulkhead {
        Bulkhead {
            limit: limit.max(1),
            in_flight: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A place, or `None` when all are taken.
    pub fn try_enter(&self) -> Option<Slot> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot {
                in_flight: self.in_flight.clone(),
            })
    }

    /// Places taken now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
