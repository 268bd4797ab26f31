//! Process-wide counters, shared by the workers of one process.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Records read from the source.
    pub records: AtomicU64,
    /// Events parsed.
    pub events: AtomicU64,
    /// Records or events rejected as bad rows.
    pub bad_rows: AtomicU64,
    /// Feature writes (sets and deletes) produced.
    pub writes: AtomicU64,
    /// Commands sent to Redis.
    pub redis_commands: AtomicU64,
    /// The smallest watermark over this process's workers, in event-time milliseconds.
    pub watermark: AtomicU64,
    /// The largest event time seen by this process.
    pub largest_event_time: AtomicU64,
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
