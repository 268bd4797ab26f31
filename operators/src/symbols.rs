//! Strings held by window state, stored once per operator.
//!
//! Window state keeps every record of its windows, and most of a record's text repeats: the same
//! product ids, categories, device classes and locations across records and keys. Records hold a
//! 4-byte [`Sym`] instead of a string; the table keeps each distinct string once, with a count of
//! the records that refer to it, and frees it when the last one leaves.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::num::NonZeroU32;
use std::rc::Rc;

use crate::changes::Fnv;

/// A map keyed by symbols.
pub type SymMap<V> = HashMap<Sym, V, BuildHasherDefault<Fnv>>;

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
    index: HashMap<Rc<str>, Sym, BuildHasherDefault<Fnv>>,
    slots: Vec<Slot>,
    free: Vec<Sym>,
}

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

    /// The table's own copy of `text`, counting one more reference to it: for state that holds
    /// text itself rather than a [`Sym`], and so reads it without the table.
    pub fn share(&mut self, text: &str) -> Rc<str> {
        let sym = self.intern(text);
        self.slots[sym.slot()].text.clone()
    }

    /// Drops one reference to `text`, taken by [`Symbols::share`].
    pub fn unshare(&mut self, text: &str) {
        if let Some(&sym) = self.index.get(text) {
            self.release(sym);
        }
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
}
