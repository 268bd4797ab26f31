//! Watermarks: the largest event time seen, minimum over the partitions a worker reads, minus
//! the allowed lateness. Idle partitions stop holding it back; when every partition is idle it
//! can follow the wall clock.

use std::time::{Duration, Instant};

use crate::time::Millis;

#[derive(Clone, Debug)]
struct Partition {
    largest: Option<Millis>,
    last_activity: Instant,
}

/// Watermark bookkeeping for the partitions one worker reads.
#[derive(Clone, Debug)]
pub struct Watermarks {
    partitions: Vec<Partition>,
    lateness: Millis,
    idle_timeout: Option<Duration>,
    follow_wall_clock: bool,
    current: Millis,
}

impl Watermarks {
    /// Tracks `partitions` partitions. `idle_timeout: None` keeps idle partitions holding the
    /// watermark back (deterministic replays).
    pub fn new(
        partitions: usize,
        lateness: Millis,
        idle_timeout: Option<Duration>,
        follow_wall_clock: bool,
    ) -> Watermarks {
        let now = Instant::now();
        Watermarks {
            partitions: vec![
                Partition {
                    largest: None,
                    last_activity: now,
                };
                partitions
            ],
            lateness,
            idle_timeout,
            follow_wall_clock,
            current: 0,
        }
    }

    /// Records an event of `time` read from `partition`.
    pub fn observe(&mut self, partition: usize, time: Millis, now: Instant) {
        if let Some(p) = self.partitions.get_mut(partition) {
            p.largest = Some(p.largest.map_or(time, |l| l.max(time)));
            p.last_activity = now;
        }
    }

    /// The largest event time seen on any partition.
    pub fn largest_seen(&self) -> Option<Millis> {
        self.partitions.iter().filter_map(|p| p.largest).max()
    }

    /// Brings the watermark up to date and returns it. It never goes back.
    pub fn advance(&mut self, now: Instant, wall_clock: Millis) -> Millis {
        let idle = |p: &Partition| {
            self.idle_timeout
                .is_some_and(|timeout| now.duration_since(p.last_activity) >= timeout)
        };
        let mut bound: Option<Millis> = None;
        let mut all_idle = true;
        for p in &self.partitions {
            if idle(p) {
                continue;
            }
            all_idle = false;
            match p.largest {
                // A partition that has sent nothing yet holds everything back.
                None => return self.current,
                Some(largest) => {
                    let mark = largest.saturating_sub(self.lateness);
                    bound = Some(bound.map_or(mark, |b| b.min(mark)));
                }
            }
        }
        let candidate = if all_idle && !self.partitions.is_empty() {
            if self.follow_wall_clock {
                Some(wall_clock.saturating_sub(self.lateness))
            } else {
                None
            }
        } else {
            bound
        };
        if let Some(candidate) = candidate {
            self.current = self.current.max(candidate);
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_partitions_minus_lateness() {
        let now = Instant::now();
        let mut w = Watermarks::new(2, 5, None, false);
        w.observe(0, 100, now);
        assert_eq!(w.advance(now, 0), 0, "partition 1 has sent nothing");
        w.observe(1, 50, now);
        assert_eq!(w.advance(now, 0), 45);
        w.observe(1, 200, now);
        assert_eq!(w.advance(now, 0), 95);
        w.observe(0, 10, now);
        assert_eq!(w.advance(now, 0), 95, "never goes back");
    }

    #[test]
    fn idle_partitions_release_and_wall_clock() {
        let start = Instant::now();
        let mut w = Watermarks::new(2, 5, Some(Duration::from_secs(3)), true);
        w.observe(0, 100, start);
        w.observe(1, 50, start);
        let later = start + Duration::from_secs(2);
        w.observe(0, 300, later);
        assert_eq!(w.advance(later, 0), 45);
        let much_later = start + Duration::from_secs(4);
        assert_eq!(w.advance(much_later, 0), 295, "partition 1 is idle");
        let idle_all = start + Duration::from_secs(10);
        assert_eq!(w.advance(idle_all, 10_000), 9_995, "follows the wall clock");
    }
}
