//! A small most-recently-used shelf of values kept per tenant and catalog digest. Hosts
//! keep the API over each tenant's catalog here, so its answer memo outlives the request
//! that built it, while memory stays bounded by the shelf's capacity.

use crate::{Digest, TenantId};
use std::sync::Mutex;

/// At most `capacity` values, most recently used first.
pub struct Recent<V> {
    entries: Mutex<Vec<(TenantId, Digest, V)>>,
    capacity: usize,
}

impl<V: Clone> Recent<V> {
    pub fn new(capacity: usize) -> Recent<V> {
        Recent {
            entries: Mutex::new(Vec::new()),
            capacity: capacity.max(1),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(TenantId, Digest, V)>> {
        // Every change is one remove, insert or truncate: a poisoned list is consistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value kept for `tenant` and `digest`, made by `make` (and kept, pushing out the
    /// least recently used beyond capacity) when there is none.
    pub fn get_or_make(&self, tenant: &TenantId, digest: &Digest, make: impl FnOnce() -> V) -> V {
        let mut entries = self.entries();
        if let Some(at) = entries
            .iter()
            .position(|(t, d, _)| t == tenant && d == digest)
        {
            let entry = entries.remove(at);
            let value = entry.2.clone();
            entries.insert(0, entry);
            return value;
        }
        let value = make();
        entries.insert(0, (tenant.clone(), digest.clone(), value.clone()));
        entries.truncate(self.capacity);
        value
    }

    /// Every value kept, most recently used first.
    pub fn values(&self) -> Vec<V> {
        self.entries().iter().map(|(_, _, v)| v.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used_within_capacity() {
        let shelf = Recent::new(2);
        let (a, b) = (TenantId::parse("a").unwrap(), TenantId::parse("b").unwrap());
        let (one, two) = (Digest::of(b"1"), Digest::of(b"2"));
        assert_eq!(shelf.get_or_make(&a, &one, || 1), 1);
        assert_eq!(shelf.get_or_make(&a, &one, || 9), 1, "kept");
        assert_eq!(shelf.get_or_make(&a, &two, || 2), 2);
        assert_eq!(shelf.get_or_make(&a, &one, || 9), 1, "used again: first");
        assert_eq!(shelf.get_or_make(&b, &one, || 3), 3);
        assert_eq!(shelf.values(), [3, 1], "a/two was the least recently used");
    }
}
