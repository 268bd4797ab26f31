//! What the consumer's own reports say about its brokers: librdkafka's statistics (every
//! [`STATS_INTERVAL`]) give, per broker connection, its state and the time since it last
//! received anything, and per partition its leader; its error reports say when a request or
//! connection failed, and when an answer was too large to receive.
//!
//! The Kafka source uses this to decide whether a partition is caught up: read to the high
//! watermark of the latest fetch answer, from a leader that answered within the last moments.
//! A broker that is paused keeps its connections open but stops answering; one that is down
//! refuses connections: either way its partitions are not caught up, and hold the watermark.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;
use serde_json::Value;

use crate::kafka::log::LogContext;

/// How often librdkafka reports its statistics (`statistics.interval.ms`).
pub const STATS_INTERVAL: Duration = Duration::from_millis(500);

/// What librdkafka says when an answer is larger than `receive.message.max.bytes`.
const TOO_LARGE: &str = "Invalid response size";

#[derive(Clone, Copy, Debug)]
struct Broker {
    up: bool,
    /// When it last received anything, as of the statistics.
    last_answer: Option<Instant>,
}

#[derive(Debug, Default)]
struct Health {
    brokers: HashMap<i32, Broker>,
    /// Leader node id per partition id of the topic.
    leaders: HashMap<i32, i32>,
    /// When the latest error (other than an end of partition) was reported.
    last_error: Option<Instant>,
    /// The latest report of an answer or record too large to receive.
    too_large: Option<String>,
    /// Whether a connection to a broker failed or closed since the last look.
    connection_lost: bool,
}

/// The consumer context of the Kafka source: librdkafka's complaints to stderr at a bounded
/// rate (unless quiet), and what its reports say about the brokers' health.
#[derive(Debug)]
pub struct SourceContext {
    log: LogContext,
    topic: String,
    quiet: bool,
    health: Mutex<Health>,
}

impl SourceContext {
    /// The context of a consumer of `topic`; a quiet one logs nothing.
    pub fn new(role: impl Into<String>, topic: &str, quiet: bool) -> SourceContext {
        SourceContext {
            log: LogContext::new(role),
            topic: topic.to_string(),
            quiet,
            health: Mutex::new(Health::default()),
        }
    }

    /// Logs `message` about this client at a bounded rate (unless quiet).
    pub fn warn(&self, message: impl FnOnce() -> String) {
        if !self.quiet {
            self.log.warn(message);
        }
    }

    fn update(&self, change: impl FnOnce(&mut Health)) {
        if let Ok(mut health) = self.health.lock() {
            change(&mut health);
        }
    }

    /// Whether the leader of `partition` answered within `within` of `now`, with no error
    /// reported in that time.
    pub fn answering(&self, partition: i32, now: Instant, within: Duration) -> bool {
        let Ok(health) = self.health.lock() else {
            return false;
        };
        let recent = |at: Instant| now.saturating_duration_since(at) <= within;
        if health.last_error.is_some_and(recent) {
            return false;
        }
        let broker = health
            .leaders
            .get(&partition)
            .and_then(|leader| health.brokers.get(leader));
        broker.is_some_and(|b| b.up && b.last_answer.is_some_and(recent))
    }

    /// Whether a connection to a broker failed or closed since the last call.
    pub fn take_connection_lost(&self) -> bool {
        self.health
            .lock()
            .is_ok_and(|mut h| std::mem::take(&mut h.connection_lost))
    }

    /// Takes the latest report of an answer too large to receive, if any.
    pub fn take_too_large(&self) -> Option<String> {
        self.health.lock().ok().and_then(|mut h| h.too_large.take())
    }

    fn note_error(&self, text: &str, code: Option<RDKafkaErrorCode>) {
        let too_large =
            text.contains(TOO_LARGE) || code == Some(RDKafkaErrorCode::MessageSizeTooLarge);
        self.update(|health| {
            health.last_error = Some(Instant::now());
            if too_large {
                health.too_large = Some(text.to_string());
            }
        });
    }

    fn read_stats(&self, stats: &Value, at: Instant) {
        let mut brokers = HashMap::new();
        for broker in stats["brokers"]
            .as_object()
            .into_iter()
            .flat_map(|b| b.values())
        {
            // Logical brokers (the group coordinator) and bootstrap entries duplicate or lack a
            // node id; the partitions' leaders are the learned ones.
            if broker["source"].as_str() == Some("logical") {
                continue;
            }
            let Some(id) = broker["nodeid"]
                .as_i64()
                .and_then(|id| i32::try_from(id).ok())
            else {
                continue;
            };
            let idle = broker["rxidle"].as_i64().filter(|micros| *micros >= 0);
            brokers.insert(
                id,
                Broker {
                    up: broker["state"].as_str() == Some("UP"),
                    last_answer: idle
                        .and_then(|micros| at.checked_sub(Duration::from_micros(micros as u64))),
                },
            );
        }
        let mut leaders = HashMap::new();
        let partitions = stats["topics"][self.topic.as_str()]["partitions"].as_object();
        for (id, partition) in partitions.into_iter().flatten() {
            let (Ok(id), Some(leader)) = (id.parse::<i32>(), partition["leader"].as_i64()) else {
                continue;
            };
            if id >= 0 && leader >= 0 {
                leaders.insert(id, leader as i32);
            }
        }
        self.update(|health| {
            health.brokers = brokers;
            health.leaders = leaders;
        });
    }
}

impl ClientContext for SourceContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        if message.contains(TOO_LARGE) {
            self.note_error(message, None);
        }
        // librdkafka logs every failed or closed broker connection under FAIL (at info level
        // when the connection was idle, with no error report to the application).
        if facility == "FAIL" {
            self.update(|health| health.connection_lost = true);
        }
        if !self.quiet {
            self.log.log(level, facility, message);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let code = error.rdkafka_error_code();
        if code == Some(RDKafkaErrorCode::PartitionEOF) {
            return;
        }
        self.note_error(reason, code);
        if !self.quiet {
            self.log.error(error, reason);
        }
    }

    fn stats_raw(&self, statistics: &[u8]) {
        if let Ok(stats) = serde_json::from_slice::<Value>(statistics) {
            self.read_stats(&stats, Instant::now());
        }
    }
}

impl ConsumerContext for SourceContext {
    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            self.warn(|| format!("offset commit failed (offsets are committed again): {e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(state: &str, rxidle_micros: i64) -> Value {
        serde_json::json!({
            "brokers": {
                "127.0.0.1:9092/1": {"nodeid": 1, "source": "learned", "state": state, "rxidle": rxidle_micros},
                "GroupCoordinator": {"nodeid": 1, "source": "logical", "state": "UP", "rxidle": 0},
                "127.0.0.1:9092/bootstrap": {"nodeid": -1, "source": "configured", "state": "UP", "rxidle": 0}
            },
            "topics": {"events": {"partitions": {
                "0": {"leader": 1}, "1": {"leader": 2}, "-1": {"leader": -1}
            }}}
        })
    }

    #[test]
    fn a_leader_answers_when_up_and_recently_heard() {
        let context = SourceContext::new("test", "events", true);
        let now = Instant::now();
        let within = Duration::from_secs(1);
        assert!(!context.answering(0, now, within), "no statistics yet");
        context.read_stats(&stats("UP", 20_000), now);
        assert!(context.answering(0, now, within));
        assert!(!context.answering(1, now, within), "broker 2 is unknown");
        assert!(
            !context.answering(0, now + Duration::from_secs(2), within),
            "stale"
        );
        context.read_stats(&stats("UP", 5_000_000), now);
        assert!(
            !context.answering(0, now, within),
            "paused: no answer for 5 s"
        );
        context.read_stats(&stats("DOWN", 0), now);
        assert!(!context.answering(0, now, within), "down");
    }

    #[test]
    fn errors_hold_and_too_large_answers_are_kept() {
        let context = SourceContext::new("test", "events", true);
        let now = Instant::now();
        context.read_stats(&stats("UP", 0), now);
        context.error(
            KafkaError::Global(RDKafkaErrorCode::PartitionEOF),
            "end of partition",
        );
        assert!(context.answering(0, now, Duration::from_secs(1)));
        context.error(
            KafkaError::Global(RDKafkaErrorCode::BadMessage),
            "127.0.0.1:9092/1: Receive failed: Invalid response size 157286474 (0..100000000): \
             increase receive.message.max.bytes",
        );
        assert!(!context.answering(0, Instant::now(), Duration::from_secs(1)));
        let report = context.take_too_large().expect("kept");
        assert!(report.contains("157286474"), "{report}");
        assert_eq!(context.take_too_large(), None, "taken once");
    }
}
