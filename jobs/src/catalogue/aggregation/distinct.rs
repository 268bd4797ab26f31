//! `distinct_count`, `distinct_list` and `most_frequent`: the distinct values inside with how
//! often each occurs.

use std::collections::BTreeMap;

use operators::Order;

use super::{adjust, Accumulate, Input, Value};

/// Distinct values and their counts.
#[derive(Clone, Debug, Default)]
pub struct Distinct {
    counts: BTreeMap<Input, u64>,
}

impl Distinct {
    /// The distinct values as text, sorted as strings.
    pub fn list(&self) -> Option<Value> {
        let mut items: Vec<String> = self.counts.keys().map(Input::render).collect();
        items.sort_unstable();
        items.dedup();
        Some(Value::List(items))
    }

    /// The most frequent value, ties to the smallest; absent without values.
    pub fn most_frequent(&self) -> Option<Value> {
        let mut best: Option<(&Input, u64)> = None;
        // Ascending order: a later value wins only with strictly more records.
        for (value, &count) in &self.counts {
            if best.is_none_or(|(_, top)| count > top) {
                best = Some((value, count));
            }
        }
        best.map(|(value, _)| Value::of(value))
    }
}

impl Accumulate for Distinct {
    fn insert(&mut self, _order: Order, value: Option<&Input>, _group: Option<&Input>) {
        if let Some(v) = value {
            adjust(&mut self.counts, v, true);
        }
    }

    fn remove(&mut self, _order: Order, value: Option<&Input>, _group: Option<&Input>) {
        if let Some(v) = value {
            adjust(&mut self.counts, v, false);
        }
    }

    /// The number of distinct values.
    fn value(&self) -> Option<Value> {
        Some(Value::count(self.counts.len()))
    }
}
