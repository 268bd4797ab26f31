//! Records between operators, and change-only emission of feature values.

use serde::{Deserialize, Serialize};

use crate::time::{Millis, Order};

/// A lane record: an entry of some lane, for one key, at one point of the record order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyed<E> {
    /// The key whose state the record updates (a user key or a session key).
    pub key: String,
    /// Event time.
    pub time: Millis,
    /// Event id, the tie breaker of equal event times.
    pub id: u128,
    /// The lane-specific payload.
    pub entry: E,
}

impl<E> Keyed<E> {
    /// The record's place in the total order of records.
    pub fn order(&self) -> Order {
        (self.time, self.id)
    }
}

/// Routes a key to a worker. FNV-1a: cheap, and the same in every process, unlike `RandomState`.
pub fn route(key: &str) -> u64 {
    use std::hash::Hasher;
    let mut hasher = Fnv::default();
    hasher.write(key.as_bytes());
    hasher.finish()
}

/// One change to the feature store: set `key` to `value` with an expiry, or delete it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FeatureWrite {
    /// The full store key, e.g. `user:42:cart_add_count_5m`.
    pub key: String,
    /// The new value; `None` deletes the key.
    pub value: Option<String>,
    /// Expiry of a set, in milliseconds (unused for deletes).
    pub ttl_ms: u64,
    /// Whether a key the store still holds keeps its own expiry, and only a missing key gets
    /// `ttl_ms`. Set on the values of closed sessions written again after the store lost data:
    /// their remaining expiry is known only in event time, which in a replay runs far ahead of
    /// the wall clock the store counts in, so a plain set would cut short an expiry the store
    /// had right.
    #[serde(default)]
    pub keep_expiry: bool,
}

/// Freshly computed feature values, rendered into buffers that are reused from one emission
/// to the next so that computing an unchanged value allocates nothing.
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    slots: Vec<String>,
    present: Vec<bool>,
}

impl Rendered {
    /// Prepares `features` empty slots.
    pub fn reset(&mut self, features: usize) {
        self.slots.resize_with(features, String::new);
        self.present.clear();
        self.present.resize(features, false);
    }

    /// The buffer of feature `index`, emptied and marked present.
    pub fn slot(&mut self, index: usize) -> &mut String {
        self.present[index] = true;
        let slot = &mut self.slots[index];
        slot.clear();
        slot
    }

    /// Marks feature `index` present with the text of `value`.
    pub fn set(&mut self, index: usize, value: impl std::fmt::Display) {
        use std::fmt::Write;
        let _ = write!(self.slot(index), "{value}");
    }

    /// Marks feature `index` present with `value`, if there is one.
    pub fn set_str(&mut self, index: usize, value: Option<&str>) {
        if let Some(value) = value {
            self.slot(index).push_str(value);
        }
    }

    /// The value of feature `index`, if present.
    pub fn get(&self, index: usize) -> Option<&str> {
        if self.present.get(index).copied().unwrap_or(false) {
            Some(self.slots[index].as_str())
        } else {
            None
        }
    }
}

/// The values last written for one group of features (one key's window or session), so that
/// only changes are emitted.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Written {
    values: Vec<Option<String>>,
    /// Emission time at which every present value was last written: values rewritten at least
    /// every refresh period keep their store expiry from running out while still current.
    refreshed_at: Millis,
}

impl Written {
    /// Whether nothing is currently written.
    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// Forgets what was written, so that the next [`Written::update`] writes every present value.
    pub fn clear(&mut self) {
        self.values.clear();
    }

    /// Forgets what was written, as [`Written::clear`], and returns it: per feature, its value.
    pub fn take_values(&mut self) -> Vec<Option<String>> {
        std::mem::take(&mut self.values)
    }

    /// Each value currently written, as (feature index, value).
    pub fn present(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter_map(|(index, value)| Some((index, value.as_deref()?)))
    }

    /// Compares `fresh` with what was written and reports each change as (feature index, value).
    /// When `now` is at least `refresh_every` past the last full write, every present value is
    /// reported again.
    pub fn update(
        &mut self,
        now: Millis,
        refresh_every: Millis,
        fresh: &Rendered,
        mut emit: impl FnMut(usize, Option<&str>),
    ) {
        let features = fresh.slots.len();
        if self.values.len() != features {
            self.values.resize(features, None);
        }
        let refresh = self.refresh_due(now, refresh_every);
        for (index, old) in self.values.iter_mut().enumerate() {
            let new = fresh.get(index);
            if !same(old.as_deref(), new) || (refresh && new.is_some()) {
                match (old.as_mut(), new) {
                    (Some(old), Some(new)) => {
                        old.clear();
                        old.push_str(new);
                    }
                    (_, new) => *old = new.map(str::to_string),
                }
                emit(index, new);
            }
        }
        if refresh {
            self.refreshed_at = now;
        }
    }

    /// Whether the next update at `now` rewrites every present value.
    pub fn refresh_due(&self, now: Millis, refresh_every: Millis) -> bool {
        now.saturating_sub(self.refreshed_at) >= refresh_every
    }
}

/// Whether two values are equal. Most are a few bytes, where comparing them in place is cheaper
/// than a call to `memcmp`.
fn same(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.as_bytes(), b.as_bytes());
            if a.len() != b.len() {
                false
            } else if a.len() > 16 {
                a == b
            } else {
                a.iter().zip(b).all(|(x, y)| x == y)
            }
        }
        (None, None) => true,
        _ => false,
    }
}

/// Builds a store key from its parts without intermediate allocations.
pub fn store_key(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(w: &mut Written, now: Millis, vals: &[Option<&str>]) -> Vec<(usize, Option<String>)> {
        let mut fresh = Rendered::default();
        fresh.reset(vals.len());
        for (i, v) in vals.iter().enumerate() {
            fresh.set_str(i, *v);
        }
        let mut out = Vec::new();
        w.update(now, 100, &fresh, |i, v| out.push((i, v.map(String::from))));
        out
    }

    #[test]
    fn emits_only_changes_then_refreshes() {
        let mut w = Written::default();
        assert_eq!(run(&mut w, 10, &[Some("a"), None]).len(), 1);
        assert!(run(&mut w, 20, &[Some("a"), None]).is_empty());
        assert_eq!(
            run(&mut w, 30, &[Some("a"), Some("b")]),
            vec![(1, Some("b".into()))]
        );
        assert_eq!(run(&mut w, 40, &[None, Some("b")]), vec![(0, None)]);
        // A refresh rewrites present values only.
        assert_eq!(
            run(&mut w, 200, &[None, Some("b")]),
            vec![(1, Some("b".into()))]
        );
        assert!(run(&mut w, 210, &[None, Some("b")]).is_empty());
        assert!(!w.is_empty());
    }
}

/// FNV-1a as a `Hasher`: per-key state is looked up once or twice per record, and keys are
/// short strings, where SipHash's setup cost dominates.
#[derive(Clone, Copy, Debug)]
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= byte as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The hasher of in-memory maps: FxHash reads a key eight bytes at a time where FNV-1a reads one
/// (routing keeps FNV-1a, which every process computes alike).
pub type FastHash = rustc_hash::FxBuildHasher;

/// A map from keys to per-key state.
pub type KeyMap<V> = std::collections::HashMap<String, V, FastHash>;
