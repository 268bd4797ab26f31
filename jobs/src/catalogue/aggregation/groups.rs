//! `mean_of_earliest`: the mean over groups of the property of each group's earliest record.
//! (`groups_at_least` reads the distinct counts of the group property, `distinct.rs`.)

use operators::Order;

use super::sorted::Sorted;
use super::sum::Sum;
use super::{Accumulate, Item, ItemMap, Number, Quantity, Value};

/// Per group its records in order with their values, and the sum of the groups' earliest
/// values.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
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

impl Earliest {
    /// Joins the records of `later`, which all come after these: a group of both keeps its
    /// earliest value from here.
    pub fn append(&mut self, later: Earliest) {
        let mut firsts = later.firsts;
        for (group, records) in later.groups {
            match self.groups.get_mut(&group) {
                Some(kept) => {
                    if let Some(v) = Self::earliest(&records) {
                        firsts.count(v, false);
                    }
                    kept.append(records);
                }
                None => {
                    self.groups.insert(group, records);
                }
            }
        }
        self.firsts.append(&firsts);
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
