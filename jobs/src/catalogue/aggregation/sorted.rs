//! Records in (event time, event id) order, for the aggregations that need their order.
//!
//! Records mostly arrive in order and leave oldest first, so a sorted deque keeps both ends
//! cheap: an in-order record is pushed at the back, a leaving one popped at the front, and only
//! a late record is placed by binary search.

use std::collections::VecDeque;

use operators::time::PackedOrder;
use operators::Order;

/// Values by record order.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Sorted<V> {
    records: VecDeque<(PackedOrder, V)>,
}

impl<V> Default for Sorted<V> {
    fn default() -> Self {
        Sorted {
            records: VecDeque::new(),
        }
    }
}

impl<V> Sorted<V> {
    fn position(&self, order: PackedOrder) -> Result<usize, usize> {
        match self.records.back() {
            Some((last, _)) if *last < order => Err(self.records.len()),
            _ => self.records.binary_search_by(|(o, _)| o.cmp(&order)),
        }
    }

    /// Adds the value of the record at `order` (replacing one already there) and returns its
    /// index.
    pub fn insert(&mut self, order: Order, value: V) -> usize {
        let order = PackedOrder::from(order);
        match self.position(order) {
            Ok(at) => {
                self.records[at].1 = value;
                at
            }
            Err(at) => {
                self.records.insert(at, (order, value));
                at
            }
        }
    }

    /// Removes the record at `order`, returning its index and value.
    pub fn remove(&mut self, order: Order) -> Option<(usize, V)> {
        let order = PackedOrder::from(order);
        if self.records.front().is_some_and(|(o, _)| *o == order) {
            return self.records.pop_front().map(|(_, v)| (0, v));
        }
        let at = self.position(order).ok()?;
        self.records.remove(at).map(|(_, v)| (at, v))
    }

    /// The value at index `at`.
    pub fn get(&self, at: usize) -> Option<&V> {
        self.records.get(at).map(|(_, v)| v)
    }

    /// The earliest record's value.
    pub fn first(&self) -> Option<&V> {
        self.records.front().map(|(_, v)| v)
    }

    /// The latest record's value.
    pub fn last(&self) -> Option<&V> {
        self.records.back().map(|(_, v)| v)
    }

    /// Joins the records of `later`, which all come after these, at the cost of the smaller.
    pub fn append(&mut self, mut later: Sorted<V>) {
        if self.records.len() >= later.records.len() {
            self.records.append(&mut later.records);
        } else {
            while let Some(record) = self.records.pop_back() {
                later.records.push_front(record);
            }
            *self = later;
        }
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}
