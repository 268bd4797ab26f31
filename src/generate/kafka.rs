//! The generator's records produced to a Kafka topic, keyed by user (as a Snowplow pipeline
//! partitioned by user would), at full speed or at a given rate. The topic is created with the
//! asked number of partitions when it is missing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::{GenerateOptions, Record, Shop};
use crate::kafka::log::LogContext;
use crate::kafka::topics::{ensure_topic, TopicStatus};

/// How long the end of a run waits for the last records to be acknowledged.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// Where and how fast to produce.
#[derive(Clone, Debug, PartialEq)]
pub struct KafkaTarget {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// The topic.
    pub topic: String,
    /// Partitions of the topic when it has to be created.
    pub partitions: usize,
    /// Records per second; 0 = as fast as the brokers take them.
    pub rate: f64,
    /// More librdkafka producer properties (security settings, ...), applied last.
    pub properties: Vec<(String, String)>,
}

impl KafkaTarget {
    /// Full speed to `topic` at `brokers`, 4 partitions if it has to be created.
    pub fn new(brokers: impl Into<String>, topic: impl Into<String>) -> KafkaTarget {
        KafkaTarget {
            brokers: brokers.into(),
            topic: topic.into(),
            partitions: 4,
            rate: 0.0,
            properties: Vec::new(),
        }
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Produced {
    /// Records acknowledged by the brokers.
    pub records: u64,
    /// Partitions of the topic.
    pub partitions: usize,
    /// Whether the topic was created by this run.
    pub created: bool,
    /// Wall time of the run.
    pub elapsed: Duration,
}

/// Counts acknowledgements and keeps the first failure.
struct Deliveries {
    log: LogContext,
    acknowledged: AtomicU64,
    failed: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl ClientContext for Deliveries {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }
}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_failure.lock() {
                    first.get_or_insert_with(|| error.to_string());
                }
            }
        }
    }
}

impl Deliveries {
    fn failure(&self, target: &KafkaTarget) -> Option<String> {
        let failed = self.failed.load(Ordering::Relaxed);
        (failed > 0).then(|| {
            let first = self
                .first_failure
                .lock()
                .ok()
                .and_then(|f| f.clone())
                .unwrap_or_default();
            format!(
                "{failed} records were not delivered to topic `{}` at {}: {first}",
                target.topic, target.brokers
            )
        })
    }
}

/// Generates a shop with `options` and produces it to `target`.
pub fn produce_shop(options: GenerateOptions, target: &KafkaTarget) -> Result<Produced, String> {
    let mut shop = Shop::new(options)?;
    produce_with(target, &mut |key, bytes| {
        shop.next_into(key, bytes).is_some()
    })
}

/// Produces already generated records to `target`, in order.
pub fn produce_records<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    target: &KafkaTarget,
) -> Result<Produced, String> {
    let mut records = records.into_iter();
    produce_with(target, &mut |key, bytes| match records.next() {
        Some(record) => {
            key.clear();
            key.push_str(&record.key);
            bytes.clear();
            bytes.extend_from_slice(&record.bytes);
            true
        }
        None => false,
    })
}

/// Produces every record `next` writes (into the key and bytes buffers) until it returns false.
fn produce_with(
    target: &KafkaTarget,
    next: &mut dyn FnMut(&mut String, &mut Vec<u8>) -> bool,
) -> Result<Produced, String> {
    let started = Instant::now();
    let status = ensure_topic(&target.client_config(), &target.topic, target.partitions)?;
    let (partitions, created) = match status {
        TopicStatus::Existed(n) => (n, false),
        TopicStatus::Created(n) => (n, true),
    };

    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &target.brokers)
        .set("client.id", "live-shopper-generate")
        .set("linger.ms", "10")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000")
        .set("max.in.flight.requests.per.connection", "1");
    for (key, value) in &target.properties {
        config.set(key, value);
    }
    let context = Deliveries {
        log: LogContext::new("generator producer"),
        acknowledged: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_failure: Mutex::new(None),
    };
    let producer: BaseProducer<Deliveries> = config
        .create_with_context(context)
        .map_err(|e| format!("cannot create a Kafka producer for {}: {e}", target.brokers))?;

    let mut key = String::new();
    let mut bytes = Vec::with_capacity(4096);
    let mut sent = 0u64;
    let paced_from = Instant::now();
    while next(&mut key, &mut bytes) {
        if target.rate > 0.0 {
            let due = paced_from + Duration::from_secs_f64(sent as f64 / target.rate);
            let now = Instant::now();
            if due > now + Duration::from_millis(1) {
                // Serving delivery reports is as good a way to wait as any.
                producer.poll(due - now);
                while Instant::now() < due {
                    producer.poll(due.saturating_duration_since(Instant::now()));
                }
            }
        }
        let mut record = BaseRecord::<[u8], [u8]>::to(&target.topic).payload(bytes.as_slice());
        if !key.is_empty() {
            record = record.key(key.as_bytes());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(20));
                }
                Err((e, _)) => {
                    return Err(format!(
                        "cannot produce to topic `{}` at {}: {e}",
                        target.topic, target.brokers
                    ))
                }
            }
        }
        sent += 1;
        if sent.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
            if let Some(failure) = producer.context().failure(target) {
                return Err(failure);
            }
        }
    }
    producer.flush(FLUSH_TIMEOUT).map_err(|e| {
        format!(
            "{} of {sent} records still unacknowledged by {} after {FLUSH_TIMEOUT:?}: {e}",
            sent.saturating_sub(producer.context().acknowledged.load(Ordering::Relaxed)),
            target.brokers
        )
    })?;
    producer.poll(Duration::ZERO);
    if let Some(failure) = producer.context().failure(target) {
        return Err(failure);
    }
    Ok(Produced {
        records: producer.context().acknowledged.load(Ordering::Relaxed),
        partitions,
        created,
        elapsed: started.elapsed(),
    })
}
