//! Topics: partition lookup and creation through the admin client, and a `block_on` for the
//! admin client's futures.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::ClientContext;

use super::log::LogContext;

/// How long topic lookups and creation may take when no `kafka.timeout` applies (the
/// generator).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

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
