//! Watermarks: the largest event time seen, minimum over the partitions a worker reads, minus
//! the allowed lateness.
//!
//! Idleness means "caught up", not "no answer": a partition is idle only when its source has
//! said, without interruption for the whole idle timeout, that it is read to the end the broker
//! reports ([`Watermarks::set_caught_up`]), and no event arrived from it in that time. An idle
//! partition stops holding the watermark back; when every partition is idle the watermark can
//! follow the wall clock. A partition whose broker does not answer, or that still has records
//! to read, is never idle, however long nothing arrives: a stalled broker holds the watermark
//! where it is instead of letting it run ahead and make the records after the stall late.

use std::time::{Duration, Instant};

use crate::time::Millis;

#[derive(Clone, Debug)]
struct Partition {
    largest: Option<Millis>,
    last_activity: Instant,
    /// Since when the source has reported the partition caught up, without interruption.
    caught_up_since: Option<Instant>,
}

impl Partition {
    fn idle(&self, now: Instant, timeout: Duration) -> bool {
        let quiet = now.duration_since(self.last_activity) >= timeout;
        let caught_up = self
            .caught_up_since
            .is_some_and(|since| now.duration_since(since) >= timeout);
        quiet && caught_up
    }
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
                    caught_up_since: None,
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

    /// The largest event time seen on `partition`.
    pub fn largest(&self, partition: usize) -> Option<Millis> {
        self.partitions.get(partition).and_then(|p| p.largest)
    }

    /// Tells whether `partition` is read to the end its broker reports, as of `now`. Only a
    /// partition reported caught up at every call for the whole idle timeout can become idle.
    pub fn set_caught_up(&mut self, partition: usize, caught_up: bool, now: Instant) {
        if let Some(p) = self.partitions.get_mut(partition) {
            p.caught_up_since = match (caught_up, p.caught_up_since) {
                (false, _) => None,
                (true, since) => since.or(Some(now)),
            };
        }
    }

    /// The largest event time seen on any partition.
    pub fn largest_seen(&self) -> Option<Millis> {
        self.partitions.iter().filter_map(|p| p.largest).max()
    }

    /// Brings the watermark up to date and returns it. It never goes back.
    pub fn advance(&mut self, now: Instant, wall_clock: Millis) -> Millis {
        let idle = |p: &Partition| self.idle_timeout.is_some_and(|t| p.idle(now, t));
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
            self.follow_wall_clock
                .then(|| wall_clock.saturating_sub(self.lateness))
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

    const TIMEOUT: Duration = Duration::from_secs(3);

    fn at(start: Instant, seconds: u64) -> Instant {
        start + Duration::from_secs(seconds)
    }

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
    fn caught_up_and_quiet_partitions_release_and_then_the_wall_clock() {
        let start = Instant::now();
        let mut w = Watermarks::new(2, 5, Some(TIMEOUT), true);
        w.observe(0, 100, start);
        w.observe(1, 50, start);
        w.set_caught_up(1, true, start);
        w.observe(0, 300, at(start, 2));
        assert_eq!(w.advance(at(start, 2), 0), 45);
        assert_eq!(w.advance(at(start, 4), 0), 295, "partition 1 is idle");
        w.set_caught_up(0, true, at(start, 4));
        assert_eq!(
            w.advance(at(start, 6), 10_000),
            295,
            "partition 0 caught up for 2 s only"
        );
        assert_eq!(
            w.advance(at(start, 8), 10_000),
            9_995,
            "all idle: the wall clock"
        );
    }

    #[test]
    fn a_silent_partition_that_is_not_caught_up_holds_the_watermark() {
        // A broker that stops answering while a backlog is read: nothing arrives for longer
        // than the idle timeout, but the partition is not at its end.
        let start = Instant::now();
        let mut w = Watermarks::new(2, 5, Some(TIMEOUT), true);
        w.observe(0, 100, start);
        w.observe(1, 50, start);
        assert_eq!(w.advance(at(start, 60), 1_000_000), 45, "both held back");
        w.set_caught_up(0, true, at(start, 60));
        assert_eq!(
            w.advance(at(start, 70), 1_000_000),
            45,
            "partition 1 still holds"
        );
    }

    #[test]
    fn caught_up_must_last_the_whole_timeout() {
        let start = Instant::now();
        let mut w = Watermarks::new(1, 5, Some(TIMEOUT), true);
        w.observe(0, 100, start);
        // Silent for a minute (the broker did not answer), then caught up at once: not idle
        // until caught up for the timeout, so that records produced meanwhile can arrive.
        w.set_caught_up(0, true, at(start, 60));
        assert_eq!(w.advance(at(start, 61), 1_000_000), 95);
        w.set_caught_up(0, false, at(start, 62));
        w.set_caught_up(0, true, at(start, 63));
        assert_eq!(
            w.advance(at(start, 65), 1_000_000),
            95,
            "interrupted at 62 s"
        );
        assert_eq!(w.advance(at(start, 66), 1_000_000), 999_995);
    }

    #[test]
    fn an_event_ends_idleness_and_a_lost_answer_holds_where_it_is() {
        let start = Instant::now();
        let mut w = Watermarks::new(2, 5, Some(TIMEOUT), false);
        w.observe(0, 100, start);
        w.observe(1, 500, start);
        w.set_caught_up(0, true, start);
        assert_eq!(w.advance(at(start, 4), 0), 495, "partition 0 idle");
        w.observe(0, 200, at(start, 5));
        assert_eq!(
            w.advance(at(start, 5), 0),
            495,
            "back, but the watermark stays"
        );
        w.observe(1, 900, at(start, 5));
        assert_eq!(
            w.advance(at(start, 5), 0),
            495,
            "partition 0 holds it at 200 - 5"
        );
        w.set_caught_up(1, true, at(start, 5));
        w.set_caught_up(0, false, at(start, 6));
        assert_eq!(
            w.advance(at(start, 20), 0),
            495,
            "partition 1 is idle, partition 0 is not caught up and holds"
        );
        w.set_caught_up(0, true, at(start, 20));
        assert_eq!(
            w.advance(at(start, 30), 0),
            495,
            "all idle, and without the wall clock nothing moves"
        );
    }

    #[test]
    fn without_a_timeout_nothing_is_idle() {
        let start = Instant::now();
        let mut w = Watermarks::new(2, 0, None, true);
        w.observe(0, 100, start);
        w.set_caught_up(1, true, start);
        assert_eq!(w.advance(at(start, 100), 1_000_000), 0);
    }
}
