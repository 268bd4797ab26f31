//! A key's records in (event time, event id) order. Records arrive almost in order, so a sorted
//! ring buffer is both smaller and faster than a tree: appending is the common case, and the
//! records of one emission are merged in as one batch.

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
    /// Merges `batch`, sorted by order, into the log. A record whose order the log already
    /// holds (the same event delivered twice) is dropped; every other one is converted by
    /// `admit` and kept. Only the records newer than the batch's oldest are moved, so a batch
    /// that arrives in order is appended, and one that arrives a little out of order moves a
    /// short tail once.
    pub fn merge<X>(
        &mut self,
        batch: impl IntoIterator<Item = (Order, X)>,
        mut admit: impl FnMut(Order, X) -> E,
    ) {
        let mut batch = batch.into_iter().peekable();
        let Some(&(oldest, _)) = batch.peek() else {
            return;
        };
        let split = self.records.partition_point(|(order, _)| *order < oldest);
        let tail: Vec<(Order, E)> = self.records.drain(split..).collect();
        let mut tail = tail.into_iter().peekable();
        for (order, entry) in batch {
            while let Some(newer) = tail.next_if(|(o, _)| *o < order) {
                self.records.push_back(newer);
            }
            let held = tail.peek().is_some_and(|(o, _)| *o == order)
                || self.records.back().is_some_and(|(o, _)| *o == order);
            if !held {
                let stored = admit(order, entry);
                self.records.push_back((order, stored));
            }
        }
        self.records.extend(tail);
    }

    /// Index of the first record later than time `time`.
    pub fn after(&self, time: Millis) -> usize {
        self.records.partition_point(|(order, _)| order.0 <= time)
    }
}
