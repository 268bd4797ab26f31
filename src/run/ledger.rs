//! The commit ledger of a run without checkpoints: per partition, the positions that become
//! committable once the sink has passed a time.

use std::collections::VecDeque;

use operators::Millis;
use timely::dataflow::ProbeHandle;

use crate::source::Source;

/// The largest event time and the last position read of a partition in the current batch.
#[derive(Clone, Copy)]
struct BatchEnd {
    largest: Millis,
    last: i64,
}

/// Per partition, positions that become committable once the sink has passed a time, and the
/// end of the batch being read.
pub(super) struct CommitLedger {
    commits: Vec<VecDeque<(u64, i64)>>,
    batch: Vec<Option<BatchEnd>>,
    longest_interval: Millis,
}

impl CommitLedger {
    /// An empty ledger of `partitions` partitions. The effects of an event reach the sink by the
    /// emission of the longest interval after it.
    pub(super) fn new(partitions: usize, longest_interval: Millis) -> CommitLedger {
        CommitLedger {
            commits: vec![VecDeque::new(); partitions],
            batch: vec![None; partitions],
            longest_interval,
        }
    }

    /// `position` of `partition` has been read in this batch.
    pub(super) fn read(&mut self, partition: usize, position: i64) {
        let end = self.batch[partition].get_or_insert(BatchEnd {
            largest: 0,
            last: position,
        });
        end.last = position;
    }

    /// An event of `time` was read from `partition` in this batch (after [`CommitLedger::read`]
    /// of its record).
    pub(super) fn event(&mut self, partition: usize, time: Millis) {
        if let Some(end) = &mut self.batch[partition] {
            end.largest = end.largest.max(time);
        }
    }

    /// The source skipped `position` of `partition`: committable like any bad row once the sink
    /// has passed what was read before it.
    pub(super) fn skipped(&mut self, partition: usize, position: i64) {
        let end = self.batch[partition].get_or_insert(BatchEnd {
            largest: 0,
            last: position,
        });
        end.last = end.last.max(position);
    }

    /// Ends the batch: its last position per partition becomes committable once the sink has
    /// passed its largest event time plus the longest interval, and at least `frontier`.
    pub(super) fn close_batch(&mut self, frontier: u64) {
        for (partition, end) in self.batch.iter_mut().enumerate() {
            if let Some(BatchEnd { largest, last }) = end.take() {
                let needed = (largest + self.longest_interval).max(frontier);
                self.commits[partition].push_back((needed, last));
            }
        }
    }

    /// Commits, per partition, the last position whose effects the sink has written.
    pub(super) fn commit_passed(&mut self, probe: &ProbeHandle<u64>, source: &mut dyn Source) {
        for (partition, queue) in self.commits.iter_mut().enumerate() {
            let mut ready = None;
            while queue
                .front()
                .is_some_and(|&(needed, _)| !probe.less_equal(&needed))
            {
                ready = queue.pop_front().map(|(_, position)| position);
            }
            if let Some(position) = ready {
                source.commit(partition, position);
            }
        }
    }

    /// Commits, per partition, the last position read in a closed batch.
    pub(super) fn commit_all(&self, source: &mut dyn Source) {
        for (partition, queue) in self.commits.iter().enumerate() {
            if let Some(&(_, position)) = queue.back() {
                source.commit(partition, position);
            }
        }
    }
}
