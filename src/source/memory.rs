//! In-memory source: records held in one buffer, for benchmarks that must not measure disk or
//! generation. Worker `i` of `n` takes records `i, i+n, ...`.

use std::sync::Arc;

use super::{Source, SourceError, Status};

/// Records in one contiguous buffer.
#[derive(Default)]
pub struct Records {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Records {
    /// Appends one record.
    pub fn push(&mut self, record: &[u8]) {
        self.bytes.extend_from_slice(record);
        self.ends.push(self.bytes.len());
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// A worker's share of in-memory records.
pub struct MemorySource {
    records: Arc<Records>,
    next: usize,
    peers: usize,
}

impl MemorySource {
    /// Worker `index` of `peers` over `records`.
    pub fn new(records: Arc<Records>, index: usize, peers: usize) -> MemorySource {
        MemorySource {
            records,
            next: index,
            peers: peers.max(1),
        }
    }
}

impl Source for MemorySource {
    fn partitions(&self) -> usize {
        1
    }

    fn poll(
        &mut self,
        max: usize,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<Status, SourceError> {
        let mut delivered = 0;
        while delivered < max && self.next < self.records.len() {
            deliver(0, self.records.get(self.next), self.next as i64);
            self.next += self.peers;
            delivered += 1;
        }
        Ok(if delivered == 0 {
            Status::End
        } else {
            Status::Records
        })
    }
}
