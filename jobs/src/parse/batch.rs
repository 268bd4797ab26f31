//! Compressed batches (Snowplow Enrich 6.11+): a zstd or gzip stream holding
//! `[format version = 1][payload version][u32 big-endian length][event bytes]...`.

use std::io::{Read, Write};

use super::error::{ParseError, Reason};
use super::limits::Limits;

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

/// How much of a batch is decompressed at a time. The output grows by at most this past what
/// it holds, never past the batch's cap.
const CHUNK: usize = 32 << 10;

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

/// Decompresses a batch into `out` (cleared first), stopping with
/// [`Reason::BatchTooLarge`] as soon as it would inflate past `limits.max_decompressed` or
/// `limits.max_compression_ratio` times the record's size. `out` never grows past that cap, so
/// that a small record cannot make the parser allocate much. The zstd decoder's own buffer is
/// the smaller of the frame's declared size and its window, and the window is held to the cap
/// rounded up to a power of two (at least 8 MiB, the largest window of ordinary levels).
pub(crate) fn decompress(
    record: &[u8],
    compression: Compression,
    limits: &Limits,
    out: &mut Vec<u8>,
) -> Result<(), ParseError> {
    out.clear();
    let (cap, limit) = limits.inflation_cap(record.len());
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    // Size hints from the headers (zstd frame content size, gzip ISIZE): growing the buffer by
    // doubling would copy a large batch several times over. A forged header reserves at most the
    // cap, which the record is entitled to anyway.
    let hint = match compression {
        Compression::Zstd => zstd::zstd_safe::get_frame_content_size(record)
            .ok()
            .flatten(),
        Compression::Gzip => record
            .last_chunk::<4>()
            .map(|size| u64::from(u32::from_le_bytes(*size))),
    };
    let too_large = || {
        ParseError::new(
            "record",
            Reason::BatchTooLarge {
                compressed: record.len(),
                limit,
            },
        )
    };
    // Only a hint, even when past the cap: garbage after a magic reads as a huge size, and
    // should be reported as broken, which decoding finds out.
    if let Some(hint) = hint {
        out.reserve_exact(usize::try_from(hint).unwrap_or(usize::MAX).min(cap));
    }
    let result = match compression {
        Compression::Zstd => zstd::stream::read::Decoder::with_buffer(record).and_then(|mut d| {
            d.window_log_max(window_log_max(cap))?;
            read_capped(d, cap, out)
        }),
        Compression::Gzip => read_capped(flate2::read::MultiGzDecoder::new(record), cap, out),
    };
    match result {
        Err(e) => Err(bad(format!("{compression:?} decompression failed: {e}"))),
        Ok(false) => {
            out.clear();
            Err(too_large())
        }
        Ok(true) => Ok(()),
    }
}

/// The largest zstd window (as a power of two) a batch capped at `cap` bytes may use: enough for
/// any frame that declares its size (its window is at most its size) and for any frame of
/// levels up to 19 (8 MiB windows at most), within what zstd accepts.
fn window_log_max(cap: usize) -> u32 {
    cap.checked_next_power_of_two()
        .map_or(usize::BITS, usize::ilog2)
        .clamp(23, 31)
}

/// Reads `reader` to its end into `out`, which must not grow past `cap` bytes. `Ok(false)` when
/// the stream holds more than that: it is not read further.
fn read_capped(mut reader: impl Read, cap: usize, out: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n > cap - out.len() {
            return Ok(false);
        }
        if out.capacity() - out.len() < n {
            // Amortised doubling, like `Vec`'s own, but never past the cap.
            let target = (out.capacity().saturating_mul(2))
                .max(out.len() + n)
                .min(cap);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
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
    use super::super::limits::InflationLimit;
    use super::*;

    #[test]
    fn round_trip() {
        for c in [Compression::Zstd, Compression::Gzip] {
            let batch = encode_batch(&[b"one", b"", b"three"], c);
            assert_eq!(detect(&batch), Some(c));
            let mut buf = Vec::new();
            decompress(&batch, c, &Limits::default(), &mut buf).unwrap();
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
            decompress(&zstd, Compression::Zstd, &Limits::default(), &mut buf)
                .unwrap_err()
                .reason,
            Reason::BadBatch { .. }
        ));
        let mut gzip = encode_batch(&[b"event"], Compression::Gzip);
        gzip.truncate(gzip.len() - 6);
        assert!(matches!(
            decompress(&gzip, Compression::Gzip, &Limits::default(), &mut buf)
                .unwrap_err()
                .reason,
            Reason::BadBatch { .. }
        ));
    }

    /// A batch whose decompressed size is exactly `size` bytes: the framing and one event.
    fn batch_of(size: usize, compression: Compression) -> Vec<u8> {
        encode_batch(&[&vec![b'x'; size - 6]], compression)
    }

    fn too_large(result: Result<(), ParseError>) -> InflationLimit {
        match result.map_err(|e| e.reason) {
            Err(Reason::BatchTooLarge { limit, .. }) => limit,
            other => panic!("expected BatchTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn size_cap() {
        let limits = Limits {
            max_decompressed: 1 << 20,
            max_compression_ratio: u64::MAX,
            ..Limits::default()
        };
        for c in [Compression::Zstd, Compression::Gzip] {
            let mut buf = Vec::new();
            let at_cap = batch_of(1 << 20, c);
            decompress(&at_cap, c, &limits, &mut buf).expect("a batch at the cap is fine");
            assert_eq!(buf.len(), 1 << 20);
            assert_eq!(frames(&buf).expect("framing")[0].len(), (1 << 20) - 6);

            let mut buf = Vec::new();
            let over = batch_of((1 << 20) + 1, c);
            let limit = too_large(decompress(&over, c, &limits, &mut buf));
            assert_eq!(limit, InflationLimit::Size(1 << 20), "{c:?}");
            assert!(buf.capacity() <= 1 << 20, "{c:?}: {}", buf.capacity());
        }
    }

    #[test]
    fn ratio_cap() {
        for c in [Compression::Zstd, Compression::Gzip] {
            let batch = batch_of(1 << 20, c);
            let ratio = ((1u64 << 20) as f64 / batch.len() as f64).ceil() as u64;
            assert!(ratio > 100, "{c:?}: a run of one byte compresses well");
            let mut limits = Limits {
                max_compression_ratio: ratio,
                ..Limits::default()
            };
            let mut buf = Vec::new();
            decompress(&batch, c, &limits, &mut buf).expect("a batch just under the ratio");
            assert_eq!(buf.len(), 1 << 20);

            limits.max_compression_ratio = ratio - 1;
            let mut buf = Vec::new();
            let limit = too_large(decompress(&batch, c, &limits, &mut buf));
            assert_eq!(limit, InflationLimit::Ratio(ratio - 1), "{c:?}");
            assert!(buf.capacity() as u64 <= (ratio - 1) * batch.len() as u64);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        // 100 MiB of zeros in about 3 KiB.
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 8 << 10, "{}", bomb.len());
        let mut buf = Vec::new();
        let limits = Limits::default();
        let limit = too_large(decompress(&bomb, Compression::Zstd, &limits, &mut buf));
        assert_eq!(
            limit,
            InflationLimit::Ratio(Limits::DEFAULT_MAX_COMPRESSION_RATIO)
        );
        assert!(buf.capacity() as u64 <= bomb.len() as u64 * limits.max_compression_ratio);

        // Past the size cap even with no ratio cap.
        let limits = Limits {
            max_compression_ratio: u64::MAX,
            ..Limits::default()
        };
        let limit = too_large(decompress(&bomb, Compression::Zstd, &limits, &mut buf));
        assert_eq!(
            limit,
            InflationLimit::Size(Limits::DEFAULT_MAX_DECOMPRESSED)
        );
        assert!(buf.capacity() as u64 <= Limits::DEFAULT_MAX_DECOMPRESSED);
    }

    /// A frame of unknown size with the given window, holding `size` bytes.
    fn streamed(size: usize, window_log: u32) -> Vec<u8> {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        encoder.window_log(window_log).unwrap();
        encoder.include_contentsize(false).unwrap();
        encoder.write_all(&vec![b'x'; size]).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn windows_past_the_cap_are_refused() {
        let limits = Limits {
            max_decompressed: 1 << 20,
            max_compression_ratio: u64::MAX,
            ..Limits::default()
        };
        let mut buf = Vec::new();
        // An 8 MiB window is allowed; the output stops at the cap.
        let record = streamed(4 << 20, 23);
        let limit = too_large(decompress(&record, Compression::Zstd, &limits, &mut buf));
        assert_eq!(limit, InflationLimit::Size(1 << 20));
        // A 16 MiB window is not, whatever the frame holds.
        let record = streamed(1000, 24);
        let error = decompress(&record, Compression::Zstd, &limits, &mut buf).unwrap_err();
        assert!(
            matches!(&error.reason, Reason::BadBatch { detail } if detail.contains("memory")),
            "{error}"
        );
        let limits = Limits {
            max_decompressed: 16 << 20,
            ..limits
        };
        decompress(&record, Compression::Zstd, &limits, &mut buf).expect("window within the cap");
        assert_eq!(buf.len(), 1000);
    }

    #[test]
    fn window_logs() {
        assert_eq!(window_log_max(64 << 20), 26);
        assert_eq!(window_log_max((64 << 20) + 1), 27);
        assert_eq!(window_log_max(0), 23);
        assert_eq!(window_log_max(usize::MAX), 31);
    }
}
