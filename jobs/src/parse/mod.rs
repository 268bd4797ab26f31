//! Parsing of Kafka records into shopper events (SPEC section 1).
//!
//! A record is a compressed batch (zstd or gzip magic) or one event in one of three encodings,
//! detected per event: JSON objects are Snowplow JSON or flink-live-shopper JSON, anything else
//! is tried as Snowplow enriched TSV. Bad input never panics and is never dropped: it comes back
//! as a [`BadRow`] with the field at fault and why.
//!
//! What a record may make the parser do is bounded by [`Limits`]: how far a batch may inflate,
//! and how far ahead of the wall clock an event may be dated.

mod at;
mod batch;
mod derive;
mod device;
mod entities;
mod envelope;
mod error;
mod flink_json;
mod json;
mod limits;
mod scan;
mod snowplow_json;
pub mod time;
mod tsv;
mod url;

pub use batch::{encode_batch, Compression};
pub use device::classify_user_agent;
pub use error::{BadRow, ParseError, Reason};
pub use limits::{InflationLimit, Limits, MAX_EVENT_TIME};
pub use tsv::{FIELD_COUNT, FIELD_NAMES};

use crate::event::ShopperEvent;
use crate::fields::{EntityFields, NO_FIELDS};

/// Parses one Kafka record: detects zstd (`28 B5 2F FD`) and gzip (`1F 8B`) compressed batches
/// and the three encodings per event; appends good events to `events` and rejects to `bad`.
///
/// A batch that cannot be decompressed, inflates past the limits or whose framing is broken is
/// one bad row holding the whole (compressed) record; a bad event inside a good batch is a bad
/// row holding only that event's bytes. An event dated after `limits.latest_event_time` is a bad
/// row too.
pub fn parse_record(
    record: &[u8],
    limits: &Limits,
    events: &mut Vec<ShopperEvent>,
    bad: &mut Vec<BadRow>,
) {
    parse_record_keeping(record, limits, &NO_FIELDS, events, bad);
}

/// [`parse_record`], keeping the entity fields of `fields` in each event's
/// [`fields`](ShopperEvent::fields). A kept field that does not hold its type makes the event a
/// bad row, as any other field of the event model does.
pub fn parse_record_keeping(
    record: &[u8],
    limits: &Limits,
    fields: &EntityFields,
    events: &mut Vec<ShopperEvent>,
    bad: &mut Vec<BadRow>,
) {
    let push = |bytes: &[u8], events: &mut Vec<ShopperEvent>, bad: &mut Vec<BadRow>| {
        match parse_event_keeping(bytes, limits, fields) {
            Ok(event) => events.push(event),
            Err(error) => bad.push(BadRow {
                error,
                original: bytes.to_vec(),
            }),
        }
    };
    let Some(compression) = batch::detect(record) else {
        push(record, events, bad);
        return;
    };
    let mut buffer = Vec::new();
    let framed = batch::decompress(record, compression, limits, &mut buffer)
        .and_then(|()| batch::frames(&buffer));
    match framed {
        Ok(frames) => {
            events.reserve(frames.len());
            for event in frames {
                push(event, events, bad);
            }
        }
        Err(error) => bad.push(BadRow {
            error,
            original: record.to_vec(),
        }),
    }
}

/// Parses one uncompressed event in any of the three encodings. A record starting with `{`
/// (after optional whitespace or a UTF-8 BOM) is JSON: flink-live-shopper JSON if it has a
/// `payload` or `enrich` key at top level, else Snowplow JSON. Anything else is tried as enriched
/// TSV. One trailing line terminator (`\n` or `\r\n`) is ignored, so that lines of a file parse
/// like Kafka records. Of `limits`, only the latest event time applies.
pub fn parse_event(bytes: &[u8], limits: &Limits) -> Result<ShopperEvent, ParseError> {
    parse_event_keeping(bytes, limits, &NO_FIELDS)
}

/// [`parse_event`], keeping the entity fields of `fields`.
pub fn parse_event_keeping(
    bytes: &[u8],
    limits: &Limits,
    fields: &EntityFields,
) -> Result<ShopperEvent, ParseError> {
    let bytes = strip_line_end(bytes);
    let start = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let json_start = start
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    match json_start {
        Some(i) if start[i] == b'{' => json::parse(&start[i..], limits.latest_event_time, fields),
        _ => tsv::parse(bytes, limits.latest_event_time, fields),
    }
}

fn strip_line_end(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes.strip_suffix(b"\r").unwrap_or(bytes)
}
