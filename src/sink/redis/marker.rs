//! A marker key per worker, `live-shopper:marker:<worker index>`, without expiry, that tells
//! whether Redis still holds what the worker wrote. Change-only emission never writes again a
//! value that does not change, so a Redis that loses its data (restarted without persistence,
//! flushed, failed over to an empty replica) would otherwise stay incomplete for as long as the
//! values stay the same. Losing the data loses the marker with it; the sink checks it on every
//! new connection and, while it writes, about every [`CHECK_EVERY`], and asks the worker's
//! window operators to republish when it is gone.

use std::time::{Duration, Instant};

use redis::Value;

/// How often the marker is checked while the worker writes.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);

/// The marker key of the worker with global index `worker`.
pub fn key(worker: usize) -> String {
    format!("live-shopper:marker:{worker}")
}

/// One worker's marker and when it was last checked.
#[derive(Debug)]
pub struct Marker {
    key: String,
    checked: Option<Instant>,
    /// Whether this worker has seen the marker in Redis or set it: from then on, a missing
    /// marker means Redis lost the data.
    held: bool,
}

/// What a check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// The marker is there: Redis holds what the worker wrote.
    Present,
    /// The marker was missing and is set now; it was never there for this worker before (a new
    /// Redis, or data lost while the job was not running).
    Unmarked,
    /// The marker was there before and is gone: Redis lost the data. It is set again.
    Lost,
}

impl Marker {
    /// The marker of the worker with global index `worker`, not checked yet.
    pub fn new(worker: usize) -> Marker {
        Marker {
            key: key(worker),
            checked: None,
            held: false,
        }
    }

    /// The marker's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `SET <key> <unix ms> NX`: sets the marker if it is missing and says which in one round
    /// trip (OK when it was missing, nil when it was there). The value is when it was set.
    pub fn command(&self) -> redis::Cmd {
        let mut command = redis::cmd("SET");
        command
            .arg(&self.key)
            .arg(crate::clock::wall_clock())
            .arg("NX");
        command
    }

    /// Whether a check is due alongside the next pipeline.
    pub fn due(&self) -> bool {
        self.checked
            .is_none_or(|checked| checked.elapsed() >= CHECK_EVERY)
    }

    /// Reads the answer to [`Marker::command`].
    pub fn answered(&mut self, answer: &Value) -> Found {
        self.checked = Some(Instant::now());
        let was_there = matches!(answer, Value::Nil);
        let found = match (was_there, self.held) {
            (true, _) => Found::Present,
            (false, false) => Found::Unmarked,
            (false, true) => Found::Lost,
        };
        self.held = true;
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_that_vanishes_after_being_held_is_a_loss() {
        let mut marker = Marker::new(3);
        assert_eq!(marker.key(), "live-shopper:marker:3");
        assert!(marker.due());
        assert_eq!(marker.answered(&Value::Okay), Found::Unmarked);
        assert!(!marker.due());
        assert_eq!(marker.answered(&Value::Nil), Found::Present);
        assert_eq!(marker.answered(&Value::Okay), Found::Lost);
        let mut seen = Marker::new(0);
        assert_eq!(seen.answered(&Value::Nil), Found::Present);
        assert_eq!(seen.answered(&Value::Okay), Found::Lost);
    }
}
