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

    /// Called once every record up to and including `position` of `partition` has had its
    /// effects written to the sink. Sources with committable positions commit them.
    fn commit(&mut self, _partition: usize, _position: i64) {}
}
