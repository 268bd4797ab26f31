//! `first` and `latest`: the property of the first or latest record by (event time, event id).

use std::collections::BTreeMap;

use operators::Order;

use super::{Accumulate, Input, Value};

/// The records inside in order, with their values (only those with one, unless every record
/// counts).
#[derive(Clone, Debug)]
pub struct Ordered {
    every_event: bool,
    records: BTreeMap<Order, Option<Input>>,
}

impl Ordered {
    /// Empty; `every_event` takes the first or latest record itself, with or without a value.
    pub fn new(every_event: bool) -> Ordered {
        Ordered {
            every_event,
            records: BTreeMap::new(),
        }
    }

    /// The first record's value.
    pub fn first(&self) -> Option<Value> {
        self.records.values().next()?.as_ref().map(Value::of)
    }
}

impl Accumulate for Ordered {
    fn insert(&mut self, order: Order, value: Option<&Input>, _group: Option<&Input>) {
        if self.every_event || value.is_some() {
            self.records.insert(order, value.cloned());
        }
    }

    fn remove(&mut self, order: Order, _value: Option<&Input>, _group: Option<&Input>) {
        self.records.remove(&order);
    }

    /// The latest record's value.
    fn value(&self) -> Option<Value> {
        self.records.values().next_back()?.as_ref().map(Value::of)
    }
}
