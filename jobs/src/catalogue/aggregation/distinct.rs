//! `distinct_count`, `distinct_list`, `most_frequent` and `groups_at_least`: the distinct values
//! inside with how often each occurs.

use std::rc::Rc;

use operators::Order;

use super::{count_in, Accumulate, Item, ItemMap, Value};

/// Distinct values and their counts, and for each watched threshold how many values reach it.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Distinct {
    counts: ItemMap<u64>,
    /// (threshold, values with at least that many records).
    reached: Vec<(u64, u64)>,
}

impl Distinct {
    /// Also counts the values with at least `n` records (at least 1).
    pub fn watch(&mut self, n: u64) {
        let n = n.max(1);
        if !self.reached.iter().any(|(t, _)| *t == n) {
            let already = self.counts.values().filter(|&&c| c >= n).count() as u64;
            self.reached.push((n, already));
        }
    }

    /// The values with at least `n` records, if `n` is watched.
    pub fn at_least(&self, n: u64) -> Option<Value> {
        let n = n.max(1);
        let (_, reached) = self.reached.iter().find(|(t, _)| *t == n)?;
        Some(Value::count(*reached as usize))
    }

    /// Counts `value` in or out, keeping the watched thresholds.
    fn count(&mut self, value: &Item, up: bool) {
        if self.reached.is_empty() {
            // Nothing watched: one lookup, not two, on the per-record path.
            count_in(&mut self.counts, value, up);
            return;
        }
        let before = self.counts.get(value).copied().unwrap_or(0);
        count_in(&mut self.counts, value, up);
        let after = if up {
            before + 1
        } else {
            before.saturating_sub(1)
        };
        for (threshold, reached) in &mut self.reached {
            if before < *threshold && after >= *threshold {
                *reached += 1;
            } else if before >= *threshold && after < *threshold {
                *reached = reached.saturating_sub(1);
            }
        }
    }

    /// Joins the values of other records (watching the same thresholds), at the cost of the
    /// smaller of the two.
    pub fn append(&mut self, mut other: Distinct) {
        if self.counts.len() < other.counts.len() {
            std::mem::swap(self, &mut other);
        }
        for (value, count) in other.counts {
            let before = self.counts.get(&value).copied().unwrap_or(0);
            let after = before + count;
            for (threshold, reached) in &mut self.reached {
                if before < *threshold && after >= *threshold {
                    *reached += 1;
                }
            }
            self.counts.insert(value, after);
        }
    }

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
            self.count(v, true);
        }
    }

    fn remove(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = value {
            self.count(v, false);
        }
    }

    /// The number of distinct values.
    fn value(&self) -> Option<Value> {
        Some(Value::count(self.counts.len()))
    }
}
