//! Logging of librdkafka's own complaints, and of any repeated trouble, at a bounded rate.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;

/// Least time between two log lines about the same kind of trouble.
const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Logs at most one line per [`LOG_INTERVAL`], saying how many were left out.
#[derive(Debug)]
pub struct RateLimitedLog {
    state: Mutex<(Option<Instant>, u64)>,
}

impl RateLimitedLog {
    /// A log that has not written yet.
    pub fn new() -> RateLimitedLog {
        RateLimitedLog {
            state: Mutex::new((None, 0)),
        }
    }

    /// Writes `message()` to stderr unless a line was written less than the interval ago.
    pub fn log(&self, message: impl FnOnce() -> String) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let now = Instant::now();
        if state
            .0
            .is_some_and(|last| now.duration_since(last) < LOG_INTERVAL)
        {
            state.1 += 1;
            return;
        }
        let suppressed = std::mem::take(&mut state.1);
        state.0 = Some(now);
        drop(state);
        if suppressed > 0 {
            eprintln!(
                "live-shopper: {} ({suppressed} similar messages left out)",
                message()
            );
        } else {
            eprintln!("live-shopper: {}", message());
        }
    }
}

impl Default for RateLimitedLog {
    fn default() -> RateLimitedLog {
        RateLimitedLog::new()
    }
}

/// A librdkafka client context that writes librdkafka's warnings and errors to stderr at a
/// bounded rate (by default they would go to the `log` crate, which nobody listens to here).
#[derive(Debug)]
pub struct LogContext {
    role: String,
    log: RateLimitedLog,
}

impl LogContext {
    /// A context for the client `role` ("worker 3 consumer", "bad-rows producer", ...).
    pub fn new(role: impl Into<String>) -> LogContext {
        LogContext {
            role: role.into(),
            log: RateLimitedLog::new(),
        }
    }

    /// Logs `message` about this client at a bounded rate.
    pub fn warn(&self, message: impl FnOnce() -> String) {
        self.log
            .log(|| format!("Kafka {}: {}", self.role, message()));
    }
}

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        // The consumer and the producers share kafka.properties; librdkafka warns about every
        // property meant for the other kind of client.
        if facility == "CONFWARN" && message.contains("will be ignored by this") {
            return;
        }
        if (level as i32) <= RDKafkaLogLevel::Warning as i32 {
            self.warn(|| format!("librdkafka {facility}: {message}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.warn(|| format!("{error}: {reason}"));
    }
}

impl ConsumerContext for LogContext {
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            self.warn(|| format!("offset commit failed (offsets are committed again): {e}"));
        }
    }
}
