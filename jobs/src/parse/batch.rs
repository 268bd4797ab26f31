//! Compressed batches (Snowplow Enrich 6.11+): a zstd or gzip stream holding
//! `[format version = 1][payload version][u32 big-endian length][event bytes]...`.

use std::io::{Read, Write};

use super::error::{ParseError, Reason};

/// The compression of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// zstd frame(s), magic `28 B5 2F FD`.
    Zstd,
    /// gzip member(s), magic `1F 8B`.
    Gzip,
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];
/// The only framing this parser knows.
const FORMAT_VERSION: u8 = 1;
/// The only payload version this parser knows (enriched events, one per frame).
const PAYLOAD_VERSION: u8 = 1;

/// Upper bound on a decompressed batch. A Kafka record is at most a few MiB, and a record that
/// inflates past this is treated as a broken batch rather than allowed to exhaust memory.
pub const MAX_DECOMPRESSED: u64 = 256 << 20;

/// The compression of a record, if it starts with a compressed-batch magic.
pub(crate) fn detect(record: &[u8]) -> Option<Compression> {
    if record.starts_with(&ZSTD_MAGIC) {
        Some(Compression::Zstd)
    } else if record.starts_with(&GZIP_MAGIC) {
        Some(Compression::Gzip)
    } else {
        None
    }
}

fn bad(detail: impl Into<String>) -> ParseError {
    ParseError::new(
        "record",
        Reason::BadBatch {
            detail: detail.into(),
        },
    )
}

/// Decompresses a batch into `out` (cleared first).
pub(crate) fn decompress(
    record: &[u8],
    compression: Compression,
    out: &mut Vec<u8>,
) -> Result<(), ParseError> {
    out.clear();
    // Size hints from the headers (zstd frame content size, gzip ISIZE): growing the buffer by
    // doubling would copy a large batch several times over. Bounded by a generous compression
    // ratio, so that a forged header cannot make a tiny record reserve a lot of memory.
    let hint = match compression {
        Compression::Zstd => zstd::zstd_safe::get_frame_content_size(record)
            .ok()
            .flatten(),
        Compression::Gzip => record
            .last_chunk::<4>()
            .map(|size| u64::from(u32::from_le_bytes(*size))),
    };
    if let Some(hint) = hint {
        let plausible = (record.len() as u64).saturating_mul(64);
        out.reserve(hint.min(plausible).min(MAX_DECOMPRESSED) as usize);
    }
    let result = match compression {
        Compression::Zstd => zstd::stream::read::Decoder::new(record)
            .and_then(|d| d.take(MAX_DECOMPRESSED + 1).read_to_end(out)),
        Compression::Gzip => flate2::read::MultiGzDecoder::new(record)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(out),
    };
    match result {
        Err(e) => Err(bad(format!("{compression:?} decompression failed: {e}"))),
        Ok(n) if n as u64 > MAX_DECOMPRESSED => Err(bad(format!(
            "decompresses to more than {MAX_DECOMPRESSED} bytes"
        ))),
        Ok(_) => Ok(()),
    }
}

/// Splits a decompressed batch into its events. The whole framing is checked before any event is
/// returned, so that a truncated batch is one bad row, not some events plus a bad row.
pub(crate) fn frames(batch: &[u8]) -> Result<Vec<&[u8]>, ParseError> {
    let (&format, rest) = batch
        .split_first()
        .ok_or_else(|| bad("empty after decompression"))?;
    if format != FORMAT_VERSION {
        return Err(bad(format!("unsupported format version {format}")));
    }
    let (&payload, mut rest) = rest
        .split_first()
        .ok_or_else(|| bad("no payload version"))?;
    if payload != PAYLOAD_VERSION {
        return Err(bad(format!("unsupported payload version {payload}")));
    }
    let mut events = Vec::new();
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(bad(format!(
                "truncated length prefix after {} events",
                events.len()
            )));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return Err(bad(format!(
                "event {} claims {len} bytes, {} left",
                events.len(),
                tail.len()
            )));
        }
        let (event, tail) = tail.split_at(len);
        events.push(event);
        rest = tail;
    }
    Ok(events)
}

/// Builds a compressed batch in the Snowplow Enrich framing, for tests and the load generator.
///
/// # Panics
///
/// If an event is longer than `u32::MAX` bytes (the framing cannot express it), or if the
/// compressor fails, which for in-memory output only happens when memory runs out.
pub fn encode_batch(events: &[&[u8]], compression: Compression) -> Vec<u8> {
    let size = 2 + events.iter().map(|e| 4 + e.len()).sum::<usize>();
    let mut raw = Vec::with_capacity(size);
    raw.push(FORMAT_VERSION);
    raw.push(PAYLOAD_VERSION);
    for event in events {
        let len =
            u32::try_from(event.len()).expect("an event of a batch must be shorter than 4 GiB");
        raw.extend_from_slice(&len.to_be_bytes());
        raw.extend_from_slice(event);
    }
    match compression {
        Compression::Zstd => zstd::bulk::compress(&raw, 3).expect("in-memory zstd compression"),
        Compression::Gzip => {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            encoder
                .write_all(&raw)
                .and_then(|()| encoder.finish())
                .expect("in-memory gzip compression")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for c in [Compression::Zstd, Compression::Gzip] {
            let batch = encode_batch(&[b"one", b"", b"three"], c);
            assert_eq!(detect(&batch), Some(c));
            let mut buf = Vec::new();
            decompress(&batch, c, &mut buf).unwrap();
            assert_eq!(frames(&buf).unwrap(), vec![&b"one"[..], b"", b"three"]);
        }
    }

    #[test]
    fn broken_framing() {
        let reason = |raw: &[u8]| match frames(raw).unwrap_err().reason {
            Reason::BadBatch { detail } => detail,
            other => panic!("{other:?}"),
        };
        assert!(reason(&[]).contains("empty"));
        assert!(reason(&[2, 1]).contains("format version 2"));
        assert!(reason(&[1, 9]).contains("payload version 9"));
        assert!(reason(&[1, 1, 0, 0]).contains("truncated length"));
        assert!(reason(&[1, 1, 0, 0, 0, 5, b'a']).contains("claims 5 bytes"));
        assert_eq!(frames(&[1, 1]).unwrap(), Vec::<&[u8]>::new());
    }

    #[test]
    fn broken_compression() {
        let mut buf = Vec::new();
        let mut zstd = ZSTD_MAGIC.to_vec();
        zstd.extend_from_slice(b"garbage garbage");
        assert!(matches!(
            decompress(&zstd, Compression::Zstd, &mut buf)
                .unwrap_err()
                .reason,
            Reason::BadBatch { .. }
        ));
        let mut gzip = encode_batch(&[b"event"], Compression::Gzip);
        gzip.truncate(gzip.len() - 6);
        assert!(matches!(
            decompress(&gzip, Compression::Gzip, &mut buf)
                .unwrap_err()
                .reason,
            Reason::BadBatch { .. }
        ));
    }
}
