//! A worker's share of a Kafka topic: start positions, reading, offset commits, the caught-up
//! state of each partition, and the records too large to receive.

use std::collections::HashMap;
use std::ffi::CString;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::fetched::fetched_watermarks;
use super::health::{SourceContext, STATS_INTERVAL};
use super::oversize::{probe, TooLarge};
use super::pump::LogPump;
use super::watch::TopicWatch;
use crate::checkpoint::Resume;
use crate::config::{Config, KafkaSettings};
use crate::kafka::client::{brokers, client_config};
use crate::kafka::log::RateLimitedLog;
use crate::kafka::topics::topic_partitions;
use crate::source::{Skipped, Source, SourceError, Status};

/// Least time between two asynchronous offset commits of one worker.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// How often every offset is committed again, changed or not. librdkafka reports the outcome
/// of an asynchronous manual commit only in its log, so a refused one (a coordinator moving, a
/// broker down) would otherwise stay lost on a partition that reads nothing more.
const RECOMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// How long the first poll of a batch waits for a message.
const POLL_WAIT: Duration = Duration::from_millis(5);
/// Least time between two searches for a record too large to receive.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// One owned partition.
#[derive(Debug)]
struct Owned {
    /// Kafka partition id.
    id: i32,
    /// Where reading started (before anything was delivered).
    start: Offset,
    /// The same as an offset, for checkpoints taken before anything is read.
    start_position: Option<i64>,
    /// The offset after the latest record delivered or skipped.
    next: Option<i64>,
    /// Bounded runs: the end of the partition when the run started.
    end: Option<i64>,
    /// Bounded runs: whether `end` has been checked against the first fetch's high watermark.
    end_checked: bool,
    /// Bounded runs: reached `end`.
    done: bool,
    /// Offset to commit next (`position + 1` of the latest committable record).
    commit_to: Option<i64>,
    /// The latest offset handed to a commit.
    committed: Option<i64>,
    /// When the latest record was delivered (or reading started).
    progressed: Instant,
}

/// A worker's share of a Kafka topic.
pub struct KafkaSource {
    consumer: Arc<BaseConsumer<SourceContext>>,
    /// Serves the consumer's log on a thread of its own.
    _log: LogPump,
    /// The consumer's settings, for probes.
    config: ClientConfig,
    topic: String,
    topic_c: CString,
    brokers: String,
    group: Option<String>,
    owned: Vec<Owned>,
    /// Local index by Kafka partition id.
    local: HashMap<i32, usize>,
    bounded: bool,
    remaining: usize,
    timeout: Duration,
    /// How recently a leader must have answered for its partitions to be caught up.
    fresh: Duration,
    last_commit: Instant,
    /// When every offset was last committed, see [`RECOMMIT_INTERVAL`].
    last_full_commit: Instant,
    last_probe: Option<Instant>,
    skipped: Vec<Skipped>,
    watch: TopicWatch,
    poll_errors: RateLimitedLog,
}

/// Hands the bytes of one message of `partition` to `deliver` unless it is past a bounded end;
/// returns whether it was delivered and whether the partition is finished.
fn take_message(
    partition: &mut Owned,
    high: impl FnOnce() -> Option<i64>,
    offset: i64,
    payload: &[u8],
    deliver: &mut dyn FnMut(usize, &[u8], i64),
    local: usize,
) -> (bool, bool) {
    if !partition.end_checked {
        // Bounded runs: the end is raised to the first fetch's high watermark.
        if let Some(high) = high() {
            partition.end_checked = true;
            partition.end = partition.end.map(|end| end.max(high));
        }
    }
    let past_end = partition.end.is_some_and(|end| offset >= end);
    if partition.done || past_end {
        return (false, past_end);
    }
    deliver(local, payload, offset);
    partition.next = Some(offset + 1);
    partition.progressed = Instant::now();
    (true, partition.end.is_some_and(|end| offset + 1 >= end))
}

/// Whether `error` means that a broker did not answer in time.
fn is_timeout(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(C::OperationTimedOut | C::RequestTimedOut)
    )
}

/// Whether `error` means that a connection to a broker was lost or refused.
fn is_disconnect(error: &KafkaError) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        error.rdkafka_error_code(),
        Some(C::BrokerTransportFailure | C::AllBrokersDown | C::NetworkException)
    )
}

/// The message for a failed start-up request.
fn unreachable(what: &str, brokers: &str, e: &KafkaError, timeout: Duration) -> SourceError {
    let hint = if is_timeout(e) || is_disconnect(e) {
        format!(
            "no connection or no answer within kafka.timeout = {timeout:?}: is the broker up \
             and reachable? Raise kafka.timeout if it is only slow"
        )
    } else {
        "is the broker up?".to_string()
    };
    SourceError(format!(
        "cannot {what} from Kafka at {brokers}: {e} ({hint}; check \
         kafka.properties.bootstrap.servers and the security.protocol/sasl.*/ssl.* properties)"
    ))
}

/// The consumer's settings: the properties, plus what the source needs.
fn consumer_config(
    settings: &KafkaSettings,
    index: usize,
    group: Option<&str>,
    bounded: bool,
) -> ClientConfig {
    let mut config = client_config(settings);
    // librdkafka needs a group.id to assign partitions, even when nothing is committed.
    config
        .set("group.id", group.unwrap_or("live-shopper-uncommitted"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", &settings.start)
        .set(
            "enable.partition.eof",
            if bounded { "true" } else { "false" },
        )
        .set(
            "statistics.interval.ms",
            STATS_INTERVAL.as_millis().to_string(),
        );
    if config.get("client.id").is_none() {
        config.set("client.id", format!("live-shopper-{index}"));
    }
    // Info level for the closed connections (see `TopicWatch`); only warnings are printed.
    config.set_log_level(RDKafkaLogLevel::Info);
    // Brokers answer a fetch as soon as they have data, so this only bounds how long an idle
    // fetch waits; but some compatible brokers (tansu 0.6) always wait it out, and librdkafka's
    // 500 ms default then caps reading at a few thousand records a second.
    if config.get("fetch.wait.max.ms").is_none() {
        config.set("fetch.wait.max.ms", "50");
    }
    config
}

/// How recently a leader must have answered: an idle fetch is answered after
/// `fetch.wait.max.ms`; a second more covers the statistics' age. It stays below the default
/// lateness, so that records produced while a broker paused are not late when it resumes.
fn freshness(config: &ClientConfig) -> Duration {
    let wait = config
        .get("fetch.wait.max.ms")
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or(500);
    Duration::from_millis(wait) + Duration::from_secs(1)
}

impl KafkaSource {
    /// Opens worker `index` of `peers`: looks up the topic, picks the worker's partitions and
    /// their start positions, and assigns them.
    pub fn open(
        config: &Config,
        index: usize,
        peers: usize,
        resume: &Resume,
    ) -> Result<KafkaSource, SourceError> {
        let settings = &config.kafka;
        let topic = settings.topic.clone();
        let group = (!settings.group_id.is_empty()).then(|| settings.group_id.clone());
        let client = consumer_config(settings, index, group.as_deref(), config.source.bounded);
        let consumer: BaseConsumer<SourceContext> = client
            .create_with_context(SourceContext::new(
                format!("consumer of worker {index}"),
                &topic,
                false,
            ))
            .map_err(|e| {
                SourceError(format!(
                    "cannot create a Kafka consumer: {e} (check the kafka.properties settings)"
                ))
            })?;
        let topic_c = CString::new(topic.clone())
            .map_err(|_| SourceError(format!("kafka.topic `{topic}` contains a NUL byte")))?;
        let brokers = brokers(settings);
        let consumer = Arc::new(consumer);
        let mut source = KafkaSource {
            _log: LogPump::start(consumer.clone()),
            consumer,
            fresh: freshness(&client),
            config: client,
            topic,
            topic_c,
            watch: TopicWatch::new(
                &ClientConfig::new(),
                &settings.topic,
                &brokers,
                0,
                settings.timeout,
            ),
            brokers,
            group,
            owned: Vec::new(),
            local: HashMap::new(),
            bounded: config.source.bounded,
            remaining: 0,
            timeout: settings.timeout,
            last_commit: Instant::now(),
            last_full_commit: Instant::now(),
            last_probe: None,
            skipped: Vec::new(),
            poll_errors: RateLimitedLog::new(),
        };
        let all = source.partition_ids_of_topic()?;
        source.watch = TopicWatch::new(
            &source.config,
            &source.topic,
            &source.brokers,
            all.len(),
            source.timeout,
        );
        let mine: Vec<i32> = all
            .into_iter()
            .filter(|id| *id as usize % peers.max(1) == index)
            .collect();
        let mut starts = source.start_offsets(&mine, &settings.start, resume.fresh)?;
        // A restored checkpoint says where its records end, whatever the group committed.
        for (id, start) in mine.iter().zip(starts.iter_mut()) {
            if let Some(next) = resume.kafka_offset(*id) {
                *start = Offset::Offset(next);
            }
        }
        source.assign(&mine, &starts)?;
        Ok(source)
    }

    /// Every partition id of the topic, or an error naming the topic and the brokers.
    fn partition_ids_of_topic(&self) -> Result<Vec<i32>, SourceError> {
        let (topic, brokers) = (&self.topic, &self.brokers);
        topic_partitions(self.consumer.client(), topic, self.timeout)
            .map_err(|e| {
                let what = format!("read the metadata of topic `{topic}`");
                unreachable(&what, brokers, &e, self.timeout)
            })?
            .ok_or_else(|| {
                SourceError(format!(
                    "topic `{topic}` (kafka.topic) does not exist on the Kafka brokers {brokers} \
                     (kafka.properties.bootstrap.servers): create it, or set kafka.topic to an \
                     existing topic"
                ))
            })
    }

    /// Start positions of `ids`: the offsets committed for the group, else `kafka.start`.
    /// (A restored checkpoint's positions override both; `fresh` ignores the committed ones.)
    fn start_offsets(
        &self,
        ids: &[i32],
        start: &str,
        fresh: bool,
    ) -> Result<Vec<Offset>, SourceError> {
        let committed = match (&self.group, ids.is_empty() || fresh) {
            (Some(group), false) => {
                let mut list = TopicPartitionList::with_capacity(ids.len());
                for id in ids {
                    list.add_partition(&self.topic, *id);
                }
                let found = self
                    .consumer
                    .committed_offsets(list, self.timeout)
                    .map_err(|e| {
                        let what = format!(
                            "read the offsets committed for group `{group}` (kafka.group_id)"
                        );
                        unreachable(&what, &self.brokers, &e, self.timeout)
                    })?;
                found.to_topic_map()
            }
            _ => HashMap::new(),
        };
        Ok(ids
            .iter()
            .map(|id| match committed.get(&(self.topic.clone(), *id)) {
                Some(Offset::Offset(offset)) if *offset >= 0 => Offset::Offset(*offset),
                _ if start == "latest" => Offset::End,
                _ => Offset::Beginning,
            })
            .collect())
    }

    /// The offset `start` stands for in partition `id`, and the partition's end.
    fn resolve(&self, id: i32, start: Offset) -> Result<(i64, i64), SourceError> {
        let (low, high) = self
            .consumer
            .fetch_watermarks(&self.topic, id, self.timeout)
            .map_err(|e| {
                let what = format!("read the end of partition {id} of `{}`", self.topic);
                unreachable(&what, &self.brokers, &e, self.timeout)
            })?;
        let from = match start {
            Offset::Offset(offset) => offset.max(low),
            Offset::End => high,
            _ => low,
        };
        Ok((from, high))
    }

    /// Assigns `ids` at `starts` (bounded runs: only the partitions with something to read).
    fn assign(&mut self, ids: &[i32], starts: &[Offset]) -> Result<(), SourceError> {
        let mut assignment = TopicPartitionList::with_capacity(ids.len());
        for (&id, &start) in ids.iter().zip(starts) {
            let (from, high) = self.resolve(id, start)?;
            let end = if self.bounded {
                // Bounded runs take only the partitions with something to read.
                if from >= high {
                    continue;
                }
                Some(high)
            } else {
                None
            };
            assignment
                .add_partition_offset(&self.topic, id, start)
                .map_err(|e| {
                    SourceError(format!(
                        "cannot assign partition {id} of `{}`: {e}",
                        self.topic
                    ))
                })?;
            self.owned.push(Owned {
                id,
                start,
                start_position: Some(from),
                next: None,
                end,
                end_checked: false,
                done: false,
                commit_to: None,
                committed: None,
                progressed: Instant::now(),
            });
        }
        if !self.owned.is_empty() {
            self.consumer.assign(&assignment).map_err(|e| {
                SourceError(format!(
                    "cannot assign the partitions of `{}` on Kafka at {}: {e}",
                    self.topic, self.brokers
                ))
            })?;
        }
        self.local = self
            .owned
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id, i))
            .collect();
        self.remaining = self.owned.len();
        Ok(())
    }

    /// The Kafka partition ids this worker reads, in local index order.
    pub fn partition_ids(&self) -> Vec<i32> {
        self.owned.iter().map(|p| p.id).collect()
    }

    fn finish_partition(&mut self, local: usize) {
        let Some(partition) = self.owned.get_mut(local) else {
            return;
        };
        if partition.done {
            return;
        }
        partition.done = true;
        self.remaining -= 1;
        let mut list = TopicPartitionList::new();
        list.add_partition(&self.topic, partition.id);
        // Stop fetching what comes after the end; failing to pause only costs some reading.
        let _ = self.consumer.pause(&list);
    }

    /// Hands the committable offsets to Kafka: those not committed yet, or all of them.
    fn commit_offsets(&mut self, mode: CommitMode, all: bool) {
        if self.group.is_none() {
            return;
        }
        let all = all || self.last_full_commit.elapsed() >= RECOMMIT_INTERVAL;
        if all {
            self.last_full_commit = Instant::now();
        }
        let mut list = TopicPartitionList::new();
        for partition in &mut self.owned {
            let Some(offset) = partition.commit_to else {
                continue;
            };
            let wanted = all || partition.committed != Some(offset);
            if wanted
                && list
                    .add_partition_offset(&self.topic, partition.id, Offset::Offset(offset))
                    .is_ok()
            {
                partition.committed = Some(offset);
            }
        }
        self.last_commit = Instant::now();
        if list.count() == 0 {
            return;
        }
        if let Err(e) = self.consumer.commit(&list, mode) {
            let group = self.group.as_deref().unwrap_or_default();
            eprintln!(
                "live-shopper: cannot commit offsets of `{}` for group `{group}` on Kafka at {}: \
                 {e} (they are committed again within {RECOMMIT_INTERVAL:?}; kafka.timeout = {:?} bounds \
                 each attempt)",
                self.topic, self.brokers, self.timeout
            );
        }
    }

    /// Decides whether a poll error stops the job.
    fn on_error(&mut self, error: KafkaError) -> Result<(), SourceError> {
        let fatal = matches!(error, KafkaError::MessageConsumptionFatal(_));
        let (topic, brokers) = (&self.topic, &self.brokers);
        let group = self.group.as_deref().unwrap_or_default();
        use RDKafkaErrorCode as C;
        match error.rdkafka_error_code() {
            Some(
                C::Authentication
                | C::SaslAuthenticationFailed
                | C::UnsupportedSASLMechanism
                | C::IllegalSASLState
                | C::SSL,
            ) => Err(SourceError(format!(
                "Kafka at {brokers} refused the connection: {error}. Fix the credentials: \
                 kafka.properties security.protocol, sasl.mechanism, sasl.username, sasl.password \
                 and the ssl.* properties"
            ))),
            Some(
                C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed,
            ) => Err(SourceError(format!(
                "Kafka at {brokers} does not allow this client to read: {error}. Grant the \
                 principal READ and DESCRIBE on topic `{topic}` (kafka.topic) and READ on group \
                 `{group}` (kafka.group_id)"
            ))),
            Some(C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition) => {
                self.watch.connection_lost(&self.consumer, &self.reading());
                self.retry(&error);
                Ok(())
            }
            _ if fatal => Err(SourceError(format!(
                "Kafka at {brokers} failed for good: {error} (the consumer cannot continue; \
                 check the broker and the kafka.properties settings)"
            ))),
            _ => {
                if is_disconnect(&error) {
                    self.watch.connection_lost(&self.consumer, &self.reading());
                }
                self.retry(&error);
                Ok(())
            }
        }
    }

    /// The partitions still being read.
    fn reading(&self) -> Vec<i32> {
        self.owned
            .iter()
            .filter(|p| !p.done)
            .map(|p| p.id)
            .collect()
    }

    /// Checks the topic's shape when due (see [`TopicWatch`]).
    fn watch_topic(&mut self) -> Result<(), SourceError> {
        if self.consumer.context().take_connection_lost() {
            self.watch.connection_lost(&self.consumer, &self.reading());
        }
        let reading = self.reading();
        self.watch.check(&self.consumer, &reading)
    }

    /// Logs a passing error at a bounded rate.
    fn retry(&self, error: &KafkaError) {
        let hint = if is_timeout(error) {
            format!(
                ": no answer within kafka.timeout = {:?}; retrying, and the watermark holds until \
                 the broker answers (raise kafka.timeout if it is only slow)",
                self.timeout
            )
        } else if is_disconnect(error) {
            format!(
                ": the connection failed, or got no answer within kafka.timeout = {:?}; retrying, \
                 and the watermark holds until the broker answers",
                self.timeout
            )
        } else {
            " (retrying)".to_string()
        };
        self.poll_errors
            .log(|| format!("Kafka at {}: {error}{hint}", self.brokers));
    }

    /// The offset partition `local` will deliver next, as far as known.
    fn position(&self, local: usize, low: i64, high: i64) -> Option<i64> {
        let partition = self.owned.get(local)?;
        match (partition.next, partition.start) {
            (Some(next), _) => Some(next),
            (None, Offset::Offset(offset)) => Some(offset),
            (None, Offset::End) => Some(high),
            (None, _) => (low >= 0).then_some(low),
        }
    }

    /// The offset partition `local` will deliver next, asking the broker for the start of the
    /// partition when nothing was read from it yet.
    fn probe_offset(&self, local: usize) -> Option<i64> {
        let id = self.owned.get(local)?.id;
        let (low, high) = fetched_watermarks(&self.consumer, &self.topic_c, id).or_else(|| {
            self.consumer
                .fetch_watermarks(&self.topic, id, self.timeout)
                .ok()
        })?;
        self.position(local, low, high)
    }

    /// When librdkafka reported an answer too large to receive: probes the partitions that made
    /// no progress lately, delivers the readable records a probe read before a record too
    /// large, skips that record and keeps it for a bad row.
    fn skip_too_large(
        &mut self,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<(), SourceError> {
        let Some(report) = self.consumer.context().take_too_large() else {
            return Ok(());
        };
        if self
            .last_probe
            .is_some_and(|at| at.elapsed() < PROBE_INTERVAL)
        {
            return Ok(());
        }
        self.last_probe = Some(Instant::now());
        for local in 0..self.owned.len() {
            let partition = &self.owned[local];
            if partition.done || partition.progressed.elapsed() < PROBE_INTERVAL {
                continue;
            }
            let id = partition.id;
            let Some(offset) = self.probe_offset(local) else {
                continue;
            };
            match probe(&self.config, &self.topic, id, offset, self.timeout) {
                Ok(Some(found)) => self.skip(local, found, deliver)?,
                Ok(None) => {}
                Err(e) => self
                    .poll_errors
                    .log(|| format!("cannot look for the record behind `{report}`: {e}")),
            }
        }
        Ok(())
    }

    /// Delivers the records `found` read before the record too large to receive, then skips
    /// that record.
    fn skip(
        &mut self,
        local: usize,
        found: TooLarge,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<(), SourceError> {
        let (consumer, topic_c) = (&self.consumer, self.topic_c.as_c_str());
        let id = self.owned[local].id;
        for (offset, bytes) in &found.before {
            let high = || {
                fetched_watermarks(consumer, topic_c, id)
                    .map(|(_, high)| high)
                    .or(found.high)
            };
            let (_, finished) =
                take_message(&mut self.owned[local], high, *offset, bytes, deliver, local);
            if finished {
                self.finish_partition(local);
                return Ok(());
            }
        }
        let offset = found.offset;
        let limit = self
            .config
            .get("receive.message.max.bytes")
            .unwrap_or("100000000 (the default)")
            .to_string();
        self.skipped.push(Skipped {
            partition: local,
            position: offset,
            reason: format!(
                "record: the record at offset {offset} of partition {id} of `{}` is too large to \
                 receive (librdkafka: {}); it was skipped. Records this large need \
                 kafka.properties.receive.message.max.bytes (now {limit}) and fetch.max.bytes \
                 raised above their size",
                self.topic, found.detail
            ),
        });
        self.consumer
            .seek(&self.topic, id, Offset::Offset(offset + 1), self.timeout)
            .map_err(|e| {
                SourceError(format!(
                    "cannot skip the record at offset {offset} of partition {id} of `{}` on \
                     Kafka at {}: {e}",
                    self.topic, self.brokers
                ))
            })?;
        let partition = &mut self.owned[local];
        partition.next = Some(offset + 1);
        partition.progressed = Instant::now();
        if partition.end.is_some_and(|end| offset + 1 >= end) {
            self.finish_partition(local);
        }
        Ok(())
    }
}

impl Source for KafkaSource {
    fn partitions(&self) -> usize {
        self.owned.len()
    }

    fn poll(
        &mut self,
        max: usize,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<Status, SourceError> {
        if self.last_commit.elapsed() >= COMMIT_INTERVAL {
            self.commit_offsets(CommitMode::Async, false);
        }
        let mut delivered = 0;
        let mut wait = POLL_WAIT;
        while delivered < max && !(self.bounded && self.remaining == 0) {
            // (local index, finished) of a message, once its bytes are delivered.
            let polled = self.consumer.poll(wait);
            if self.consumer.context().take_connection_lost() {
                self.watch.connection_lost(&self.consumer, &self.reading());
            }
            let outcome = match polled {
                None => break,
                Some(Ok(message)) => {
                    wait = Duration::ZERO;
                    let (offset, id) = (message.offset(), message.partition());
                    let payload = message.payload().unwrap_or_default();
                    let (consumer, topic) = (&self.consumer, self.topic_c.as_c_str());
                    let high = || fetched_watermarks(consumer, topic, id).map(|(_, high)| high);
                    self.local.get(&id).copied().map(|local| {
                        let partition = &mut self.owned[local];
                        let (taken, finished) =
                            take_message(partition, high, offset, payload, deliver, local);
                        delivered += usize::from(taken);
                        (local, finished)
                    })
                }
                Some(Err(KafkaError::PartitionEOF(id))) => {
                    self.local.get(&id).map(|&local| (local, self.bounded))
                }
                Some(Err(error)) => {
                    self.on_error(error)?;
                    None
                }
            };
            if let Some((local, true)) = outcome {
                self.finish_partition(local);
            }
        }
        self.skip_too_large(deliver)?;
        self.watch_topic()?;
        Ok(if delivered > 0 {
            Status::Records
        } else if self.bounded && self.remaining == 0 {
            Status::End
        } else {
            Status::Idle
        })
    }

    /// Read to the high watermark of the latest fetch answer, whose leader answered within the
    /// last [`freshness`] with no error reported since.
    fn caught_up(&self, partition: usize) -> bool {
        let Some(owned) = self.owned.get(partition) else {
            return false;
        };
        if owned.done {
            return true;
        }
        let answering = self
            .consumer
            .context()
            .answering(owned.id, Instant::now(), self.fresh);
        let Some((low, high)) = fetched_watermarks(&self.consumer, &self.topic_c, owned.id) else {
            return false;
        };
        answering
            && self
                .position(partition, low, high)
                .is_some_and(|next| next >= high)
    }

    fn partition_id(&self, partition: usize) -> Option<i32> {
        self.owned.get(partition).map(|p| p.id)
    }

    fn take_skipped(&mut self) -> Vec<Skipped> {
        std::mem::take(&mut self.skipped)
    }

    fn start_position(&self, partition: usize) -> Option<i64> {
        self.owned.get(partition).and_then(|p| p.start_position)
    }

    fn commit(&mut self, partition: usize, position: i64) {
        if let Some(owned) = self.owned.get_mut(partition) {
            owned.commit_to = Some(
                owned
                    .commit_to
                    .map_or(position + 1, |c| c.max(position + 1)),
            );
        }
        if self.last_commit.elapsed() >= COMMIT_INTERVAL {
            self.commit_offsets(CommitMode::Async, false);
        }
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        // The final positions, synchronously, whatever the asynchronous commits did.
        self.commit_offsets(CommitMode::Sync, true);
    }
}
