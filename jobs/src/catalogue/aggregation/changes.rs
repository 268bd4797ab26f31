//! `changes`: how many times the property differs between consecutive records that have it.

use std::collections::BTreeMap;

use operators::Order;

use super::{Accumulate, Input, Value};

/// The records with a value, in order, and the changes between neighbours.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    records: BTreeMap<Order, Input>,
    changes: u64,
}

impl Changes {
    fn neighbours(&self, order: Order) -> (Option<&Input>, Option<&Input>) {
        let before = self.records.range(..order).next_back().map(|(_, v)| v);
        let after = self
            .records
            .range((std::ops::Bound::Excluded(order), std::ops::Bound::Unbounded))
            .next()
            .map(|(_, v)| v);
        (before, after)
    }

    /// The changes a value `at` between `before` and `after` makes, and the one it removes.
    fn around(before: Option<&Input>, at: &Input, after: Option<&Input>) -> (u64, u64) {
        let differs = |a: Option<&Input>, b: &Input| u64::from(a.is_some_and(|a| a != b));
        let made = differs(before, at) + differs(after, at);
        let bridged = match (before, after) {
            (Some(b), Some(a)) => u64::from(a != b),
            _ => 0,
        };
        (made, bridged)
    }
}

impl Accumulate for Changes {
    fn insert(&mut self, order: Order, value: Option<&Input>, _group: Option<&Input>) {
        let Some(v) = value else { return };
        let (before, after) = self.neighbours(order);
        let (made, bridged) = Self::around(before, v, after);
        self.changes = (self.changes + made).saturating_sub(bridged);
        self.records.insert(order, v.clone());
    }

    fn remove(&mut self, order: Order, _value: Option<&Input>, _group: Option<&Input>) {
        let Some(v) = self.records.remove(&order) else {
            return;
        };
        let (before, after) = self.neighbours(order);
        let (made, bridged) = Self::around(before, &v, after);
        self.changes = (self.changes + bridged).saturating_sub(made);
    }

    fn value(&self) -> Option<Value> {
        Some(Value::count(self.changes as usize))
    }
}
