//! `distinct_count`, `distinct_list` and `most_frequent`: the distinct values inside with how
//! often each occurs.

use std::rc::Rc;

use operators::Order;

use super::{count_in, Accumulate, Item, ItemMap, Value};

/// Distinct values and their counts.
#[derive(Clone, Debug, Default)]
pub struct Distinct {
    counts: ItemMap<u64>,
}

impl Distinct {
    /// The distinct values as text, sorted as strings.
    pub fn list(&self) -> Option<Value> {
        let mut items: Vec<Rc<str>> = self
            .counts
            .keys()
            .map(|value| match value {
                Item::Text(text) => text.0.clone(),
                other => other.render().into(),
            })
            .collect();
        items.sort_unstable();
        items.dedup();
        Some(Value::List(items))
    }

    /// The most frequent value, ties to the smallest; absent without values.
    pub fn most_frequent(&self) -> Option<Value> {
        let mut best: Option<(&Item, u64)> = None;
        for (value, &count) in &self.counts {
            let wins =
                best.is_none_or(|(top, most)| count > most || (count == most && value < top));
            if wins {
                best = Some((value, count));
            }
        }
        best.map(|(value, _)| Value::of(value))
    }
}

impl Accumulate for Distinct {
    fn insert(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = value {
            count_in(&mut self.counts, v, true);
        }
    }

    fn remove(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = value {
            count_in(&mut self.counts, v, false);
        }
    }

    /// The number of distinct values.
    fn value(&self) -> Option<Value> {
        Some(Value::count(self.counts.len()))
    }
}
