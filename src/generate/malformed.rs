//! Malformed records: one of each kind of bad input SPEC section 1 lists, built from a real
//! event so that they look like the damage seen in production (a truncated column, a broken
//! clock) rather than random noise only.

use super::catalog::Catalog;
use super::rng::Rng;
use super::shop::Event;
use super::tsv::{self, column_range, JSON_COLUMNS};
use super::write::Clock;
use super::{encode, Damage, Encoding};

/// The kinds of malformed record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// A TSV line with 130 or 132 fields (in any stream: topics can carry mixed encodings).
    FieldCount,
    /// A JSON column cut short (TSV), or the whole JSON record cut short.
    BrokenJson,
    /// `derived_tstamp` and `collector_tstamp` (flink JSON: `timestamp`) unparsable.
    BadTimestamp,
    /// `user_id`, `domain_userid` and `network_userid` all absent.
    NoUserKey,
    /// Bytes that are no encoding at all.
    NotAnEncoding,
}

impl Malformed {
    pub(crate) const ALL: [Malformed; 5] = [
        Malformed::FieldCount,
        Malformed::BrokenJson,
        Malformed::BadTimestamp,
        Malformed::NoUserKey,
        Malformed::NotAnEncoding,
    ];
}

/// Cuts `buf[start..end]` to about half, at a UTF-8 boundary, so the JSON there stays valid
/// UTF-8 but loses its closing brackets.
fn cut_half(buf: &mut Vec<u8>, start: usize, end: usize) {
    let mut cut = start + (end - start) / 2;
    while cut > start && (buf[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    buf.drain(cut..end);
}

/// Writes a malformed record derived from `ev` into `buf` (cleared first); returns whether the
/// record still has a user key (the Kafka key is empty otherwise).
pub(crate) fn write(
    kind: Malformed,
    encoding: Encoding,
    clock: &mut Clock,
    catalog: &Catalog,
    ev: &Event,
    rng: &mut Rng,
    buf: &mut Vec<u8>,
) -> bool {
    buf.clear();
    match kind {
        Malformed::FieldCount => {
            tsv::encode(buf, clock, catalog, ev, Damage::None);
            match rng.below(3) {
                0 => {
                    // Lost the last column.
                    if let Some(p) = buf.iter().rposition(|&b| b == b'\t') {
                        buf.truncate(p);
                    }
                }
                1 => buf.extend_from_slice(b"\textra"),
                _ => {
                    // A column dropped in the middle (an old Enrich version's layout).
                    if let Some((start, end)) = column_range(buf, 14) {
                        buf.drain(start..=end.min(buf.len() - 1));
                    }
                }
            }
            true
        }
        Malformed::BrokenJson => {
            match encoding {
                Encoding::Tsv => {
                    tsv::encode(buf, clock, catalog, ev, Damage::None);
                    let start = rng.below(3) as usize;
                    for i in 0..3 {
                        let col = JSON_COLUMNS[(start + i) % 3];
                        if let Some((s, e)) = column_range(buf, col) {
                            if e - s > 2 {
                                cut_half(buf, s, e);
                                return true;
                            }
                        }
                    }
                    // No JSON column at all: write an unterminated one.
                    if let Some((s, e)) = column_range(buf, JSON_COLUMNS[0]) {
                        buf.splice(
                            s..e,
                            b"{\"schema\":\"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0\",\"data\":[{"
                                .iter()
                                .copied(),
                        );
                    }
                }
                _ => {
                    encode(encoding, buf, clock, catalog, ev, Damage::None);
                    let len = buf.len();
                    cut_half(buf, 0, len);
                }
            }
            true
        }
        Malformed::BadTimestamp => {
            encode(
                encoding,
                buf,
                clock,
                catalog,
                ev,
                Damage::BadTimestamp(rng.below(4) as u8),
            );
            true
        }
        Malformed::NoUserKey => {
            encode(encoding, buf, clock, catalog, ev, Damage::NoUserKey);
            false
        }
        Malformed::NotAnEncoding => {
            match rng.below(4) {
                0 => {
                    buf.extend_from_slice(b"GET /com.snowplowanalytics.snowplow/tp2?e=pv&url=https%3A%2F%2Fshop.example.com%2F&eid=");
                    super::write::push_uuid(buf, ev.event_id);
                    buf.extend_from_slice(b" HTTP/1.1");
                }
                1 => {
                    // Printable noise: no tab, newline or brace, so no encoding can claim it.
                    buf.push(b'#');
                    for _ in 0..rng.range(10, 200) {
                        buf.push(b' ' + rng.below(0x5B) as u8);
                    }
                }
                2 => {
                    // A gzip header with nothing behind it that inflates.
                    buf.extend_from_slice(&[0x1F, 0x8B, 0x08, 0x00]);
                    for _ in 0..rng.range(8, 64) {
                        buf.push(b'A' + rng.below(26) as u8);
                    }
                }
                _ => {
                    // Invalid UTF-8.
                    buf.extend_from_slice(b"\xFF\xFE\x00binary\x01\x02\xC3\x28 record");
                }
            }
            true
        }
    }
}
