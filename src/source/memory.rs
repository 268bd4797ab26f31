//! In-memory source: records held in one buffer, for benchmarks that must not measure disk or
//! generation. Worker `i` of `n` takes records `i, i+n, ...`.

use std::sync::Arc;
use std::time::Instant;

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
    /// Records per second for this worker, and when delivery started.
    pace: Option<(f64, Option<Instant>)>,
    delivered: u64,
}

impl MemorySource {
    /// Worker `index` of `peers` over `records`.
    pub fn new(records: Arc<Records>, index: usize, peers: usize) -> MemorySource {
        MemorySource {
            records,
            next: index,
            peers: peers.max(1),
            pace: None,
            delivered: 0,
        }
    }

    /// Starts at record `next` (a position a checkpoint saved) instead of the first: the first of
    /// this worker's records at or after it.
    pub fn resume_at(mut self, next: Option<i64>) -> MemorySource {
        if let Some(next) = next {
            let next = next.max(0) as usize;
            let index = self.next % self.peers;
            self.next = next + (index + self.peers - next % self.peers) % self.peers;
        }
        self
    }

    /// Delivers at most `rate` records per second over all workers.
    pub fn paced(mut self, rate: f64) -> MemorySource {
        self.pace = Some((rate / self.peers as f64, None));
        self
    }
}

impl Source for MemorySource {
    fn partitions(&self) -> usize {
        1
    }

    /// Caught up when every record available so far has been delivered: all of them, or, when
    /// paced, all that the pace allows by now (a paced source stands for a live topic read at
    /// its head).
    fn caught_up(&self, _partition: usize) -> bool {
        match self.pace {
            None => self.next >= self.records.len(),
            Some((rate, started)) => {
                let allowed = started.map_or(0.0, |s| s.elapsed().as_secs_f64() * rate) as u64;
                self.next >= self.records.len() || self.delivered >= allowed
            }
        }
    }

    fn poll(
        &mut self,
        max: usize,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<Status, SourceError> {
        let mut max = max;
        if let Some((rate, started)) = self.pace.as_mut() {
            let started = *started.get_or_insert_with(Instant::now);
            let allowed = (started.elapsed().as_secs_f64() * *rate) as u64;
            max = max.min(allowed.saturating_sub(self.delivered) as usize);
        }
        let mut delivered = 0;
        while delivered < max && self.next < self.records.len() {
            deliver(0, self.records.get(self.next), self.next as i64);
            self.next += self.peers;
            delivered += 1;
        }
        self.delivered += delivered as u64;
        Ok(if delivered > 0 {
            Status::Records
        } else if self.next < self.records.len() {
            Status::Idle
        } else {
            Status::End
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(mut source: MemorySource) -> Vec<i64> {
        let mut seen = Vec::new();
        let status = source
            .poll(100, &mut |_, _, position| seen.push(position))
            .expect("memory never fails");
        assert_eq!(status, Status::Records);
        seen
    }

    #[test]
    fn resuming_starts_at_the_first_own_record_at_or_after_the_position() {
        let mut records = Records::default();
        for i in 0..10 {
            records.push(format!("record {i}").as_bytes());
        }
        let records = Arc::new(records);
        let source = |next| MemorySource::new(records.clone(), 1, 3).resume_at(next);
        assert_eq!(positions(source(None)), [1, 4, 7]);
        assert_eq!(positions(source(Some(4))), [4, 7]);
        assert_eq!(positions(source(Some(5))), [7]);
        assert_eq!(positions(source(Some(2))), [4, 7]);
    }
}
