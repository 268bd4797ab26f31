//! Republishing: when the store loses its contents (a Redis restarted without persistence,
//! flushed, or failed over to an empty replica), change-only emission would never write again
//! the values that do not change. The sink notices the loss and calls [`Republish::request`];
//! every window operator of the worker then pushes every value a fault-free store would hold
//! for its keys, as of its last emission, and goes on with its change-only writes, which are
//! relative to those values.
//!
//! Republishing reads the operators' memory of what they wrote ([`Written`], [`Closed`]) and
//! changes none of their state, so the emissions after it are exactly those of a run without
//! it.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use timely::scheduling::Activator;

use crate::changes::{KeyMap, Written};
use crate::time::Millis;

/// A worker's republish requests: a generation counter that the sink increases and the window
/// operators compare with the generation they last served. Clones share the counter. The
/// handle belongs to one worker thread (the sink and the operators of a worker run there).
#[derive(Clone, Default)]
pub struct Republish(Rc<Requests>);

#[derive(Default)]
struct Requests {
    generation: Cell<u64>,
    /// The operators to schedule on a request, so that they republish at once rather than at
    /// their next emission, which may be far off on a quiet stream.
    wake: RefCell<Vec<Activator>>,
}

impl Republish {
    /// A handle with no request made.
    pub fn new() -> Republish {
        Republish::default()
    }

    /// Asks every operator of the worker to publish all its current values again.
    pub fn request(&self) {
        self.0.generation.set(self.0.generation.get() + 1);
        for operator in self.0.wake.borrow().iter() {
            operator.activate();
        }
    }

    /// The number of requests made so far.
    pub fn generation(&self) -> u64 {
        self.0.generation.get()
    }

    /// Schedules `operator` whenever a request is made.
    pub fn wake_on_request(&self, operator: Activator) {
        self.0.wake.borrow_mut().push(operator);
    }
}

impl std::fmt::Debug for Republish {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Republish")
            .field(&self.generation())
            .finish()
    }
}

/// What the store still holds of closed groups (sessions), per key: the values they left with
/// their expiry, less those a later group of the key has written over. Kept apart from the
/// operator's per-key state, which may be forgotten before the store's expiry runs out.
#[derive(Debug, Default)]
pub struct Closed {
    by_key: KeyMap<Retained>,
    /// Keys by a time at which a value of theirs expires, to forget it then.
    expiries: BTreeMap<Millis, Vec<String>>,
}

impl Closed {
    /// Takes over the values of `key`'s group that closes at `now` and expires `ttl` later,
    /// leaving `written` cleared (as [`Written::clear`]).
    pub fn keep(&mut self, key: &str, written: &mut Written, now: Millis, ttl: Millis) {
        let retained = match self.by_key.get_mut(key) {
            Some(retained) => retained,
            None => self.by_key.entry(key.to_string()).or_default(),
        };
        retained.keep(written, now, ttl);
        if retained.is_empty() {
            self.by_key.remove(key);
        } else {
            let until = now.saturating_add(ttl);
            self.expiries
                .entry(until)
                .or_default()
                .push(key.to_string());
        }
    }

    /// Called after each write of `key`'s open group: see [`Retained::overwritten_by`].
    pub fn overwritten_by(&mut self, key: &str, written: &Written) {
        if self.by_key.is_empty() {
            return;
        }
        if let Some(retained) = self.by_key.get_mut(key) {
            retained.overwritten_by(written);
            if retained.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// Forgets the values whose expiry has run out at `now`.
    pub fn expire(&mut self, now: Millis) {
        while let Some(entry) = self.expiries.first_entry() {
            if *entry.key() > now {
                break;
            }
            for key in entry.remove() {
                if let Some(retained) = self.by_key.get_mut(&key) {
                    retained.expire(now);
                    if retained.is_empty() {
                        self.by_key.remove(&key);
                    }
                }
            }
        }
    }

    /// What is retained of `key`, for a checkpoint.
    pub fn get(&self, key: &str) -> Option<&Retained> {
        self.by_key.get(key)
    }

    /// The keys with retained values.
    pub fn keys(&self) -> impl Iterator<Item = &String> + '_ {
        self.by_key.keys()
    }

    /// Takes back what a checkpoint retained of `key`.
    pub fn restore(&mut self, key: String, retained: Retained) {
        for until in retained.values.iter().flatten().map(|&(_, until)| until) {
            self.expiries.entry(until).or_default().push(key.clone());
        }
        if !retained.is_empty() {
            self.by_key.insert(key, retained);
        }
    }

    /// Each value still in the store at `now`, as (key, feature index, value, remaining
    /// expiry).
    pub fn present(&self, now: Millis) -> impl Iterator<Item = (&str, usize, &str, Millis)> + '_ {
        self.by_key.iter().flat_map(move |(key, retained)| {
            retained
                .present(now)
                .map(move |(feature, value, ttl)| (key.as_str(), feature, value, ttl))
        })
    }
}

/// The values a closed group (a session) left in the store with their expiry, while a later
/// group of the same key may overwrite some of them: what the store still holds of it, so that
/// it can be republished.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Retained {
    /// Per feature: the value and the emission time at which its store expiry runs out.
    values: Vec<Option<(String, Millis)>>,
}

impl Retained {
    /// Takes over the values of a group that closes at `now` and expires `ttl` later, leaving
    /// `written` cleared (as [`Written::clear`]). Values of an earlier group that this one did
    /// not write stay, with their own expiry.
    pub fn keep(&mut self, written: &mut Written, now: Millis, ttl: Millis) {
        let until = now.saturating_add(ttl);
        for (feature, value) in written.take_values().into_iter().enumerate() {
            if let Some(value) = value {
                if self.values.len() <= feature {
                    self.values.resize(feature + 1, None);
                }
                self.values[feature] = Some((value, until));
            }
        }
        self.expire(now);
    }

    /// Forgets the values that a later group of the key has written over, called after each of
    /// its writes. A value present in `written` replaced the retained one in the store; a
    /// value the later group deleted was present at an earlier call.
    pub fn overwritten_by(&mut self, written: &Written) {
        if self.values.is_empty() {
            return;
        }
        for (feature, _) in written.present() {
            if let Some(slot) = self.values.get_mut(feature) {
                *slot = None;
            }
        }
    }

    /// Forgets the values whose expiry has run out at `now`.
    pub fn expire(&mut self, now: Millis) {
        for slot in &mut self.values {
            if slot.as_ref().is_some_and(|&(_, until)| until <= now) {
                *slot = None;
            }
        }
        if self.values.iter().all(Option::is_none) {
            self.values = Vec::new();
        }
    }

    /// Whether no value is held.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Each value still in the store at `now`, as (feature index, value, remaining expiry).
    pub fn present(&self, now: Millis) -> impl Iterator<Item = (usize, &str, Millis)> + '_ {
        self.values
            .iter()
            .enumerate()
            .filter_map(move |(feature, slot)| match slot {
                Some((value, until)) if *until > now => {
                    Some((feature, value.as_str(), until - now))
                }
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::Rendered;

    fn written(values: &[Option<&str>]) -> Written {
        let mut fresh = Rendered::default();
        fresh.reset(values.len());
        for (i, v) in values.iter().enumerate() {
            fresh.set_str(i, *v);
        }
        let mut w = Written::default();
        w.update(0, 0, &fresh, |_, _| {});
        w
    }

    fn present(r: &Retained, now: Millis) -> Vec<(usize, String, Millis)> {
        r.present(now)
            .map(|(f, v, ttl)| (f, v.to_string(), ttl))
            .collect()
    }

    #[test]
    fn requests_bump_the_generation_for_every_clone() {
        let handle = Republish::new();
        let other = handle.clone();
        assert_eq!(other.generation(), 0);
        handle.request();
        handle.request();
        assert_eq!(other.generation(), 2);
    }

    #[test]
    fn retained_values_expire_and_yield_to_later_writes() {
        let mut retained = Retained::default();
        let mut first = written(&[Some("a"), Some("b"), None]);
        retained.keep(&mut first, 100, 50);
        assert!(first.is_empty());
        assert_eq!(
            present(&retained, 120),
            vec![(0, "a".into(), 30), (1, "b".into(), 30)]
        );
        // A later session writes feature 1, then closes with features 1 and 2.
        let mut second = written(&[None, Some("c"), None]);
        retained.overwritten_by(&second);
        assert_eq!(present(&retained, 125), vec![(0, "a".into(), 25)]);
        second = written(&[None, Some("c"), Some("d")]);
        retained.keep(&mut second, 130, 50);
        assert_eq!(
            present(&retained, 140),
            vec![
                (0, "a".into(), 10),
                (1, "c".into(), 40),
                (2, "d".into(), 40)
            ]
        );
        assert_eq!(present(&retained, 150).len(), 2);
        retained.expire(179);
        assert!(!retained.is_empty());
        retained.expire(180);
        assert!(retained.is_empty());
    }

    #[test]
    fn closed_groups_are_forgotten_when_they_expire() {
        let mut closed = Closed::default();
        closed.keep("a", &mut written(&[Some("1")]), 10, 100);
        closed.keep("b", &mut written(&[Some("2"), Some("3")]), 20, 100);
        closed.keep("c", &mut written(&[None]), 20, 100);
        closed.overwritten_by("b", &written(&[Some("4"), None]));
        let mut held: Vec<_> = closed.present(50).collect();
        held.sort();
        assert_eq!(held, vec![("a", 0, "1", 60), ("b", 1, "3", 70)]);
        closed.expire(110);
        assert_eq!(closed.present(110).count(), 1);
        closed.expire(120);
        assert!(closed.by_key.is_empty() && closed.expiries.is_empty());
    }
}
