//! Kafka source: every worker reads its own partitions of `kafka.topic`, assigned
//! deterministically from its global index (partition `p` belongs to worker `p % peers`), with
//! `assign()`: no consumer-group membership, no rebalancing ([`source`]).
//!
//! Start position per partition: the offset committed for `kafka.group_id` if there is one, else
//! the beginning or the end of the partition (`kafka.start`). Positions are committed for the
//! group once the effects of the records before them have reached the sink: asynchronously at
//! most about once a second, and synchronously when the source is dropped (the end of a bounded
//! run). A bounded run reads up to the end of every partition as it was when the run started.
//! A partition is caught up (and may become idle) only when it is read to the high watermark of
//! a recent fetch answer from a leader that still answers ([`health`]); a record too large to
//! receive is skipped and reported ([`oversize`]).
//!
//! The module also holds the small Kafka helpers the bad-rows sink and the generator share:
//! client configuration from the settings, topic lookup and creation, a `block_on` for the admin
//! client's futures, rate-limited logging of librdkafka's own complaints, and the removal of
//! secrets from messages.

mod fetched;
pub mod health;
pub mod oversize;
pub mod pump;
pub mod source;
pub mod watch;

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::topic_partition_list::TopicPartitionList;
use rdkafka::ClientContext;

pub use source::KafkaSource;

use crate::checkpoint::Resume;
use crate::config::{Config, KafkaSettings};
use crate::run::Connectors;
use crate::sink::bad_rows::BadRowSink;
use crate::sink::kafka_bad_rows::KafkaBadRows;

/// How long topic lookups and creation may take when no `kafka.timeout` applies (the
/// generator).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Least time between two log lines about the same kind of trouble.
const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// Kafka connectors: each worker's partitions of `kafka.topic`, bad rows to
/// `kafka.bad_rows_topic`.
pub fn connectors() -> Connectors {
    Connectors {
        source: Arc::new(|config: &Config, index, peers, resume: &Resume| {
            let source = KafkaSource::open(config, index, peers, resume)
                .map_err(|e| redact(&config.kafka, &e.to_string()))?;
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

/// A librdkafka configuration holding every `kafka.properties` entry, with `kafka.timeout` as
/// the connection set-up and request timeouts unless the properties set them.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    let millis = settings.timeout.as_millis().to_string();
    for key in ["socket.connection.setup.timeout.ms", "socket.timeout.ms"] {
        if config.get(key).is_none() {
            config.set(key, &millis);
        }
    }
    config
}

/// Whether the value of librdkafka property `key` is a secret.
fn is_secret(key: &str) -> bool {
    [
        "password",
        "secret",
        "oauthbearer.config",
        "jaas.config",
        "key.pem",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `message` with the values of the secret `kafka.properties` (passwords, keys, OAuth
/// secrets) replaced by `***`, in case a librdkafka message quotes one.
pub fn redact(settings: &KafkaSettings, message: &str) -> String {
    let mut message = message.to_string();
    for (key, value) in &settings.properties {
        if is_secret(key) && !value.is_empty() {
            message = message.replace(value.as_str(), "***");
        }
    }
    message
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

/// [`ensure_topic_within`] with a 10 s timeout.
pub fn ensure_topic(
    config: &ClientConfig,
    topic: &str,
    partitions: usize,
) -> Result<TopicStatus, String> {
    ensure_topic_within(config, topic, partitions, DEFAULT_TIMEOUT)
}

/// Makes sure `topic` exists, creating it with `partitions` partitions (replication: the
/// broker's default, else 1) when it does not. `config` holds the connection properties; each
/// request may take `timeout`.
pub fn ensure_topic_within(
    config: &ClientConfig,
    topic: &str,
    partitions: usize,
    timeout: Duration,
) -> Result<TopicStatus, String> {
    let servers = config
        .get("bootstrap.servers")
        .unwrap_or("(no bootstrap.servers)")
        .to_string();
    let admin: AdminClient<LogContext> = config
        .create_with_context(LogContext::new("admin"))
        .map_err(|e| format!("cannot create a Kafka admin client for {servers}: {e}"))?;
    let lookup = |admin: &AdminClient<LogContext>| {
        topic_partitions(admin.inner(), topic, timeout).map_err(|e| {
            format!(
                "cannot read the metadata of topic `{topic}` from Kafka at {servers}: {e} \
                 (no answer within {timeout:?}? check the brokers, or raise kafka.timeout)"
            )
        })
    };
    if let Some(ids) = lookup(&admin)? {
        return Ok(TopicStatus::Existed(ids.len()));
    }
    let count = i32::try_from(partitions.max(1))
        .map_err(|_| format!("too many partitions: {partitions}"))?;
    let options = AdminOptions::new()
        .operation_timeout(Some(timeout))
        .request_timeout(Some(timeout));
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
    let deadline = Instant::now() + timeout;
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
