//! Why a record was rejected. Bad rows go to a bad-rows destination with their reason, so the
//! reason must name the field and say in words what was wrong with it.

use std::fmt;

use super::limits::InflationLimit;
use super::time::format_iso8601;
use crate::event::Millis;

/// What was wrong with a field. Each variant's `Display` is a short sentence for the bad-rows
/// destination and the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The record is none of the three encodings (no JSON object, no tab at all).
    UnknownEncoding,
    /// An enriched TSV line without exactly 131 tab-separated fields.
    FieldCount {
        /// How many fields the line has.
        found: usize,
    },
    /// Bytes that are not UTF-8 in a field the job reads.
    InvalidUtf8,
    /// Broken JSON, or JSON of the wrong shape (an array where an object belongs, ...).
    InvalidJson {
        /// The JSON parser's message.
        detail: String,
    },
    /// A self-describing JSON whose schema is not the one this field must hold.
    UnexpectedSchema {
        /// The schema URI found.
        schema: String,
    },
    /// A timestamp that is neither `yyyy-MM-dd HH:mm:ss[.SSS]` nor ISO-8601, or one outside
    /// 1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z once its offset is applied.
    InvalidTimestamp,
    /// An event time later than the wall clock plus `time.max_future`: the clock of whatever
    /// dated it is wrong, and counting it would move the watermark into the future.
    FutureTimestamp {
        /// The event time, epoch milliseconds.
        time: Millis,
        /// The latest event time accepted when it was read.
        latest: Millis,
    },
    /// Neither `derived_tstamp` nor `collector_tstamp` (flink JSON: `timestamp`) is set.
    MissingTimestamp,
    /// None of `user_id`, `domain_userid`, `network_userid` is set.
    MissingUserKey,
    /// No `event_id` (flink JSON: `id`).
    MissingEventId,
    /// An `event_id` that is not a UUID (32 hex digits, hyphens anywhere).
    InvalidEventId,
    /// A number field (price, total, step) that holds no number, or one out of range.
    InvalidNumber,
    /// A string field that holds another JSON type.
    NotAString,
    /// A kept entity field of type `bool` that holds neither `true` nor `false`.
    NotABoolean,
    /// A compressed batch that cannot be decompressed or whose framing is broken.
    BadBatch {
        /// What failed.
        detail: String,
    },
    /// A compressed batch that inflates past a limit (`source.max_decompressed_mib` or
    /// `source.max_compression_ratio`): decompression stops there, and the bad row holds the
    /// compressed record.
    BatchTooLarge {
        /// The size of the compressed record, in bytes.
        compressed: usize,
        /// The limit it went past.
        limit: InflationLimit,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::UnknownEncoding => f.write_str(
                "not a Snowplow enriched TSV line, Snowplow JSON or flink-live-shopper JSON",
            ),
            Reason::FieldCount { found } => {
                write!(f, "expected 131 tab-separated fields, found {found}")
            }
            Reason::InvalidUtf8 => f.write_str("not valid UTF-8"),
            Reason::InvalidJson { detail } => write!(f, "invalid JSON: {detail}"),
            Reason::UnexpectedSchema { schema } => write!(f, "unexpected schema {schema:?}"),
            Reason::InvalidTimestamp => f.write_str("unparsable timestamp"),
            Reason::MissingTimestamp => f.write_str("no event timestamp"),
            Reason::MissingUserKey => {
                f.write_str("no user key (user_id, domain_userid and network_userid all empty)")
            }
            Reason::MissingEventId => f.write_str("no event id"),
            Reason::InvalidEventId => f.write_str("event id is not a UUID"),
            Reason::InvalidNumber => f.write_str("not a valid number"),
            Reason::NotAString => f.write_str("expected a string"),
            Reason::NotABoolean => f.write_str("expected true or false"),
            Reason::BadBatch { detail } => write!(f, "broken compressed batch: {detail}"),
            Reason::FutureTimestamp { time, latest } => write!(
                f,
                "event time {} is later than {} (the wall clock plus time.max_future)",
                format_iso8601(*time),
                format_iso8601(*latest)
            ),
            Reason::BatchTooLarge {
                compressed,
                limit: InflationLimit::Size(size),
            } => write!(
                f,
                "compressed batch of {compressed} bytes inflates past {size} bytes \
                 (source.max_decompressed_mib)"
            ),
            Reason::BatchTooLarge {
                compressed,
                limit: InflationLimit::Ratio(ratio),
            } => write!(
                f,
                "compressed batch of {compressed} bytes inflates past {ratio} times its size \
                 (source.max_compression_ratio)"
            ),
        }
    }
}

/// Why a record was rejected: which field and what was wrong. Display: `<field>: <what>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The field at fault: an enriched field name (`derived_tstamp`), a JSON key path
    /// (`enrich.user`, `product.price`), or `record` when the whole record is at fault.
    pub field: &'static str,
    /// What was wrong with it.
    pub reason: Reason,
}

impl ParseError {
    /// Shorthand used throughout the parsers.
    pub fn new(field: &'static str, reason: Reason) -> ParseError {
        ParseError { field, reason }
    }

    /// A JSON error attributed to `field`; serde_json's message carries line and column.
    pub(crate) fn json(field: &'static str, err: serde_json::Error) -> ParseError {
        ParseError::new(
            field,
            Reason::InvalidJson {
                detail: err.to_string(),
            },
        )
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// A record that could not be parsed, with its reason and the original bytes, so that it can be
/// written to the bad-rows destination and replayed once fixed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// Why it was rejected.
    pub error: ParseError,
    /// The rejected bytes: the whole Kafka record, or one event of a compressed batch.
    pub original: Vec<u8>,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.error, self.original.len())
    }
}
