//! Process-wide counters, shared by the workers of one process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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
    /// Times a worker found that Redis had lost the job's data (its marker gone) and had every
    /// current feature written again.
    pub redis_resets: AtomicU64,
    /// The smallest watermark over this process's workers, in event-time milliseconds.
    pub watermark: AtomicU64,
    /// The largest event time seen by this process.
    pub largest_event_time: AtomicU64,
    /// Checkpoints completed (counted by the process whose worker 0 coordinates them).
    pub checkpoints: AtomicU64,
    /// The last complete checkpoint: the size of its part files, in bytes.
    pub checkpoint_bytes: AtomicU64,
    /// The last complete checkpoint: from asking for it to its manifest being written, in
    /// microseconds.
    pub checkpoint_micros: AtomicU64,
    /// The last complete checkpoint: worker-thread time spent serializing it, summed over every
    /// operator of every worker, in microseconds.
    pub checkpoint_serialize_micros: AtomicU64,
    /// Time to restore the checkpoint on start: reading and checking its files, then the slowest
    /// worker's rebuild of its operators' state, in microseconds; zero when nothing was restored.
    pub restore_micros: AtomicU64,
    /// Time from an event's arrival at the job to the moment every sink has written the
    /// emission that first counts it.
    pub freshness: Mutex<Histogram>,
}

/// A latency histogram: 16 buckets per power of two of microseconds (under 5% error).
#[derive(Debug, Default, Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Histogram {
    const SUB: u32 = 16;

    fn bucket(micros: u64) -> usize {
        let v = micros.max(1);
        let power = 63 - v.leading_zeros();
        let sub = if power >= 4 {
            (v >> (power - 4)) as u32 - Self::SUB
        } else {
            v as u32
        };
        (power * Self::SUB + sub) as usize
    }

    fn lower_bound(bucket: usize) -> u64 {
        let (power, sub) = (bucket as u32 / Self::SUB, bucket as u32 % Self::SUB);
        if power >= 4 {
            ((Self::SUB + sub) as u64) << (power - 4)
        } else {
            sub as u64
        }
    }

    /// Records `n` samples of `latency`.
    pub fn record(&mut self, latency: Duration, n: u64) {
        let bucket = Self::bucket(latency.as_micros() as u64);
        if self.buckets.len() <= bucket {
            self.buckets.resize(bucket + 1, 0);
        }
        self.buckets[bucket] += n;
        self.count += n;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0 to 1), if there are samples.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let target = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (bucket, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target {
                return Some(Duration::from_micros(Self::lower_bound(bucket)));
            }
        }
        None
    }
}

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets a gauge.
    pub fn set(gauge: &AtomicU64, value: u64) {
        gauge.store(value, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::default();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms), 1);
        }
        let p50 = h.quantile(0.5).map(|d| d.as_micros()).unwrap_or(0);
        let p99 = h.quantile(0.99).map(|d| d.as_micros()).unwrap_or(0);
        assert!((47_000..=50_000).contains(&p50), "{p50}");
        assert!((94_000..=99_000).contains(&p99), "{p99}");
        assert_eq!(h.count(), 100);
    }
}
