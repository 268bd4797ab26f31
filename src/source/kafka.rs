//! Kafka source: every worker reads its own partitions of `kafka.topic`, assigned
//! deterministically from its global index (partition `p` belongs to worker `p % peers`), with
//! `assign()`: no consumer-group membership, no rebalancing.
//!
//! Start position per partition: the offset committed for `kafka.group_id` if there is one, else
//! the beginning or the end of the partition (`kafka.start`). Positions are committed for the
//! group once the effects of the records before them have reached the sink: asynchronously at
//! most about once a second, and synchronously when the source is dropped (the end of a bounded
//! run). A bounded run reads up to the end of every partition as it was when the run started.
//!
//! The module also holds the small Kafka helpers the bad-rows sink and the generator share:
//! client configuration from the settings, topic lookup and creation, a `block_on` for the admin
//! client's futures, and rate-limited logging of librdkafka's own complaints.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientContext;

use super::{Source, SourceError, Status};
use crate::config::{Config, KafkaSettings};
use crate::run::Connectors;
use crate::sink::bad_rows::BadRowSink;
use crate::sink::kafka_bad_rows::KafkaBadRows;

/// How long start-up requests (metadata, committed offsets, watermarks) may take.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Least time between two asynchronous offset commits of one worker.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
/// How long the first poll of a batch waits for a message.
const POLL_WAIT: Duration = Duration::from_millis(5);
/// Least time between two log lines about the same kind of trouble.
const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Kafka connectors: each worker's partitions of `kafka.topic`, bad rows to
/// `kafka.bad_rows_topic`.
pub fn connectors() -> Connectors {
    Connectors {
        source: Arc::new(|config: &Config, index, peers| {
            let source = KafkaSource::open(config, index, peers).map_err(|e| e.to_string())?;
            Ok(Box::new(source) as Box<dyn super::Source>)
        }),
        bad_rows: Arc::new(|config: &Config, index| {
            Ok(Box::new(KafkaBadRows::open(&config.kafka, index)?) as Box<dyn BadRowSink>)
        }),
    }
}

/// The brokers of the settings, for messages.
pub fn brokers(settings: &KafkaSettings) -> String {
    settings
        .properties
        .get("bootstrap.servers")
        .or_else(|| settings.properties.get("metadata.broker.list"))
        .cloned()
        .unwrap_or_else(|| "(none: set kafka.properties.bootstrap.servers)".to_string())
}

/// A librdkafka configuration holding every `kafka.properties` entry.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    config
}

/// Runs a future to completion on this thread (the admin client's futures are completed by its
/// own polling thread, so nothing more than a parking waker is needed).
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park_timeout(Duration::from_millis(100)),
        }
    }
}

/// The partition ids of `topic`, sorted, or `None` when the brokers do not know the topic.
pub fn topic_partitions<C: ClientContext>(
    client: &Client<C>,
    topic: &str,
    timeout: Duration,
) -> KafkaResult<Option<Vec<i32>>> {
    let metadata = client.fetch_metadata(Some(topic), timeout)?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Ok(None);
    };
    if let Some(error) = found.error() {
        let code = RDKafkaErrorCode::from(error);
        if matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
        ) {
            return Ok(None);
        }
        return Err(KafkaError::MetadataFetch(code));
    }
    let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    if ids.is_empty() {
        return Ok(None);
    }
    ids.sort_unstable();
    Ok(Some(ids))
}

/// What [`ensure_topic`] found or did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicStatus {
    /// The topic was there, with this many partitions.
    Existed(usize),
    /// The topic was created with this many partitions.
    Created(usize),
}

/// Makes sure `topic` exists, creating it with `partitions` partitions (replication: the
/// broker's default, else 1) when it does not. `config` holds the connection properties.
pub fn ensure_topic(
    config: &ClientConfig,
    topic: &str,
    partitions: usize,
) -> Result<TopicStatus, String> {
    let servers = config
        .get("bootstrap.servers")
        .unwrap_or("(no bootstrap.servers)")
        .to_string();
    let admin: AdminClient<LogContext> = config
        .create_with_context(LogContext::new("admin"))
        .map_err(|e| format!("cannot create a Kafka admin client for {servers}: {e}"))?;
    let lookup = |admin: &AdminClient<LogContext>| {
        topic_partitions(admin.inner(), topic, STARTUP_TIMEOUT).map_err(|e| {
            format!("cannot read the metadata of topic `{topic}` from Kafka at {servers}: {e}")
        })
    };
    if let Some(ids) = lookup(&admin)? {
        return Ok(TopicStatus::Existed(ids.len()));
    }
    let count = i32::try_from(partitions.max(1))
        .map_err(|_| format!("too many partitions: {partitions}"))?;
    let options = AdminOptions::new()
        .operation_timeout(Some(STARTUP_TIMEOUT))
        .request_timeout(Some(STARTUP_TIMEOUT));
    let mut last_error = String::new();
    // -1 asks for the broker's default replication factor (Kafka 2.4+); older brokers and
    // some compatible ones only take an explicit factor.
    for replication in [-1, 1] {
        let new_topic = NewTopic::new(topic, count, TopicReplication::Fixed(replication));
        match block_on(admin.create_topics([&new_topic], &options)) {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) | None => {
                    last_error.clear();
                    break;
                }
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
                    last_error.clear();
                    break;
                }
                Some(Err((_, code))) => last_error = code.to_string(),
            },
            Err(e) => last_error = e.to_string(),
        }
    }
    if !last_error.is_empty() {
        return Err(format!(
            "cannot create topic `{topic}` with {count} partitions on Kafka at {servers}: {last_error}"
        ));
    }
    // Wait until the brokers' metadata shows it.
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(ids) = lookup(&admin)? {
            return Ok(TopicStatus::Created(ids.len()));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "created topic `{topic}` on Kafka at {servers}, but it does not show in the metadata"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

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
            self.warn(|| format!("offset commit failed (it is retried with the next one): {e}"));
        }
    }
}

/// One owned partition.
#[derive(Debug)]
struct Owned {
    /// Kafka partition id.
    id: i32,
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
}

/// A worker's share of a Kafka topic.
pub struct KafkaSource {
    consumer: BaseConsumer<LogContext>,
    topic: String,
    topic_c: CString,
    brokers: String,
    group: Option<String>,
    owned: Vec<Owned>,
    /// Local index by Kafka partition id.
    local: HashMap<i32, usize>,
    bounded: bool,
    remaining: usize,
    last_commit: Instant,
    poll_errors: RateLimitedLog,
}

/// The high watermark of `partition` that came with the latest fetch response, if any.
///
/// Bounded runs take the end of a partition from a ListOffsets request at start
/// (`fetch_watermarks`), and raise it to this value when the first records arrive: some
/// Kafka-compatible brokers (tansu 0.6 with its memory or S3 storage) answer ListOffsets with
/// the first offset of the newest record batch instead of the end of the log, while their fetch
/// responses carry the right one. On Kafka both agree (up to records produced meanwhile).
fn fetched_high_watermark(
    consumer: &BaseConsumer<LogContext>,
    topic: &CStr,
    partition: i32,
) -> Option<i64> {
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the client pointer is valid while `consumer` is alive, `topic` is a NUL-terminated
    // string, and `low`/`high` are live `i64`s. The call only reads librdkafka's cached fetch
    // watermarks under the partition's lock.
    let error = unsafe {
        rdkafka::bindings::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (error == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0)
        .then_some(high)
}

/// The message for a failed start-up request.
fn unreachable(what: &str, brokers: &str, e: &KafkaError) -> SourceError {
    SourceError(format!(
        "cannot {what} from Kafka at {brokers}: {e} (is the broker up? check \
         kafka.properties.bootstrap.servers and the security.protocol/sasl.*/ssl.* properties)"
    ))
}

impl KafkaSource {
    /// Opens worker `index` of `peers`: looks up the topic, picks the worker's partitions and
    /// their start positions, and assigns them.
    pub fn open(config: &Config, index: usize, peers: usize) -> Result<KafkaSource, SourceError> {
        let settings = &config.kafka;
        let brokers = brokers(settings);
        let topic = settings.topic.clone();
        let bounded = config.source.bounded;
        let peers = peers.max(1);
        let mut client_config = client_config(settings);
        let group = (!settings.group_id.is_empty()).then(|| settings.group_id.clone());
        // librdkafka needs a group.id to assign partitions, even when nothing is committed.
        client_config.set(
            "group.id",
            group.as_deref().unwrap_or("live-shopper-uncommitted"),
        );
        client_config
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", &settings.start)
            .set(
                "enable.partition.eof",
                if bounded { "true" } else { "false" },
            );
        if client_config.get("client.id").is_none() {
            client_config.set("client.id", format!("live-shopper-{index}"));
        }
        // Brokers answer a fetch as soon as they have data, so this only bounds how long an
        // idle fetch waits; but some compatible brokers (tansu 0.6) always wait it out, and
        // librdkafka's 500 ms default then caps reading at a few thousand records a second.
        if client_config.get("fetch.wait.max.ms").is_none() {
            client_config.set("fetch.wait.max.ms", "50");
        }
        let consumer: BaseConsumer<LogContext> = client_config
            .create_with_context(LogContext::new(format!("consumer of worker {index}")))
            .map_err(|e| {
                SourceError(format!(
                    "cannot create a Kafka consumer: {e} (check the kafka.properties settings)"
                ))
            })?;

        let ids = topic_partitions(consumer.client(), &topic, STARTUP_TIMEOUT)
            .map_err(|e| {
                unreachable(
                    &format!("read the metadata of topic `{topic}`"),
                    &brokers,
                    &e,
                )
            })?
            .ok_or_else(|| {
                SourceError(format!(
                    "topic `{topic}` (kafka.topic) does not exist on the Kafka brokers {brokers} \
                     (kafka.properties.bootstrap.servers): create it, or set kafka.topic to an \
                     existing topic"
                ))
            })?;
        let mine: Vec<i32> = ids
            .into_iter()
            .filter(|id| *id as usize % peers == index)
            .collect();

        // Start positions: committed offsets of the group, else kafka.start.
        let mut starts: Vec<Offset> = Vec::with_capacity(mine.len());
        let committed = match (&group, mine.is_empty()) {
            (Some(group), false) => {
                let mut list = TopicPartitionList::with_capacity(mine.len());
                for id in &mine {
                    list.add_partition(&topic, *id);
                }
                let found = consumer
                    .committed_offsets(list, STARTUP_TIMEOUT)
                    .map_err(|e| {
                        unreachable(
                            &format!(
                                "read the offsets committed for group `{group}` (kafka.group_id)"
                            ),
                            &brokers,
                            &e,
                        )
                    })?;
                found.to_topic_map()
            }
            _ => HashMap::new(),
        };
        for id in &mine {
            starts.push(match committed.get(&(topic.clone(), *id)) {
                Some(Offset::Offset(offset)) if *offset >= 0 => Offset::Offset(*offset),
                _ if settings.start == "latest" => Offset::End,
                _ => Offset::Beginning,
            });
        }

        let mut owned = Vec::with_capacity(mine.len());
        let mut assignment = TopicPartitionList::with_capacity(mine.len());
        for (id, start) in mine.iter().zip(&starts) {
            let end = if bounded {
                let (low, high) = consumer
                    .fetch_watermarks(&topic, *id, STARTUP_TIMEOUT)
                    .map_err(|e| {
                        unreachable(
                            &format!("read the end of partition {id} of `{topic}`"),
                            &brokers,
                            &e,
                        )
                    })?;
                let from = match start {
                    Offset::Offset(offset) => (*offset).max(low),
                    Offset::End => high,
                    _ => low,
                };
                if from >= high {
                    // Nothing to read in this run: the partition takes no part.
                    continue;
                }
                Some(high)
            } else {
                None
            };
            assignment
                .add_partition_offset(&topic, *id, *start)
                .map_err(|e| {
                    SourceError(format!("cannot assign partition {id} of `{topic}`: {e}"))
                })?;
            owned.push(Owned {
                id: *id,
                end,
                end_checked: false,
                done: false,
                commit_to: None,
                committed: None,
            });
        }
        if !owned.is_empty() {
            consumer.assign(&assignment).map_err(|e| {
                SourceError(format!(
                    "cannot assign the partitions of `{topic}` on Kafka at {brokers}: {e}"
                ))
            })?;
        }
        let local = owned.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
        let remaining = owned.len();
        let topic_c = CString::new(topic.clone())
            .map_err(|_| SourceError(format!("kafka.topic `{topic}` contains a NUL byte")))?;
        Ok(KafkaSource {
            consumer,
            topic_c,
            topic,
            brokers,
            group,
            owned,
            local,
            bounded,
            remaining,
            last_commit: Instant::now(),
            poll_errors: RateLimitedLog::new(),
        })
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
                "live-shopper: cannot commit offsets of `{}` for group `{group}` on Kafka at {}: {e}",
                self.topic, self.brokers
            );
        }
    }

    /// Decides whether a poll error stops the job.
    fn on_error(&mut self, error: KafkaError) -> Result<(), SourceError> {
        let fatal = matches!(error, KafkaError::MessageConsumptionFatal(_));
        let code = error.rdkafka_error_code();
        let topic = &self.topic;
        let brokers = &self.brokers;
        use RDKafkaErrorCode as C;
        match code {
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
            Some(C::TopicAuthorizationFailed | C::GroupAuthorizationFailed | C::ClusterAuthorizationFailed) => {
                Err(SourceError(format!(
                    "Kafka at {brokers} does not allow this client to read: {error}. Grant the \
                     principal READ and DESCRIBE on topic `{topic}` (kafka.topic) and READ on group \
                     `{}` (kafka.group_id)",
                    self.group.as_deref().unwrap_or_default()
                )))
            }
            Some(C::UnknownTopicOrPartition | C::UnknownTopic | C::UnknownPartition) => {
                match topic_partitions(self.consumer.client(), topic, STARTUP_TIMEOUT) {
                    Ok(None) => Err(SourceError(format!(
                        "topic `{topic}` (kafka.topic) is gone from the Kafka brokers {brokers}: \
                         recreate it or point kafka.topic at an existing topic"
                    ))),
                    _ => {
                        self.poll_errors.log(|| format!("Kafka at {brokers}: {error} (retrying)"));
                        Ok(())
                    }
                }
            }
            _ if fatal => Err(SourceError(format!(
                "Kafka at {brokers} failed for good: {error} (the consumer cannot continue; \
                 check the broker and the kafka.properties settings)"
            ))),
            _ => {
                self.poll_errors.log(|| format!("Kafka at {brokers}: {error} (retrying)"));
                Ok(())
            }
        }
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
            // (local index, offset, finished) of a message, once its bytes are delivered.
            let outcome = match self.consumer.poll(wait) {
                None => break,
                Some(Ok(message)) => {
                    wait = Duration::ZERO;
                    let offset = message.offset();
                    match self.local.get(&message.partition()).copied() {
                        Some(local) => {
                            let partition = &mut self.owned[local];
                            if !partition.end_checked {
                                partition.end_checked = true;
                                if let (Some(end), Some(high)) = (
                                    partition.end,
                                    fetched_high_watermark(
                                        &self.consumer,
                                        &self.topic_c,
                                        partition.id,
                                    ),
                                ) {
                                    partition.end = Some(end.max(high));
                                }
                            }
                            let past_end = partition.end.is_some_and(|end| offset >= end);
                            if partition.done || past_end {
                                Some((local, past_end))
                            } else {
                                deliver(local, message.payload().unwrap_or_default(), offset);
                                delivered += 1;
                                Some((local, partition.end.is_some_and(|end| offset + 1 >= end)))
                            }
                        }
                        None => None,
                    }
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
        Ok(if delivered > 0 {
            Status::Records
        } else if self.bounded && self.remaining == 0 {
            Status::End
        } else {
            Status::Idle
        })
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
