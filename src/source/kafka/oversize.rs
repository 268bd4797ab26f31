//! Records too large to receive. A broker answers a fetch with at least the whole record batch
//! at the fetch position, however large (KIP-74). When that answer is larger than librdkafka's
//! `receive.message.max.bytes` (100 MB by default), librdkafka reads only the answer's size,
//! reports `Receive failed: Invalid response size <n> (0..<limit>): increase
//! receive.message.max.bytes` (error `__BAD_MSG`, with no partition or offset), drops the
//! connection and sends the same fetch again: the partition, and every partition fetched with
//! it, is stuck for good. (An older broker that cuts the answer short makes librdkafka report
//! `MSG_SIZE_TOO_LARGE` for the partition instead, once its fetch size has grown to 1 GB.)
//!
//! Since the report names no partition, the source finds it by asking, for each partition it
//! reads, a short-lived quiet consumer with the same settings but the smallest fetch sizes to
//! fetch that partition alone at its position ([`probe`]): the answer is then the one batch
//! holding that offset, and if it is too large, that record is the one. The source then
//! seeks past that offset (a seek to an offset is allowed on an assigned partition) and reports
//! a bad row with the partition, the offset and librdkafka's words.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::health::SourceContext;

/// What fetching one partition alone at one offset gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The answer was too large to receive: librdkafka's report.
    TooLarge(String),
    /// A record (or the end of the partition) arrived: nothing is stuck there.
    Readable,
    /// Neither within the time allowed (the broker is slow or away); try again later.
    Unknown,
}

/// Fetches `partition` of `topic` at `offset` with a new quiet consumer made from `config` (the
/// source's settings), for at most `timeout`.
pub fn probe(
    config: &ClientConfig,
    topic: &str,
    partition: i32,
    offset: i64,
    timeout: Duration,
) -> Result<Probe, KafkaError> {
    let mut config = config.clone();
    config
        .set("group.id", "live-shopper-probe")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("statistics.interval.ms", "0")
        // The smallest fetch: the broker answers with the one batch holding `offset` (it
        // always sends the first batch whole), so an answer too large means that batch is.
        .set("message.max.bytes", "1000")
        .set("fetch.max.bytes", "1000")
        .set("max.partition.fetch.bytes", "1");
    let context = SourceContext::new("probe", topic, true);
    let consumer: BaseConsumer<SourceContext> = config.create_with_context(context)?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(topic, partition, Offset::Offset(offset))?;
    consumer.assign(&list)?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        let outcome = consumer.poll(Duration::from_millis(50));
        if let Some(report) = consumer.context().take_too_large() {
            return Ok(Probe::TooLarge(report));
        }
        match outcome {
            Some(Ok(message)) if message.partition() == partition => return Ok(Probe::Readable),
            Some(Err(KafkaError::PartitionEOF(id))) if id == partition => {
                return Ok(Probe::Readable)
            }
            Some(Err(KafkaError::MessageConsumption(RDKafkaErrorCode::MessageSizeTooLarge))) => {
                return Ok(Probe::TooLarge(format!(
                    "the record batch at offset {offset} is larger than the fetch size can grow to"
                )))
            }
            _ => {}
        }
    }
    Ok(Probe::Unknown)
}
