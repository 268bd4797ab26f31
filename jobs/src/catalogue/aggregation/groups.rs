//! Grouped aggregations: `groups_at_least` (groups with at least N records) and
//! `mean_of_earliest` (mean over groups of the property of each group's earliest record).

use operators::Order;

use super::sorted::Sorted;
use super::sum::Sum;
use super::{count_in, Accumulate, Item, ItemMap, Number, Quantity, Value};

/// Records per group, and how many groups reach the threshold.
#[derive(Clone, Debug)]
pub struct Groups {
    at_least: u64,
    counts: ItemMap<u64>,
    reached: u64,
}

impl Groups {
    /// Counts the groups with at least `at_least` records.
    pub fn new(at_least: u64) -> Groups {
        Groups {
            at_least: at_least.max(1),
            counts: ItemMap::default(),
            reached: 0,
        }
    }
}

impl Accumulate for Groups {
    fn insert(&mut self, _order: Order, _value: Option<&Item>, group: Option<&Item>) {
        if let Some(g) = group {
            count_in(&mut self.counts, g, true);
            if self.counts.get(g) == Some(&self.at_least) {
                self.reached += 1;
            }
        }
    }

    fn remove(&mut self, _order: Order, _value: Option<&Item>, group: Option<&Item>) {
        if let Some(g) = group {
            if self.counts.get(g) == Some(&self.at_least) {
                self.reached = self.reached.saturating_sub(1);
            }
            count_in(&mut self.counts, g, false);
        }
    }

    fn value(&self) -> Option<Value> {
        Some(Value::count(self.reached as usize))
    }
}

/// Per group its records in order with their values, and the sum of the groups' earliest
/// values.
#[derive(Clone, Debug, Default)]
pub struct Earliest {
    groups: ItemMap<Sorted<Option<Quantity>>>,
    firsts: Sum,
}

impl Earliest {
    fn earliest(records: &Sorted<Option<Quantity>>) -> Option<Number> {
        records.first().copied().flatten().map(Quantity::number)
    }

    fn change(&mut self, group: &Item, update: impl FnOnce(&mut Sorted<Option<Quantity>>)) {
        let records = self.groups.entry(group.clone()).or_default();
        let before = Self::earliest(records);
        let had = !records.is_empty();
        update(records);
        let after = Self::earliest(records);
        let has = !records.is_empty();
        if !has {
            self.groups.remove(group);
        }
        if let (true, Some(v)) = (had, before) {
            self.firsts.count(v, false);
        }
        if let (true, Some(v)) = (has, after) {
            self.firsts.count(v, true);
        }
    }
}

impl Accumulate for Earliest {
    fn insert(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>) {
        if let Some(g) = group {
            let value = match value {
                Some(Item::Number(q)) => Some(*q),
                _ => None,
            };
            self.change(g, |records| {
                records.insert(order, value);
            });
        }
    }

    fn remove(&mut self, order: Order, _value: Option<&Item>, group: Option<&Item>) {
        if let Some(g) = group {
            self.change(g, |records| {
                records.remove(order);
            });
        }
    }

    /// The mean of the groups' earliest values; absent when no group's earliest record has one.
    fn value(&self) -> Option<Value> {
        self.firsts.mean()
    }
}
