//! Bad rows: records that could not be parsed (or not even read), with their reason, counted,
//! logged at a bounded rate and written to a bad-rows destination (a file for file sources, a
//! topic for Kafka).
//!
//! Both destinations get the same JSON document per bad row:
//!
//! ```json
//! {"reason": "derived_tstamp: unparsable timestamp", "field": "derived_tstamp",
//!  "original": "<the record as lossy UTF-8 text>", "original_base64": "<its exact bytes>",
//!  "original_length": 2345, "original_sha256": "<hex>", "truncated": false,
//!  "partition": 3, "offset": 1234}
//! ```
//!
//! A document never exceeds `kafka.bad_rows_max_bytes`: a longer original is cut (at a UTF-8
//! boundary where it is text), `truncated` is then true, and `original_length` and
//! `original_sha256` still describe the whole original, so that it can be found and checked.
//! A record the source could not read at all (larger than the consumer may receive) has no
//! original: `original_length` and `original_sha256` are null. `partition` is the Kafka
//! partition (null for files); `offset` is the Kafka offset, or for files the 0-based line number.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use jobs::parse::BadRow;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::metrics::Metrics;

/// Longest reason kept in a bad row, in bytes: reasons quote parts of the input (JSON parser
/// messages, schema URIs), and the cap must leave room for the original.
const MAX_REASON_BYTES: usize = 1024;

/// Smallest allowed `kafka.bad_rows_max_bytes`: the document without its original must fit.
pub const MIN_MAX_BYTES: usize = 4096;

/// Where a record came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// The Kafka partition id; `None` for files.
    pub partition: Option<i32>,
    /// The Kafka offset, or the 0-based line number of a file.
    pub offset: Option<i64>,
}

/// One bad row, before encoding.
#[derive(Clone, Debug)]
pub struct Report<'a> {
    /// Why it is a bad row: `<field>: <what was wrong>`.
    pub reason: String,
    /// The field at fault (`record` for the whole record).
    pub field: &'a str,
    /// The record's bytes, or `None` when the source could not read them.
    pub original: Option<&'a [u8]>,
    /// Where it came from.
    pub origin: Origin,
}

impl<'a> Report<'a> {
    /// The report of a record the parser rejected.
    pub fn parsed(row: &'a BadRow, origin: Origin) -> Report<'a> {
        Report {
            reason: row.error.to_string(),
            field: row.error.field,
            original: Some(&row.original),
            origin,
        }
    }
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The longest prefix of `bytes` of at most `len` bytes that does not end inside a UTF-8
/// sequence (when the bytes are UTF-8 up to there).
fn prefix(bytes: &[u8], len: usize) -> &[u8] {
    let cut = &bytes[..len.min(bytes.len())];
    match std::str::from_utf8(cut) {
        Err(e) if e.error_len().is_none() => &cut[..e.valid_up_to()],
        _ => cut,
    }
}

fn document(report: &Report<'_>, kept: &[u8]) -> Vec<u8> {
    let whole = report.original;
    let value = serde_json::json!({
        "reason": clip(&report.reason, MAX_REASON_BYTES),
        "field": clip(report.field, MAX_REASON_BYTES),
        "original": String::from_utf8_lossy(kept),
        "original_base64": BASE64.encode(kept),
        "original_length": whole.map(<[u8]>::len),
        "original_sha256": whole.map(|bytes| format!("{:x}", Sha256::digest(bytes))),
        "truncated": whole.is_none_or(|bytes| kept.len() < bytes.len()),
        "partition": report.origin.partition,
        "offset": report.origin.offset,
    });
    value.to_string().into_bytes()
}

/// The JSON document of one bad row, at most `max_bytes` long (for `max_bytes` of at least
/// [`MIN_MAX_BYTES`]): the largest prefix of the original that fits is kept.
pub fn encode(report: &Report<'_>, max_bytes: usize) -> Vec<u8> {
    let original = report.original.unwrap_or_default();
    let whole = document(report, original);
    if whole.len() <= max_bytes {
        return whole;
    }
    // The size grows with the prefix (by 1 to 6 bytes of text and 4/3 of base64 per byte), so
    // a binary search finds the longest prefix that fits; the empty one always does.
    let (mut fits, mut over) = (0usize, original.len().min(max_bytes));
    let mut best = document(report, &[]);
    while over - fits > 1 {
        let middle = fits + (over - fits) / 2;
        let candidate = document(report, prefix(original, middle));
        if candidate.len() <= max_bytes {
            fits = middle;
            best = candidate;
        } else {
            over = middle;
        }
    }
    best
}

/// Reads back the fields of a bad-row document that describe the original (for tests and
/// tools): the kept bytes, the full length and the SHA-256.
pub fn decode_original(document: &Value) -> Option<(Vec<u8>, Option<u64>, Option<String>)> {
    let kept = BASE64
        .decode(document.get("original_base64")?.as_str()?)
        .ok()?;
    let length = document.get("original_length").and_then(Value::as_u64);
    let sha = document
        .get("original_sha256")
        .and_then(Value::as_str)
        .map(String::from);
    Some((kept, length, sha))
}

/// Where a worker's bad rows go.
pub trait BadRowSink {
    /// Takes one encoded bad row (a JSON document, no line end).
    fn write(&mut self, document: &[u8]) -> Result<(), String>;
}

/// Bad rows appended to a file, one JSON line each. Every worker of every process opens the file
/// in append mode and writes each line with one `write`, so that lines never interleave; the
/// file is emptied once per run, by [`FileBadRows::start_fresh`], before any worker starts.
pub struct FileBadRows {
    file: File,
    line: Vec<u8>,
}

impl FileBadRows {
    /// Empties (or creates) `path`. Call it once per run, in one process, before the workers
    /// start: process 0 calls it before connecting to the others, which wait for that
    /// connection before running any worker.
    pub fn start_fresh(path: &str) -> Result<(), String> {
        File::create(path)
            .map(drop)
            .map_err(|e| format!("cannot create bad-rows file {path} (output.bad_rows_file): {e}"))
    }

    /// Opens `path` for appending (creating it if need be).
    pub fn open(path: &str) -> Result<FileBadRows, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open bad-rows file {path} (output.bad_rows_file): {e}"))?;
        Ok(FileBadRows {
            file,
            line: Vec::new(),
        })
    }
}

impl BadRowSink for FileBadRows {
    fn write(&mut self, document: &[u8]) -> Result<(), String> {
        self.line.clear();
        self.line.extend_from_slice(document);
        self.line.push(b'\n');
        self.file
            .write_all(&self.line)
            .map_err(|e| format!("cannot write to the bad-rows file (output.bad_rows_file): {e}"))
    }
}

/// Counts bad rows, logs them at most once per interval, caps and encodes them, and forwards
/// them to a sink.
pub struct BadRows {
    sink: Box<dyn BadRowSink>,
    metrics: Arc<Metrics>,
    max_bytes: usize,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl BadRows {
    /// Wraps `sink`; documents are at most `max_bytes` long.
    pub fn new(sink: Box<dyn BadRowSink>, metrics: Arc<Metrics>, max_bytes: usize) -> BadRows {
        BadRows {
            sink,
            metrics,
            max_bytes: max_bytes.max(MIN_MAX_BYTES),
            last_log: None,
            unlogged: 0,
        }
    }

    /// Handles one bad row.
    pub fn report(&mut self, report: &Report<'_>) -> Result<(), String> {
        Metrics::add(&self.metrics.bad_rows, 1);
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            eprintln!(
                "live-shopper: {} bad row(s); latest: {}",
                self.unlogged,
                clip(&report.reason, MAX_REASON_BYTES)
            );
            self.unlogged = 0;
            self.last_log = Some(now);
        }
        self.sink.write(&encode(report, self.max_bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(original: &[u8]) -> Report<'_> {
        Report {
            reason: "record: not a Snowplow enriched TSV line".to_string(),
            field: "record",
            original: Some(original),
            origin: Origin {
                partition: Some(2),
                offset: Some(17),
            },
        }
    }

    fn parse(document: &[u8]) -> Value {
        serde_json::from_slice(document).expect("a bad row is JSON")
    }

    #[test]
    fn small_rows_are_whole() {
        let document = parse(&encode(&report(b"a\tb\xff"), 1 << 20));
        let (kept, length, sha) = decode_original(&document).expect("original fields");
        assert_eq!(kept, b"a\tb\xff");
        assert_eq!(length, Some(4));
        assert_eq!(
            sha.as_deref(),
            Some(format!("{:x}", Sha256::digest(b"a\tb\xff")).as_str())
        );
        assert_eq!(document["original"], "a\tb\u{fffd}");
        assert_eq!(document["truncated"], false);
        assert_eq!(
            (document["partition"].as_i64(), document["offset"].as_i64()),
            (Some(2), Some(17))
        );
    }

    #[test]
    fn large_rows_are_cut_to_the_cap_and_keep_length_and_hash() {
        // Control characters take 6 bytes of JSON each; multi-byte text must not be cut inside
        // a character.
        let mut original = Vec::new();
        while original.len() < 300_000 {
            original.extend_from_slice("\u{1}é€ tab\t".as_bytes());
        }
        for cap in [MIN_MAX_BYTES, 10_000, 65_536, 900_000] {
            let encoded = encode(&report(&original), cap);
            assert!(encoded.len() <= cap, "{} > {cap}", encoded.len());
            let document = parse(&encoded);
            let (kept, length, sha) = decode_original(&document).expect("original fields");
            assert!(original.starts_with(&kept));
            assert!(
                std::str::from_utf8(&kept).is_ok(),
                "cut at a character boundary"
            );
            assert_eq!(length, Some(original.len() as u64));
            assert_eq!(sha, Some(format!("{:x}", Sha256::digest(&original))));
            assert_eq!(document["truncated"], kept.len() < original.len());
            assert!(
                encoded.len() + 64 > cap || kept.len() == original.len(),
                "uses the room"
            );
        }
    }

    #[test]
    fn unread_records_and_long_reasons_fit() {
        let unread = Report {
            reason: "x".repeat(100_000),
            field: "record",
            original: None,
            origin: Origin::default(),
        };
        let document = parse(&encode(&unread, MIN_MAX_BYTES));
        assert_eq!(document["original_length"], Value::Null);
        assert_eq!(document["original_sha256"], Value::Null);
        assert_eq!(document["truncated"], true);
        assert_eq!(
            document["reason"].as_str().map(str::len),
            Some(MAX_REASON_BYTES)
        );
    }

    #[test]
    fn a_fresh_file_per_run_shared_by_workers() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("bad.jsonl");
        let path = path.to_str().expect("UTF-8 path");
        std::fs::write(path, "old line\n").expect("write");
        FileBadRows::start_fresh(path).expect("truncate");
        let mut workers = [
            FileBadRows::open(path).expect("open"),
            FileBadRows::open(path).expect("open"),
        ];
        for round in 0..3 {
            for (i, worker) in workers.iter_mut().enumerate() {
                worker
                    .write(format!("{{\"w\":{i},\"r\":{round}}}").as_bytes())
                    .expect("write");
            }
        }
        let text = std::fs::read_to_string(path).expect("read");
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(!text.contains("old"), "the previous run's rows are gone");
    }
}
