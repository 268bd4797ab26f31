//! Bad rows: records that could not be parsed, with their reason, counted, logged at a bounded
//! rate and written to a bad-rows destination (a file for file sources, a topic for Kafka).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::parse::BadRow;

use crate::metrics::Metrics;

/// The JSON line (or Kafka message) of one bad row.
pub fn encode(row: &BadRow) -> Vec<u8> {
    let value = serde_json::json!({
        "reason": row.error.to_string(),
        "field": row.error.field,
        "original": String::from_utf8_lossy(&row.original),
    });
    value.to_string().into_bytes()
}

/// Where a worker's bad rows go.
pub trait BadRowSink {
    /// Takes one bad row.
    fn write(&mut self, row: &BadRow) -> Result<(), String>;
}

/// Bad rows appended to a file, one JSON line each; every worker appends whole lines.
pub struct FileBadRows {
    file: File,
}

impl FileBadRows {
    /// Opens (creating or appending to) `path`.
    pub fn open(path: &str) -> Result<FileBadRows, String> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot open bad-rows file {path} (output.bad_rows_file): {e}"))?;
        Ok(FileBadRows { file })
    }
}

impl BadRowSink for FileBadRows {
    fn write(&mut self, row: &BadRow) -> Result<(), String> {
        let mut line = encode(row);
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|e| format!("cannot write bad row: {e}"))
    }
}

/// Counts bad rows, logs them at most once per interval, and forwards them to a sink.
pub struct BadRows {
    sink: Box<dyn BadRowSink>,
    metrics: Arc<Metrics>,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl BadRows {
    /// Wraps `sink`.
    pub fn new(sink: Box<dyn BadRowSink>, metrics: Arc<Metrics>) -> BadRows {
        BadRows {
            sink,
            metrics,
            last_log: None,
            unlogged: 0,
        }
    }

    /// Handles one bad row.
    pub fn report(&mut self, row: &BadRow) -> Result<(), String> {
        Metrics::add(&self.metrics.bad_rows, 1);
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            eprintln!(
                "live-shopper: {} bad row(s); latest: {}",
                self.unlogged, row.error
            );
            self.unlogged = 0;
            self.last_log = Some(now);
        }
        self.sink.write(row)
    }
}
