//! Records too large to receive. A broker answers a fetch with at least the whole record batch
//! at the fetch position, however large (KIP-74). When that answer is larger than librdkafka's
//! `receive.message.max.bytes` (100 MB by default), librdkafka reads only the answer's size,
//! reports `Receive failed: Invalid response size <n> (0..<limit>): increase
//! receive.message.max.bytes` (error `__BAD_MSG`, with no partition or offset), drops the
//! connection and sends the same fetch again: the partition, and every partition fetched with
//! it, is stuck for good. (An older broker that cuts the answer short makes librdkafka report
//! `MSG_SIZE_TOO_LARGE` for the partition instead, once its fetch size has grown to 1 GB.)
//!
//! Since the report names no partition, the source looks for it by asking, for each partition
//! it reads, a short-lived quiet consumer with the same settings but the smallest fetch sizes to
//! read that partition alone from its position ([`probe`]). A broker answers such a fetch with
//! the one batch holding the offset asked for, so an answer too large means that this batch is
//! too large; the offset asked for is then the record's. Kafka puts a batch larger than the
//! fetch sizes only first in an answer, so the record is at the partition's position; tansu 0.6
//! adds batches until the fetch size is used up, the last one whole however large, so the record
//! may come after a few readable batches: the probe reads those (at most [`MAX_BEFORE`] bytes)
//! and hands them over, so that they are not lost when the source seeks past the record.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::fetched::fetched_watermarks;
use super::health::SourceContext;

/// The most bytes of readable records a probe reads before a record too large to receive: more
/// than any broker puts in one answer before such a record (tansu: 5 MB).
pub const MAX_BEFORE: usize = 8 << 20;

/// A record too large to receive, and the readable records before it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TooLarge {
    /// The record's offset.
    pub offset: i64,
    /// librdkafka's report.
    pub detail: String,
    /// The records from the probe's start up to it: (offset, bytes).
    pub before: Vec<(i64, Vec<u8>)>,
    /// The high watermark of the probe's fetch answers.
    pub high: Option<i64>,
}

/// Reads `partition` of `topic` from `offset` with a new quiet consumer made from `config` (the
/// source's settings), for at most `timeout`: the record too large to receive there, if any.
/// `None` when the partition is readable from there (or the broker did not answer in time).
pub fn probe(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    offset: i64,
    timeout: Duration,
) -> Result<Option<TooLarge>, KafkaError> {
    let consumer = probe_consumer(config, topic, partition, offset)?;
    let deadline = Instant::now() + timeout;
    let mut found = TooLarge {
        offset,
        ..TooLarge::default()
    };
    let mut bytes = 0;
    while Instant::now() < deadline && bytes <= MAX_BEFORE {
        let outcome = consumer.poll(Duration::from_millis(50));
        if let Some(report) = consumer.context().take_too_large() {
            found.detail = report;
            found.high = high(&consumer);
            return Ok(Some(found));
        }
        match outcome {
            Some(Ok(message)) if message.partition() == partition => {
                let payload = message.payload().unwrap_or_default();
                bytes += payload.len();
                found.before.push((message.offset(), payload.to_vec()));
                found.offset = message.offset() + 1;
            }
            Some(Err(KafkaError::PartitionEOF(id))) if id == partition => return Ok(None),
            Some(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::MessageSizeTooLarge))) => {
                found.detail = "the record batch is larger than the fetch size can grow to".into();
                found.high = high(&consumer);
                return Ok(Some(found));
            }
            _ => {}
        }
    }
    Ok(None)
}

/// The high watermark of the probe's latest fetch answer.
fn high(consumer: &BaseConsumer<SourceContext>) -> Option<i64> {
    let assignment = consumer.assignment().ok()?;
    let element = assignment.elements().into_iter().next()?;
    let topic = std::ffi::CString::new(element.topic()).ok()?;
    fetched_watermarks(consumer, &topic, element.partition()).map(|(_, high)| high)
}

/// A quiet consumer of `partition` alone from `offset`, with the smallest fetch sizes.
fn probe_consumer(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<BaseConsumer<SourceContext>, KafkaError> {
    let mut config = config.clone();
    config
        .set("group.id", "live-shopper-probe")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("statistics.interval.ms", "0")
        .set("message.max.bytes", "1000")
        .set("fetch.max.bytes", "1000")
        .set("max.partition.fetch.bytes", "1")
        .set("queued.max.messages.kbytes", "1024");
    let context = SourceContext::new("probe", topic, true);
    let consumer: BaseConsumer<SourceContext> = config.create_with_context(context)?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.assign(&list)?;
    Ok(consumer)
}
