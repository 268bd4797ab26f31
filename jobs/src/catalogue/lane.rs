//! A lane's records and the state of its features over one window.

use operators::symbols::Symbols;
use operators::Order;

use super::aggregation::{Accumulator, Aggregation};
use super::value::{Input, Item, Value};
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

impl Record {
    /// The record as window state holds it, its text shared through `symbols`.
    pub fn store(&self, symbols: &mut Symbols) -> Stored {
        let values = self
            .values
            .iter()
            .map(|v| v.as_ref().map(|v| v.share(symbols)))
            .collect();
        Stored {
            values,
            passes: self.passes,
        }
    }
}

/// A [`Record`] as window state holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Per column of the lane, the event's value.
    pub values: Box<[Option<Item>]>,
    /// The features whose filter the event passes.
    pub passes: u64,
}

impl Stored {
    /// The record it was stored from.
    pub fn unstore(&self) -> Record {
        Record {
            values: self
                .values
                .iter()
                .map(|v| v.as_ref().map(Item::unshare))
                .collect(),
            passes: self.passes,
        }
    }

    /// Gives its text back to `symbols` as it leaves the state.
    pub fn release(&self, symbols: &mut Symbols) {
        for value in self.values.iter().flatten() {
            value.release(symbols);
        }
    }
}

/// The state of every feature of a lane over one window.
#[derive(Clone, Debug)]
pub struct Accumulators {
    /// Per feature; `None` for derived values.
    slots: Vec<Option<Accumulator>>,
}

impl Accumulators {
    /// Empty state for `lane`'s features; `removals` says whether records leave it (a rolling
    /// window) or only arrive (a session).
    pub fn new(lane: &Lane, removals: bool) -> Accumulators {
        let slots = lane
            .features
            .iter()
            .map(|f| f.aggregation.accumulator(f.column.is_some(), removals))
            .collect();
        Accumulators { slots }
    }

    fn each(
        &mut self,
        lane: &Lane,
        record: &Stored,
        mut apply: impl FnMut(&mut Accumulator, Option<&Item>, Option<&Item>),
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
    pub fn insert(&mut self, lane: &Lane, order: Order, record: &Stored) {
        self.each(lane, record, |acc, value, group| {
            acc.insert(order, value, group)
        });
    }

    /// A record leaves the window.
    pub fn remove(&mut self, lane: &Lane, order: Order, record: &Stored) {
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
