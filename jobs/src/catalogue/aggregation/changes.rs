//! `changes`: how many times the property differs between consecutive records that have it.

use operators::Order;

use super::sorted::Sorted;
use super::{Accumulate, Item, Value};

/// The records with a value, in order, and the changes between neighbours.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Changes {
    records: Sorted<Item>,
    changes: u64,
}

impl Changes {
    /// The neighbours of index `at` once the record there is taken out (`gap`: it is already).
    fn neighbours(&self, at: usize, gap: bool) -> (Option<&Item>, Option<&Item>) {
        let before = at.checked_sub(1).and_then(|i| self.records.get(i));
        let after = self.records.get(if gap { at } else { at + 1 });
        (before, after)
    }

    /// The changes a value `at` between `before` and `after` makes, and the one it removes.
    fn around(before: Option<&Item>, at: &Item, after: Option<&Item>) -> (u64, u64) {
        let differs = |a: Option<&Item>, b: &Item| u64::from(a.is_some_and(|a| a != b));
        let made = differs(before, at) + differs(after, at);
        let bridged = match (before, after) {
            (Some(b), Some(a)) => u64::from(a != b),
            _ => 0,
        };
        (made, bridged)
    }
}

impl Changes {
    /// Joins the records of `later`, which all come after these.
    pub fn append(&mut self, later: Changes) {
        let boundary = match (self.records.last(), later.records.first()) {
            (Some(a), Some(b)) => u64::from(a != b),
            _ => 0,
        };
        self.changes += later.changes + boundary;
        self.records.append(later.records);
    }
}

impl Accumulate for Changes {
    fn insert(&mut self, order: Order, value: Option<&Item>, _group: Option<&Item>) {
        let Some(v) = value else { return };
        let at = self.records.insert(order, v.clone());
        let (before, after) = self.neighbours(at, false);
        let (made, bridged) = Self::around(before, v, after);
        self.changes = (self.changes + made).saturating_sub(bridged);
    }

    fn remove(&mut self, order: Order, _value: Option<&Item>, _group: Option<&Item>) {
        let Some((at, v)) = self.records.remove(order) else {
            return;
        };
        let (before, after) = self.neighbours(at, true);
        let (made, bridged) = Self::around(before, &v, after);
        self.changes = (self.changes + bridged).saturating_sub(made);
    }

    fn value(&self) -> Option<Value> {
        Some(Value::count(self.changes as usize))
    }
}
