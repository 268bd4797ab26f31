//! The partition watermarks that librdkafka keeps from the latest fetch answers, which the
//! source and the search for records too large to receive both read.

use std::ffi::CStr;

use rdkafka::consumer::{BaseConsumer, Consumer};

use super::health::SourceContext;

/// The (low, high) watermarks of `partition` that came with the latest fetch answer, if any.
///
/// Bounded runs take the end of a partition from a ListOffsets request at start
/// (`fetch_watermarks`), and raise it to the high watermark when the first records arrive: some
/// Kafka-compatible brokers (tansu 0.6 with its memory or S3 storage) answer ListOffsets with
/// the first offset of the newest record batch instead of the end of the log, while their fetch
/// answers carry the right one. On Kafka both agree (up to records produced meanwhile).
pub(super) fn fetched_watermarks(
    consumer: &BaseConsumer<SourceContext>,
    topic: &CStr,
    partition: i32,
) -> Option<(i64, i64)> {
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
        .then_some((low, high))
}
