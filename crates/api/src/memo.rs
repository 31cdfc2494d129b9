//! A bounded memo of rendered representations, keyed by their strong ETag.
//!
//! A tag names a representation by everything its bytes depend on (engine and API
//! versions, build identity, catalog digest, route, normalised inputs, format), so the bytes
//! rendered once for a tag are the bytes of every later answer with that tag. Long-lived
//! hosts (an edge isolate, a server process) see the same few criteria again and again;
//! for those, resolving and rendering once is enough. A fresh instance per request (the
//! wasi:http proxy model) simply starts empty.
//!
//! Bounded in entries (first in, first out when full), so memory stays within a stated
//! size whatever clients ask for: at most [`CAPACITY`] bodies, each at most one recipe or
//! query document.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

/// How many rendered bodies the memo holds.
pub const CAPACITY: usize = 128;

#[derive(Debug, Default)]
struct Entries {
    bodies: BTreeMap<String, Arc<[u8]>>,
    order: VecDeque<String>,
}

/// Shared by clones of an [`crate::Api`]: their answers for a tag are the same bytes.
#[derive(Debug, Clone, Default)]
pub struct Memo(Arc<Mutex<Entries>>);

impl Memo {
    /// The body for `tag`, rendered by `render` only when the memo does not hold it.
    pub fn body<E>(
        &self,
        tag: &str,
        render: impl FnOnce() -> Result<Vec<u8>, E>,
    ) -> Result<Vec<u8>, E> {
        if let Some(body) = self.lock().and_then(|e| e.bodies.get(tag).cloned()) {
            return Ok(body.to_vec());
        }
        let body = render()?;
        if let Some(mut entries) = self.lock() {
            if entries.order.len() >= CAPACITY
                && let Some(oldest) = entries.order.pop_front()
            {
                entries.bodies.remove(&oldest);
            }
            entries.order.push_back(tag.to_owned());
            entries
                .bodies
                .insert(tag.to_owned(), Arc::from(body.as_slice()));
        }
        Ok(body)
    }

    /// How many bodies it holds.
    pub fn len(&self) -> usize {
        self.lock().map_or(0, |e| e.bodies.len())
    }

    /// Forgets every body (an operator's cache flush); returns how many there were.
    pub fn flush(&self) -> usize {
        self.lock().map_or(0, |mut e| {
            e.order.clear();
            std::mem::take(&mut e.bodies).len()
        })
    }

    /// A poisoned lock (a panic while holding it) only costs the memo, never an answer.
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Entries>> {
        self.0.lock().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_once_per_tag_and_stays_bounded() {
        let memo = Memo::default();
        let mut renders = 0;
        for _ in 0..3 {
            let body = memo.body::<()>("a", || {
                renders += 1;
                Ok(b"A".to_vec())
            });
            assert_eq!(body, Ok(b"A".to_vec()));
        }
        assert_eq!(renders, 1);
        for i in 0..CAPACITY * 3 {
            memo.body::<()>(&i.to_string(), || Ok(vec![0; 8])).unwrap();
        }
        assert_eq!(memo.len(), CAPACITY);
        assert_eq!(memo.flush(), CAPACITY);
        assert_eq!(memo.len(), 0);
        // A failed render is not remembered.
        assert_eq!(memo.body("e", || Err("no")), Err("no"));
        assert_eq!(
            memo.body::<&str>("e", || Ok(b"E".to_vec())),
            Ok(b"E".to_vec())
        );
    }
}
