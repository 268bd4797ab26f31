//! `min` and `max` of a property: a multiset of the values inside.

use std::collections::BTreeMap;

use operators::Order;

use super::{adjust, Accumulate, Item, Value};

/// The values inside, with their counts.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Extremes {
    values: BTreeMap<Item, u64>,
}

impl Extremes {
    /// The smallest value.
    pub fn min(&self) -> Option<Value> {
        self.values.keys().next().map(Value::of)
    }

    /// The largest value.
    pub fn max(&self) -> Option<Value> {
        self.values.keys().next_back().map(Value::of)
    }
}

impl Extremes {
    /// Joins the values of other records, at the cost of the smaller of the two.
    pub fn append(&mut self, mut other: Extremes) {
        if self.values.len() < other.values.len() {
            std::mem::swap(self, &mut other);
        }
        for (value, count) in other.values {
            *self.values.entry(value).or_default() += count;
        }
    }
}

impl Accumulate for Extremes {
    fn insert(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = value {
            adjust(&mut self.values, v, true);
        }
    }

    fn remove(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = value {
            adjust(&mut self.values, v, false);
        }
    }

    fn value(&self) -> Option<Value> {
        self.min()
    }
}
