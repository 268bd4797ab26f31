//! Strings held by window state, stored once per operator.
//!
//! Window state keeps every record of its windows, and most of a record's text repeats: the same
//! product ids, categories, device classes and locations across records and keys. The table keeps
//! each distinct string once. State holds it either as a 4-byte [`Sym`], counted in the table and
//! freed when the last reference is released, or as a shared `Rc<str>` ([`Symbols::share`]) that
//! needs no release: the table drops its copy of a string no state holds any more when it sweeps,
//! each time it has doubled since the last sweep.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU32;
use std::rc::Rc;

use crate::changes::FastHash;

/// A map keyed by symbols.
pub type SymMap<V> = HashMap<Sym, V, FastHash>;

/// A string held in a [`Symbols`] table. `Option<Sym>` is as small as `Sym`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sym(NonZeroU32);

impl Sym {
    fn slot(self) -> usize {
        self.0.get() as usize - 1
    }
}

struct Slot {
    text: Rc<str>,
    refs: u32,
}

/// A reference-counted string table.
#[derive(Default)]
pub struct Symbols {
    index: HashMap<Rc<str>, Sym, FastHash>,
    slots: Vec<Slot>,
    free: Vec<Sym>,
    /// The strings handed out by [`Symbols::share`].
    shared: HashSet<Rc<str>, FastHash>,
    /// How many of them the last sweep kept.
    swept: usize,
}

/// Shared strings the table holds before its first sweep.
const FIRST_SWEEP: usize = 4096;

impl Symbols {
    /// The symbol of `text`, counting one more reference to it.
    pub fn intern(&mut self, text: &str) -> Sym {
        if let Some(&sym) = self.index.get(text) {
            self.slots[sym.slot()].refs += 1;
            return sym;
        }
        let text: Rc<str> = Rc::from(text);
        let sym = match self.free.pop() {
            Some(sym) => {
                self.slots[sym.slot()] = Slot {
                    text: text.clone(),
                    refs: 1,
                };
                sym
            }
            None => {
                self.slots.push(Slot {
                    text: text.clone(),
                    refs: 1,
                });
                let number = u32::try_from(self.slots.len())
                    .ok()
                    .and_then(NonZeroU32::new)
                    .expect("fewer than 2^32 distinct strings held at once");
                Sym(number)
            }
        };
        self.index.insert(text, sym);
        sym
    }

    /// [`Symbols::intern`] of an optional string.
    pub fn intern_opt(&mut self, text: Option<&str>) -> Option<Sym> {
        text.map(|text| self.intern(text))
    }

    /// Drops one reference to `sym`; the string is freed with its last reference.
    pub fn release(&mut self, sym: Sym) {
        let slot = &mut self.slots[sym.slot()];
        slot.refs -= 1;
        if slot.refs == 0 {
            let text = std::mem::replace(&mut slot.text, Rc::from(""));
            self.index.remove(&text);
            self.free.push(sym);
        }
    }

    /// [`Symbols::release`] of an optional symbol.
    pub fn release_opt(&mut self, sym: Option<Sym>) {
        if let Some(sym) = sym {
            self.release(sym);
        }
    }

    /// The table's copy of `text`, for state that holds text itself rather than a [`Sym`]. It
    /// needs no release: dropping the last copy outside the table frees it at the next sweep.
    pub fn share(&mut self, text: &str) -> Rc<str> {
        if let Some(shared) = self.shared.get(text) {
            return shared.clone();
        }
        if self.shared.len() >= (2 * self.swept).max(FIRST_SWEEP) {
            self.sweep();
        }
        let shared: Rc<str> = Rc::from(text);
        self.shared.insert(shared.clone());
        shared
    }

    /// Drops the table's copies of shared strings that no state holds.
    fn sweep(&mut self) {
        self.shared.retain(|text| Rc::strong_count(text) > 1);
        self.swept = self.shared.len();
    }

    /// Shared strings some state still holds (after a sweep).
    #[cfg(test)]
    fn shared_len(&mut self) -> usize {
        self.sweep();
        self.shared.len()
    }

    /// The text of `sym`.
    pub fn text(&self, sym: Sym) -> &str {
        &self.slots[sym.slot()].text
    }

    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether no string is held.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_shared_and_freed_with_their_last_reference() {
        let mut symbols = Symbols::default();
        let a = symbols.intern("shoes");
        let b = symbols.intern("hats");
        assert_eq!(symbols.intern("shoes"), a);
        assert_ne!(a, b);
        assert_eq!(symbols.text(a), "shoes");
        assert_eq!(symbols.len(), 2);
        symbols.release(a);
        assert_eq!(symbols.text(a), "shoes");
        symbols.release(a);
        assert_eq!(symbols.len(), 1);
        let c = symbols.intern("socks");
        assert_eq!(c, a, "a freed slot is reused");
        assert_eq!(symbols.text(c), "socks");
        assert_eq!(symbols.text(b), "hats");
        symbols.release(b);
        symbols.release(c);
        assert!(symbols.is_empty());
    }

    #[test]
    fn shared_strings_are_one_copy_and_swept_once_no_state_holds_them() {
        let mut symbols = Symbols::default();
        let a = symbols.share("shoes");
        let b = symbols.share("shoes");
        assert!(Rc::ptr_eq(&a, &b));
        // Strings let go of at once do not pile up in the table.
        for i in 0..10 * FIRST_SWEEP {
            drop(symbols.share(&format!("p{i}")));
            assert!(symbols.shared.len() <= FIRST_SWEEP, "{i}");
        }
        assert_eq!(symbols.shared_len(), 1, "only `shoes` is held");
        drop((a, b));
        assert_eq!(symbols.shared_len(), 0);
    }
}
