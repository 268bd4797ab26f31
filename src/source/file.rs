//! File source: one record per line. Worker `i` of `n` takes lines `i, i+n, i+2n, ...`, so every
//! worker parses its own share while the lines stay in file order within each share.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::{Source, SourceError, Status};

/// A worker's share of a file.
pub struct FileSource {
    reader: BufReader<File>,
    line: Vec<u8>,
    index: usize,
    peers: usize,
    line_number: i64,
    path: String,
    at_end: bool,
    /// Lines before this one were read by an earlier run.
    resume_from: i64,
}

impl FileSource {
    /// Opens `path` for worker `index` of `peers`.
    pub fn open(path: &Path, index: usize, peers: usize) -> Result<FileSource, SourceError> {
        let file = File::open(path)
            .map_err(|e| SourceError(format!("cannot open input file {}: {e}", path.display())))?;
        Ok(FileSource {
            reader: BufReader::with_capacity(1 << 20, file),
            line: Vec::with_capacity(4096),
            index,
            peers: peers.max(1),
            line_number: -1,
            path: path.display().to_string(),
            at_end: false,
            resume_from: 0,
        })
    }

    /// Skips the lines before `next`, read by the run that wrote the checkpoint being resumed.
    pub fn resume_at(mut self, next: Option<i64>) -> FileSource {
        self.resume_from = next.unwrap_or(0);
        self
    }
}

impl Source for FileSource {
    fn partitions(&self) -> usize {
        1
    }

    /// A file is caught up once it has been read to its end (file runs are bounded, so this
    /// never makes a partition idle; it is here for the trait's sake).
    fn caught_up(&self, _partition: usize) -> bool {
        self.at_end
    }

    fn poll(
        &mut self,
        max: usize,
        deliver: &mut dyn FnMut(usize, &[u8], i64),
    ) -> Result<Status, SourceError> {
        let mut delivered = 0;
        while delivered < max {
            self.line.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.line)
                .map_err(|e| SourceError(format!("cannot read {}: {e}", self.path)))?;
            if read == 0 {
                self.at_end = true;
                return Ok(if delivered > 0 {
                    Status::Records
                } else {
                    Status::End
                });
            }
            self.line_number += 1;
            if self.line_number as usize % self.peers != self.index
                || self.line_number < self.resume_from
            {
                continue;
            }
            let mut record = self.line.as_slice();
            while let Some((b'\n' | b'\r', rest)) = record.split_last() {
                record = rest;
            }
            if record.is_empty() {
                continue;
            }
            deliver(0, record, self.line_number);
            delivered += 1;
        }
        Ok(Status::Records)
    }
}
