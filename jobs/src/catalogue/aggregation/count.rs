//! `count`: the records that pass the feature's filter (and have its property, if it names one).

use operators::Order;

use super::{Accumulate, Item, Value};

/// A count.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Count {
    n: u64,
    /// Whether only records with the property count.
    with_property: bool,
}

impl Count {
    /// A count of every record, or with `with_property` of the records that have the property.
    pub fn new(with_property: bool) -> Count {
        Count {
            n: 0,
            with_property,
        }
    }
}

impl Count {
    /// Joins the count of records that all come after these.
    pub fn append(&mut self, later: Count) {
        self.n += later.n;
    }
}

impl Accumulate for Count {
    fn insert(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if !self.with_property || value.is_some() {
            self.n += 1;
        }
    }

    fn remove(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if !self.with_property || value.is_some() {
            self.n = self.n.saturating_sub(1);
        }
    }

    fn value(&self) -> Option<Value> {
        Some(Value::count(self.n as usize))
    }
}
