//! Bad rows to Kafka: each worker produces its bad rows to `kafka.bad_rows_topic`, one JSON
//! message each (the document of [`super::bad_rows`], at most `kafka.bad_rows_max_bytes`, so
//! that no bad row can exceed librdkafka's `message.max.bytes`). Delivery happens in the
//! background; a failed delivery stops the job at the next bad row, and the producer is flushed
//! when the worker ends.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;

use super::bad_rows::BadRowSink;
use crate::config::KafkaSettings;
use crate::kafka::client::{brokers, client_config, redact};
use crate::kafka::log::LogContext;
use crate::kafka::topics::{ensure_topic_within, TopicStatus};

/// How long the end of a worker waits for its bad rows to be delivered.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);

/// Producer context: librdkafka's complaints to stderr, and the first failed delivery kept.
struct DeliveryContext {
    log: LogContext,
    failure: Mutex<Option<String>>,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        self.log.log(level, facility, message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.log.error(error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            if let Ok(mut failure) = self.failure.lock() {
                failure.get_or_insert_with(|| error.to_string());
            }
        }
    }
}

/// A worker's bad rows, produced to `kafka.bad_rows_topic`.
pub struct KafkaBadRows {
    producer: ThreadedProducer<DeliveryContext>,
    topic: String,
    brokers: String,
    failed: bool,
}

impl KafkaBadRows {
    /// Opens a producer for worker `index`; creates the topic (one partition) when the brokers
    /// do not have it.
    pub fn open(settings: &KafkaSettings, index: usize) -> Result<KafkaBadRows, String> {
        let brokers = brokers(settings);
        let topic = settings.bad_rows_topic.clone();
        let config = client_config(settings);
        match ensure_topic_within(&config, &topic, 1, settings.timeout) {
            Ok(TopicStatus::Existed(_)) => {}
            Ok(TopicStatus::Created(_)) => {
                eprintln!("live-shopper: created the bad-rows topic `{topic}` (kafka.bad_rows_topic) on {brokers}");
            }
            Err(e) => {
                return Err(redact(
                    settings,
                    &format!(
                        "bad rows go to topic `{topic}` (kafka.bad_rows_topic), which is missing: \
                         {e}. Create it, or set kafka.bad_rows_topic to an existing topic"
                    ),
                ))
            }
        }
        let mut config = config;
        if config.get("client.id").is_none() {
            config.set("client.id", format!("live-shopper-bad-rows-{index}"));
        }
        let context = DeliveryContext {
            log: LogContext::new(format!("bad-rows producer of worker {index}")),
            failure: Mutex::new(None),
        };
        let producer = config.create_with_context(context).map_err(|e| {
            redact(
                settings,
                &format!("cannot create the Kafka producer of bad rows for {brokers}: {e}"),
            )
        })?;
        Ok(KafkaBadRows {
            producer,
            topic,
            brokers,
            failed: false,
        })
    }

    fn failure(&self) -> Option<String> {
        self.producer
            .context()
            .failure
            .lock()
            .ok()
            .and_then(|f| f.clone())
    }
}

impl BadRowSink for KafkaBadRows {
    fn write(&mut self, document: &[u8]) -> Result<(), String> {
        if let Some(e) = self.failure() {
            self.failed = true;
            return Err(format!(
                "cannot deliver bad rows to topic `{}` (kafka.bad_rows_topic) on Kafka at {}: {e}",
                self.topic, self.brokers
            ));
        }
        let mut record = BaseRecord::<(), [u8]>::to(&self.topic).payload(document);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // The background thread drains the queue; wait for room.
                    record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((e, _)) => {
                    self.failed = true;
                    return Err(format!(
                        "cannot produce a bad row to topic `{}` (kafka.bad_rows_topic) on Kafka at {}: {e}",
                        self.topic, self.brokers
                    ));
                }
            }
        }
    }
}

impl Drop for KafkaBadRows {
    fn drop(&mut self) {
        if let Err(e) = self.producer.flush(FLUSH_TIMEOUT) {
            eprintln!(
                "live-shopper: bad rows still undelivered to topic `{}` on Kafka at {} after {FLUSH_TIMEOUT:?}: {e}",
                self.topic, self.brokers
            );
        }
        if let (Some(e), false) = (self.failure(), self.failed) {
            eprintln!(
                "live-shopper: some bad rows were not delivered to topic `{}` on Kafka at {}: {e}",
                self.topic, self.brokers
            );
        }
    }
}
