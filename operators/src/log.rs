//! A key's records in (event time, event id) order. Records arrive almost in order, so a sorted
//! ring buffer is both smaller and faster than a tree: appending is the common case.

use std::collections::VecDeque;

use crate::time::{Millis, Order};

/// Records ordered by [`Order`], each order at most once.
pub struct Log<E> {
    /// The records, oldest first.
    pub records: VecDeque<(Order, E)>,
}

impl<E> Default for Log<E> {
    fn default() -> Self {
        Log {
            records: VecDeque::new(),
        }
    }
}

impl<E> Log<E> {
    /// Where a record of `order` belongs, or `None` when the log already holds one (the same
    /// event delivered twice).
    pub fn slot(&self, order: Order) -> Option<usize> {
        if self.records.back().is_none_or(|(last, _)| *last < order) {
            return Some(self.records.len());
        }
        self.records
            .binary_search_by(|(probe, _)| probe.cmp(&order))
            .err()
    }

    /// Inserts a record at the `slot` found for its order.
    pub fn insert_at(&mut self, slot: usize, order: Order, entry: E) {
        self.records.insert(slot, (order, entry));
    }

    /// Index of the first record later than time `time`.
    pub fn after(&self, time: Millis) -> usize {
        self.records.partition_point(|(order, _)| order.0 <= time)
    }
}
