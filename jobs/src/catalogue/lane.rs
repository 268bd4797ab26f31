//! A lane's records and the state of its features over one window.

use operators::Order;

use super::aggregation::{Accumulator, Aggregation};
use super::value::{Input, Value};
use super::Lane;

/// One event as a lane holds it: the values of the lane's columns, and which of its features'
/// filters it passes (bit `i` for feature `i`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Per column of the lane, the event's value.
    pub values: Vec<Option<Input>>,
    /// The features whose filter the event passes.
    pub passes: u64,
}

/// The state of every feature of a lane over one window.
#[derive(Clone, Debug)]
pub struct Accumulators {
    /// Per feature; `None` for derived values.
    slots: Vec<Option<Accumulator>>,
}

impl Accumulators {
    /// Empty state for `lane`'s features.
    pub fn new(lane: &Lane) -> Accumulators {
        let slots = lane
            .features
            .iter()
            .map(|feature| feature.aggregation.accumulator(feature.column.is_some()))
            .collect();
        Accumulators { slots }
    }

    fn each(
        &mut self,
        lane: &Lane,
        record: &Record,
        mut apply: impl FnMut(&mut Accumulator, Option<&Input>, Option<&Input>),
    ) {
        let column = |c: Option<usize>| c.and_then(|c| record.values.get(c)?.as_ref());
        for (i, (slot, feature)) in self.slots.iter_mut().zip(&lane.features).enumerate() {
            if let Some(acc) = slot {
                if record.passes & (1 << i) != 0 {
                    apply(acc, column(feature.column), column(feature.group));
                }
            }
        }
    }

    /// A record enters the window.
    pub fn insert(&mut self, lane: &Lane, order: Order, record: &Record) {
        self.each(lane, record, |acc, value, group| {
            acc.insert(order, value, group)
        });
    }

    /// A record leaves the window.
    pub fn remove(&mut self, lane: &Lane, order: Order, record: &Record) {
        self.each(lane, record, |acc, value, group| {
            acc.remove(order, value, group)
        });
    }

    /// Every feature's value, in the lane's order (derived ones computed from those before).
    pub fn values(&self, lane: &Lane) -> Vec<Option<Value>> {
        let mut values: Vec<Option<Value>> = Vec::with_capacity(self.slots.len());
        for (slot, feature) in self.slots.iter().zip(&lane.features) {
            let value = match (slot, &feature.aggregation) {
                (Some(acc), _) => acc.value(),
                (None, Aggregation::Derived(derived)) => derived.value(&values),
                (None, _) => None,
            };
            values.push(value);
        }
        values
    }
}
