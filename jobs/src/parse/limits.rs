//! What the parser accepts beyond the formats themselves: how far compressed batches may inflate
//! and how far ahead of the wall clock an event may be dated.
//!
//! The limits are plain numbers computed by the caller (once per poll of the source), so that
//! parsing an event costs one comparison and no clock read.

use crate::event::Millis;

/// The last representable event time: 9999-12-31T23:59:59.999Z, the end of the four-digit years
/// that the timestamp formats can write. Later times are rejected whatever the wall clock.
pub const MAX_EVENT_TIME: Millis = 253_402_300_799_999;

/// Limits on what a record may make the parser do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The latest event time accepted, in epoch milliseconds: the wall clock plus
    /// `time.max_future`. An event dated later is a bad row
    /// ([`Reason::FutureTimestamp`](super::Reason::FutureTimestamp)), so that one mis-dated event
    /// cannot drive the watermark into the future. [`MAX_EVENT_TIME`] when the rule is off.
    pub latest_event_time: Millis,
    /// The largest decompressed size of a compressed batch, in bytes.
    pub max_decompressed: u64,
    /// The largest ratio of decompressed to compressed size of a batch.
    pub max_compression_ratio: u64,
}

impl Limits {
    /// Default of [`Limits::max_decompressed`]: 64 MiB, far above a Kafka record's worth of
    /// enriched events (a record is at most a few MiB, compressed 5 to 20 times).
    pub const DEFAULT_MAX_DECOMPRESSED: u64 = 64 << 20;
    /// Default of [`Limits::max_compression_ratio`]. Batches of enriched events compress 3 to
    /// 30 times; a bomb (a run of zeros, the same event repeated) compresses thousands of times.
    pub const DEFAULT_MAX_COMPRESSION_RATIO: u64 = 200;

    /// These limits with the future-time rule at `now` (epoch milliseconds, the wall clock):
    /// events dated after `now + max_future` are rejected. `None` switches the rule off.
    pub fn at(self, now: Millis, max_future: Option<Millis>) -> Limits {
        let latest_event_time = match max_future {
            Some(ahead) => now.saturating_add(ahead).min(MAX_EVENT_TIME),
            None => MAX_EVENT_TIME,
        };
        Limits {
            latest_event_time,
            ..self
        }
    }

    /// The most a batch of `compressed` bytes may inflate to, and which limit that is.
    pub(crate) fn inflation_cap(&self, compressed: usize) -> (u64, InflationLimit) {
        let by_ratio = (compressed as u64).saturating_mul(self.max_compression_ratio);
        if by_ratio < self.max_decompressed {
            (by_ratio, InflationLimit::Ratio(self.max_compression_ratio))
        } else {
            (
                self.max_decompressed,
                InflationLimit::Size(self.max_decompressed),
            )
        }
    }
}

impl Default for Limits {
    /// The default caps, and no future-time rule (it needs the wall clock: see [`Limits::at`]).
    fn default() -> Limits {
        Limits {
            latest_event_time: MAX_EVENT_TIME,
            max_decompressed: Limits::DEFAULT_MAX_DECOMPRESSED,
            max_compression_ratio: Limits::DEFAULT_MAX_COMPRESSION_RATIO,
        }
    }
}

/// Which limit a compressed batch went past.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InflationLimit {
    /// [`Limits::max_decompressed`], in bytes.
    Size(u64),
    /// [`Limits::max_compression_ratio`].
    Ratio(u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::time::{format_iso8601, parse_timestamp};

    #[test]
    fn max_event_time_is_the_last_millisecond_of_9999() {
        assert_eq!(format_iso8601(MAX_EVENT_TIME), "9999-12-31T23:59:59.999Z");
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59.999Z"),
            Some(MAX_EVENT_TIME)
        );
    }

    #[test]
    fn future_rule() {
        let limits = Limits::default().at(1_000, Some(500));
        assert_eq!(limits.latest_event_time, 1_500);
        assert_eq!(limits.max_decompressed, Limits::DEFAULT_MAX_DECOMPRESSED);
        assert_eq!(
            Limits::default().at(1_000, None).latest_event_time,
            MAX_EVENT_TIME
        );
        assert_eq!(
            Limits::default().at(u64::MAX, Some(1)).latest_event_time,
            MAX_EVENT_TIME
        );
    }

    #[test]
    fn the_smaller_cap_applies() {
        let limits = Limits {
            max_decompressed: 10_000,
            max_compression_ratio: 100,
            ..Limits::default()
        };
        assert_eq!(
            limits.inflation_cap(50),
            (5_000, InflationLimit::Ratio(100))
        );
        assert_eq!(
            limits.inflation_cap(100),
            (10_000, InflationLimit::Size(10_000))
        );
        assert_eq!(
            limits.inflation_cap(usize::MAX),
            (10_000, InflationLimit::Size(10_000))
        );
    }
}
