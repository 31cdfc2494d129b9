//! A circuit breaker over the host's clock.
//!
//! Why our own: the maintained Rust breaker (`failsafe`) reads `std::time::Instant`, which
//! panics on `wasm32-unknown-unknown` (the edge worker) and cannot be given another clock
//! (its mock clock is a test-only thread-local). A consecutive-failure breaker is a small
//! state machine; this one takes the time from [`crate::Host::now_ms`] as an argument.
//!
//! Closed: calls pass; `failure_threshold` consecutive failures open it. Open: calls fail
//! at once until `cool_down` has passed. Half-open: exactly one call (the probe) passes;
//! its success closes the breaker, its failure opens it for another `cool_down`; while
//! the probe is out, other calls fail at once. A probe abandoned unfinished (its future
//! dropped) frees the slot for the next caller.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// When the breaker opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker (at least 1).
    pub failure_threshold: u32,
    /// How long it stays open before a probe is let through.
    pub cool_down: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cool_down: Duration::from_secs(10),
        }
    }
}

/// The breaker's state, as observers see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until_ms: u64 },
    HalfOpen { probing: bool },
}

/// A change of state, for the host's logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub to: BreakerState,
    pub at_ms: u64,
}

/// A consecutive-failure circuit breaker. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct Breaker {
    config: BreakerConfig,
    state: Arc<Mutex<State>>,
}

/// Leave to make one call; report its outcome with [`Permit::success`] or
/// [`Permit::failure`].
#[derive(Debug)]
pub struct Permit {
    breaker: Breaker,
    probe: bool,
    reported: bool,
}

/// The breaker refused the call: it is open (or half-open with its probe out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Milliseconds until a probe may be let through (0: a probe is out now).
    pub retry_in_ms: u64,
}

impl Breaker {
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                ..config
            },
            state: Arc::new(Mutex::new(State::Closed { failures: 0 })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is one assignment of a Copy value: a poisoned lock holds a whole state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state at `now_ms` (an open breaker whose cool-down is over reads half-open).
    pub fn state(&self, now_ms: u64) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until_ms } if now_ms < until_ms => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make a call at `now_ms`. The transition, if asking changed the state
    /// (open → half-open), comes with the permit.
    pub fn try_acquire(&self, now_ms: u64) -> Result<(Permit, Option<Transition>), Refused> {
        let mut state = self.lock();
        let (probe, transition) = match *state {
            State::Closed { .. } => (false, None),
            State::Open { until_ms } if now_ms < until_ms => {
                return Err(Refused {
                    retry_in_ms: until_ms - now_ms,
                });
            }
            State::Open { .. } => {
                *state = State::HalfOpen { probing: true };
                let t = Transition {
                    to: BreakerState::HalfOpen,
                    at_ms: now_ms,
                };
                (true, Some(t))
            }
            State::HalfOpen { probing: true } => return Err(Refused { retry_in_ms: 0 }),
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                (true, None)
            }
        };
        drop(state);
        Ok((
            Permit {
                breaker: self.clone(),
                probe,
                reported: false,
            },
            transition,
        ))
    }
}

impl Permit {
    /// The call succeeded: the breaker closes (if it was not already).
    pub fn success(mut self, now_ms: u64) -> Option<Transition> {
        self.reported = true;
        let mut state = self.breaker.lock();
        let was_closed = matches!(*state, State::Closed { .. });
        *state = State::Closed { failures: 0 };
        (!was_closed).then_some(Transition {
            to: BreakerState::Closed,
            at_ms: now_ms,
        })
    }

    /// The call failed: one more consecutive failure, or (for a probe) open again.
    pub fn failure(mut self, now_ms: u64) -> Option<Transition> {
        self.reported = true;
        let config = self.breaker.config;
        let mut state = self.breaker.lock();
        let open = State::Open {
            until_ms: now_ms.saturating_add(config.cool_down.as_millis() as u64),
        };
        match *state {
            State::Closed { failures } if failures + 1 >= config.failure_threshold => {
                *state = open;
            }
            State::Closed { failures } => {
                *state = State::Closed {
                    failures: failures + 1,
                };
                return None;
            }
            // A probe failed: open again. (A late failure of a call let through while
            // closed changes nothing once the breaker has opened.)
            State::HalfOpen { .. } if self.probe => *state = open,
            State::HalfOpen { .. } | State::Open { .. } => return None,
        }
        Some(Transition {
            to: BreakerState::Open,
            at_ms: now_ms,
        })
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe && !self.reported {
            let mut state = self.breaker.lock();
            if let State::HalfOpen { probing: true } = *state {
                *state = State::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(BreakerConfig {
            failure_threshold: 2,
            cool_down: Duration::from_millis(100),
        })
    }

    #[test]
    fn only_consecutive_failures_open_it() {
        let b = breaker();
        b.try_acquire(0).unwrap().0.failure(0);
        b.try_acquire(1).unwrap().0.success(1);
        b.try_acquire(2).unwrap().0.failure(2);
        assert_eq!(b.state(2), BreakerState::Closed);
        let t = b.try_acquire(3).unwrap().0.failure(3);
        assert_eq!(
            t,
            Some(Transition {
                to: BreakerState::Open,
                at_ms: 3
            })
        );
        assert_eq!(b.try_acquire(50).unwrap_err(), Refused { retry_in_ms: 53 });
    }

    #[test]
    fn half_open_lets_one_probe_through() {
        let b = breaker();
        for _ in 0..2 {
            b.try_acquire(0).unwrap().0.failure(0);
        }
        assert_eq!(b.state(100), BreakerState::HalfOpen);
        let (probe, t) = b.try_acquire(100).unwrap();
        assert_eq!(
            t,
            Some(Transition {
                to: BreakerState::HalfOpen,
                at_ms: 100
            })
        );
        assert_eq!(b.try_acquire(101).unwrap_err(), Refused { retry_in_ms: 0 });
        // An abandoned probe frees the slot for the next caller.
        drop(probe);
        let (probe, t) = b.try_acquire(102).unwrap();
        assert_eq!(t, None);
        assert_eq!(
            probe.failure(103),
            Some(Transition {
                to: BreakerState::Open,
                at_ms: 103
            })
        );
        assert_eq!(b.state(202), BreakerState::Open);
        let (probe, _) = b.try_acquire(203).unwrap();
        assert_eq!(
            probe.success(204),
            Some(Transition {
                to: BreakerState::Closed,
                at_ms: 204
            })
        );
        assert_eq!(b.state(204), BreakerState::Closed);
    }

    #[test]
    fn a_late_failure_of_a_call_let_through_while_closed_does_not_reopen() {
        let b = breaker();
        let (late, _) = b.try_acquire(0).unwrap();
        for _ in 0..2 {
            b.try_acquire(0).unwrap().0.failure(0);
        }
        let (probe, _) = b.try_acquire(100).unwrap();
        assert_eq!(late.failure(101), None);
        assert_eq!(b.state(101), BreakerState::HalfOpen);
        probe.success(102);
        assert_eq!(b.state(102), BreakerState::Closed);
    }
}
