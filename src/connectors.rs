//! Connectors: what opens each worker's source and bad-rows destination, for each source kind.
//! The job is handed them, so that tests and benchmarks can read from memory instead.

use std::sync::Arc;

use crate::checkpoint::{PartitionId, Resume};
use crate::config::{Config, SourceKind};
use crate::kafka::client::redact;
use crate::sink::bad_rows::{BadRowSink, FileBadRows};
use crate::sink::kafka_bad_rows::KafkaBadRows;
use crate::source::file::FileSource;
use crate::source::kafka::KafkaSource;
use crate::source::Source;

/// Opens this worker's share of the configured source (worker index, workers), resuming where
/// a restored checkpoint left off.
pub type SourceFactory =
    Arc<dyn Fn(&Config, usize, usize, &Resume) -> Result<Box<dyn Source>, String> + Send + Sync>;

/// Opens this worker's bad-rows destination.
pub type BadRowsFactory =
    Arc<dyn Fn(&Config, usize) -> Result<Box<dyn BadRowSink>, String> + Send + Sync>;

/// Sources and bad-row sinks for each source kind.
#[derive(Clone)]
pub struct Connectors {
    /// Opens a worker's source.
    pub source: SourceFactory,
    /// Opens a worker's bad-rows destination.
    pub bad_rows: BadRowsFactory,
}

impl Connectors {
    /// The connectors the configured source kind needs.
    pub fn for_config(config: &Config) -> Connectors {
        match config.source.kind {
            SourceKind::File => Connectors::files(),
            SourceKind::Kafka => Connectors::kafka(),
        }
    }

    /// File sources, with bad rows to `output.bad_rows_file`.
    pub fn files() -> Connectors {
        Connectors {
            source: Arc::new(|config: &Config, index, peers, resume: &Resume| {
                let next = resume
                    .partitions
                    .get(&PartitionId::File { index, peers })
                    .and_then(|p| p.next);
                let source = FileSource::open(config.source.path.as_ref(), index, peers)
                    .map_err(|e| e.to_string())?
                    .resume_at(next);
                Ok(Box::new(source) as Box<dyn Source>)
            }),
            bad_rows: Arc::new(|config: &Config, _index| {
                Ok(Box::new(FileBadRows::open(&config.output.bad_rows_file)?)
                    as Box<dyn BadRowSink>)
            }),
        }
    }

    /// Kafka connectors: each worker's partitions of `kafka.topic`, bad rows to
    /// `kafka.bad_rows_topic`.
    pub fn kafka() -> Connectors {
        Connectors {
            source: Arc::new(|config: &Config, index, peers, resume: &Resume| {
                let source = KafkaSource::open(config, index, peers, resume)
                    .map_err(|e| redact(&config.kafka, &e.to_string()))?;
                Ok(Box::new(source) as Box<dyn Source>)
            }),
            bad_rows: Arc::new(|config: &Config, index| {
                Ok(Box::new(KafkaBadRows::open(&config.kafka, index)?) as Box<dyn BadRowSink>)
            }),
        }
    }
}
