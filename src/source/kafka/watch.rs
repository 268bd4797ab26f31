//! Watching the topic's shape: the job reads the partitions the topic had when it started, so
//! a topic that is deleted, recreated or given other partitions while the job runs must stop it
//! with a clear error rather than leave it reading nothing (librdkafka handles a fetch of an
//! unknown topic by itself and reports nothing) or missing the new partitions.
//!
//! It also works around a crash: librdkafka 2.12 (and 2.16) dies with SIGSEGV when a tansu
//! broker answers a fetch for a topic it does not know, which happens after the topic is
//! deleted or after tansu restarts with its memory storage empty (docs/ARCHITECTURE.md, Kafka).
//! A restarted broker first drops the connection: the source then pauses every partition at
//! once, so that no fetch goes out on the new connection before a metadata request has shown
//! the topic unchanged. Only then does reading resume; a topic that is gone stops the job.
//! The checks run on a thread of their own, with a client of their own, so that no worker
//! waits for them: a worker that waits holds back the others, which then stop looking at their
//! own consumers' reports in time.

use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaResult;
use rdkafka::topic_partition_list::TopicPartitionList;

use super::health::SourceContext;
use crate::kafka::topics::topic_partitions;
use crate::source::SourceError;

/// How often the topic's partitions are checked while reading goes on.
const CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How long to wait before checking again after a check failed.
const RETRY: Duration = Duration::from_secs(1);

/// What a check found: the topic's partition ids, `None` when it does not exist.
type Found = KafkaResult<Option<Vec<i32>>>;

/// The topic's expected shape, and whether reading waits for it to be checked.
#[derive(Debug)]
pub struct TopicWatch {
    config: ClientConfig,
    topic: String,
    brokers: String,
    partitions: usize,
    timeout: Duration,
    next_check: Instant,
    /// The check under way.
    pending: Option<Receiver<Found>>,
    /// Whether the partitions are paused until a check succeeds.
    paused: bool,
}

/// Looks the topic up with a new quiet client made from `config`, on a thread of its own.
fn spawn_check(config: &ClientConfig, topic: &str, timeout: Duration) -> Receiver<Found> {
    let (send, receive) = mpsc::channel();
    let (mut config, topic) = (config.clone(), topic.to_string());
    config.set("statistics.interval.ms", "0");
    std::thread::spawn(move || {
        let context = SourceContext::new("topic check", &topic, true);
        let found = config
            .create_with_context::<_, BaseConsumer<SourceContext>>(context)
            .and_then(|client| topic_partitions(client.client(), &topic, timeout));
        // The source may be gone by now; then nobody needs the answer.
        let _ = send.send(found);
    });
    receive
}

impl TopicWatch {
    /// Watches `topic`, which has `partitions` partitions now; checks use clients made from
    /// `config`.
    pub fn new(
        config: &ClientConfig,
        topic: &str,
        brokers: &str,
        partitions: usize,
        timeout: Duration,
    ) -> TopicWatch {
        TopicWatch {
            config: config.clone(),
            topic: topic.to_string(),
            brokers: brokers.to_string(),
            partitions,
            timeout,
            next_check: Instant::now() + CHECK_INTERVAL,
            pending: None,
            paused: false,
        }
    }

    /// After a lost connection: pauses `ids` until a check started from now on has found the
    /// topic unchanged (one under way may have asked the broker before it restarted).
    pub fn connection_lost(&mut self, consumer: &BaseConsumer<SourceContext>, ids: &[i32]) {
        if ids.is_empty() {
            return;
        }
        if !self.paused {
            // A failed pause only leaves the crash unguarded; reading itself is unaffected.
            let _ = consumer.pause(&self.list(ids));
            self.paused = true;
        }
        self.pending = None;
        self.next_check = Instant::now();
    }

    fn list(&self, ids: &[i32]) -> TopicPartitionList {
        let mut list = TopicPartitionList::with_capacity(ids.len());
        for id in ids {
            list.add_partition(&self.topic, *id);
        }
        list
    }

    /// Starts a check when due (after a lost connection at once, else every
    /// [`CHECK_INTERVAL`]), and acts on a finished one: resumes `ids` after a lost connection,
    /// fails when the topic is gone or changed.
    pub fn check(
        &mut self,
        consumer: &BaseConsumer<SourceContext>,
        ids: &[i32],
    ) -> Result<(), SourceError> {
        let Some(pending) = &self.pending else {
            if Instant::now() >= self.next_check {
                self.pending = Some(spawn_check(&self.config, &self.topic, self.timeout));
            }
            return Ok(());
        };
        let found = match pending.try_recv() {
            Ok(found) => found,
            Err(TryRecvError::Empty) => return Ok(()),
            Err(TryRecvError::Disconnected) => Err(rdkafka::error::KafkaError::Canceled),
        };
        self.pending = None;
        let Ok(found) = found else {
            // The broker did not answer: try again soon, still paused if paused.
            self.next_check = Instant::now() + RETRY;
            return Ok(());
        };
        self.verify(found.map(|ids| ids.len()))?;
        if std::mem::take(&mut self.paused) {
            consumer.resume(&self.list(ids)).map_err(|e| {
                SourceError(format!(
                    "cannot resume reading `{}` on Kafka at {}: {e}",
                    self.topic, self.brokers
                ))
            })?;
        }
        self.next_check = Instant::now() + CHECK_INTERVAL;
        Ok(())
    }

    /// Fails unless the topic exists with the partitions it had at start.
    fn verify(&self, found: Option<usize>) -> Result<(), SourceError> {
        let (topic, brokers, expected) = (&self.topic, &self.brokers, self.partitions);
        match found {
            Some(count) if count == expected => Ok(()),
            None => Err(SourceError(format!(
                "topic `{topic}` (kafka.topic) is gone from the Kafka brokers {brokers} (deleted, \
                 or the broker restarted without its data): recreate it or point kafka.topic at \
                 an existing topic, then restart the job"
            ))),
            Some(count) => Err(SourceError(format!(
                "topic `{topic}` (kafka.topic) on the Kafka brokers {brokers} now has {count} \
                 partitions instead of the {expected} it had when the job started: the job reads \
                 the partitions it was given at start, so restart it to read them all"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_or_missing_topic_is_a_clear_error() {
        let watch = TopicWatch::new(
            &ClientConfig::new(),
            "events",
            "b:9092",
            4,
            Duration::from_secs(10),
        );
        assert!(watch.verify(Some(4)).is_ok());
        let gone = watch.verify(None).expect_err("gone").to_string();
        assert!(
            gone.contains("`events`") && gone.contains("b:9092") && gone.contains("kafka.topic")
        );
        let more = watch.verify(Some(6)).expect_err("changed").to_string();
        assert!(
            more.contains("6 partitions") && more.contains("the 4"),
            "{more}"
        );
    }
}
