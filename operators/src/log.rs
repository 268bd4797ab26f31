//! A key's records in (event time, event id) order. Records arrive almost in order, so a sorted
//! ring buffer is both smaller and faster than a tree: appending is the common case, and the
//! records of one emission are merged in as one batch.

use std::collections::VecDeque;
use std::ops::Range;

use crate::time::{Millis, Order, PackedOrder as Packed};

/// Records ordered by [`Order`], each order at most once.
pub struct Log<E> {
    /// The records, oldest first.
    records: VecDeque<(Packed, E)>,
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
        let oldest = Packed::from(oldest);
        let split = self.records.partition_point(|(order, _)| *order < oldest);
        let tail: Vec<(Packed, E)> = self.records.drain(split..).collect();
        let mut tail = tail.into_iter().peekable();
        for (order, entry) in batch {
            let packed = Packed::from(order);
            while let Some(newer) = tail.next_if(|(o, _)| *o < packed) {
                self.records.push_back(newer);
            }
            let held = tail.peek().is_some_and(|(o, _)| *o == packed)
                || self.records.back().is_some_and(|(o, _)| *o == packed);
            if !held {
                let stored = admit(order, entry);
                self.records.push_back((packed, stored));
            }
        }
        self.records.extend(tail);
    }

    /// Index of the first record later than time `time`.
    pub fn after(&self, time: Millis) -> usize {
        self.records
            .partition_point(|(order, _)| order.time() <= time)
    }

    /// The records at the indices of `range`, oldest first.
    pub fn range(&self, range: Range<usize>) -> impl DoubleEndedIterator<Item = (Order, &E)> {
        self.records
            .range(range)
            .map(|(order, entry)| (Order::from(*order), entry))
    }

    /// Every record, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (Order, &E)> {
        self.range(0..self.records.len())
    }

    /// The event time of the record at index `at`.
    pub fn time_at(&self, at: usize) -> Option<Millis> {
        self.records.get(at).map(|(order, _)| order.time())
    }

    /// Takes out the oldest record.
    pub fn pop_front(&mut self) -> Option<(Order, E)> {
        self.records
            .pop_front()
            .map(|(order, entry)| (order.into(), entry))
    }

    /// Appends a record later than every record held.
    pub fn push_back(&mut self, order: Order, entry: E) {
        self.records.push_back((order.into(), entry));
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether it holds no record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_orders_sort_and_convert_back_as_orders() {
        let orders: Vec<Order> = vec![
            (5, u128::MAX),
            (5, 1 << 64),
            (5, (1 << 64) - 1),
            (4, u128::MAX),
            (6, 0),
        ];
        let mut by_order = orders.clone();
        by_order.sort();
        let mut by_packed: Vec<Packed> = orders.iter().map(|&o| Packed::from(o)).collect();
        by_packed.sort();
        let back: Vec<Order> = by_packed.into_iter().map(Order::from).collect();
        assert_eq!(back, by_order);
        assert_eq!(std::mem::size_of::<(Packed, u64)>(), 32);
    }
}
