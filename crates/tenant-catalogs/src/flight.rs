//! Single-flight: concurrent requests for the same key share one load.
//!
//! When a tenant's catalog is not cached, every request that arrives before it is would
//! otherwise read the store and layer and validate the catalog itself: N misses, N reads,
//! N loads of the same bytes, at the moment the store is least able to take it. The first
//! miss starts the load; the others await the same future (`futures`' `Shared`), and the
//! flight leaves the table as it completes, after the load has filled the cache, so a
//! request arriving later finds the cache instead of starting a flight.
//!
//! The table holds flights weakly: when every request waiting on one is gone (clients
//! disconnected), the load is dropped with them, releasing what it held (its bulkhead
//! place, the store call), and the next request for the key starts afresh.

use crate::host::BoxFuture;
use futures_util::FutureExt;
use futures_util::future::{Shared, WeakShared};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

type Flights<K, V> = Arc<Mutex<HashMap<K, WeakShared<BoxFuture<'static, V>>>>>;

/// Loads in flight, by key.
pub(crate) struct SingleFlight<K, V: Clone> {
    flights: Flights<K, V>,
}

impl<K, V> SingleFlight<K, V>
where
    K: Hash + Eq + Clone + Send + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new() -> Self {
        SingleFlight {
            flights: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn table(
        flights: &Flights<K, V>,
    ) -> MutexGuard<'_, HashMap<K, WeakShared<BoxFuture<'static, V>>>> {
        // Entries are inserted and removed whole; a poisoned table is still consistent.
        flights.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Joins the flight for `key`, starting it with `load` if there is none. The second
    /// value says whether this call started it (a miss) or joined one (coalesced).
    pub fn join(
        &self,
        key: K,
        load: impl FnOnce() -> BoxFuture<'static, V>,
    ) -> (Shared<BoxFuture<'static, V>>, bool) {
        let mut table = Self::table(&self.flights);
        if let Some(flight) = table.get(&key).and_then(WeakShared::upgrade) {
            return (flight, false);
        }
        // Abandoned flights of other keys go too, so the table stays as small as the
        // number of loads actually under way.
        table.retain(|_, f| f.upgrade().is_some());
        let inner = load();
        let flights = self.flights.clone();
        let done_key = key.clone();
        let flight: BoxFuture<'static, V> = Box::pin(async move {
            let value = inner.await;
            Self::table(&flights).remove(&done_key);
            value
        });
        let flight = flight.shared();
        if let Some(weak) = flight.downgrade() {
            table.insert(key, weak);
        }
        (flight, true)
    }
}
