//! Sources of raw records: each worker reads its own share (its own partitions).

pub mod file;
pub mod kafka;
pub mod memory;

use std::fmt;

/// What a poll found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Records were delivered (possibly fewer than asked for).
    Records,
    /// Nothing available right now.
    Idle,
    /// The input has ended (bounded inputs only).
    End,
}

/// A source failure that stops the job.
#[derive(Debug)]
pub struct SourceError(pub String);

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceError {}

/// A worker's share of an input.
pub trait Source {
    /// How many partitions this worker reads (each has its own watermark).
    fn partitions(&self) -> usize;

    /// Delivers up to `max` records to `deliver` as (partition index, bytes, position), where
    /// position is the record's offset in its partition.
    fn poll(
        &mut self,
        max: usize,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<Status, SourceError>;

    /// Whether `partition` has been read to the end of the input as its server reports it now
    /// (for Kafka: the high watermark of a recent fetch answer from a broker that is still
    /// answering). Only a caught-up partition can become idle and stop holding the watermark
    /// back; a partition whose server does not answer is not caught up.
    fn caught_up(&self, partition: usize) -> bool;

    /// The Kafka partition id of `partition`, for bad rows (`None`: not a Kafka partition).
    fn partition_id(&self, _partition: usize) -> Option<i32> {
        None
    }

    /// Hands over the records the source could not read and skipped since the last call (each
    /// becomes a bad row, and its position counts as read).
    fn take_skipped(&mut self) -> Vec<Skipped> {
        Vec::new()
    }

    /// Where `partition` started, as a position, if the source knows it: a checkpoint taken
    /// before anything is read from it resumes there.
    fn start_position(&self, _partition: usize) -> Option<i64> {
        None
    }

    /// Called once every record up to and including `position` of `partition` has had its
    /// effects written to the sink. Sources with committable positions commit them.
    fn commit(&mut self, _partition: usize, _position: i64) {}
}

/// A record a source skipped because it could not read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Local partition index.
    pub partition: usize,
    /// Its position (Kafka offset).
    pub position: i64,
    /// Why, and what to change to read such records.
    pub reason: String,
}
