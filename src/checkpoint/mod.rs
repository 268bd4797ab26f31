//! Checkpoints: consistent snapshots of every worker's window state and source positions, and
//! restoring them on start.
//!
//! The protocol (docs/ARCHITECTURE.md, "Checkpoints"): worker 0 asks for checkpoint `id` at its
//! current dataflow time `T` on the control stream. Each window operator saves its state once
//! every record stamped before `T` has reached it and before its first emission at or after `T`;
//! each worker saves the source positions from which its records stamped from `T` on were read.
//! When every part is on disk and the sinks have written everything before `T`, worker 0 writes
//! the manifest, which makes the checkpoint complete, and the workers commit its Kafka offsets.

pub mod store;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use operators::checkpoint::{PartStats, StateStore};
use operators::Millis;
use serde::{Deserialize, Serialize};

use crate::config::{Config, SourceKind};
use store::{decode_part, Found, PartHeader, Store, FORMAT};

/// The part of the source positions, beside the operators' parts.
pub const SOURCE_PART: &str = "Source";

/// A partition of the input, as a checkpoint names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum PartitionId {
    /// A Kafka partition.
    Kafka(i32),
    /// The lines of a file that worker `index` of `peers` reads.
    File {
        /// The worker.
        index: usize,
        /// Workers of the run.
        peers: usize,
    },
}

/// Where a partition's reading resumes, and the largest event time seen on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPartition {
    /// The partition.
    pub id: PartitionId,
    /// The position of the next record to read; `None` when nothing was read from it yet (it
    /// starts where a fresh run would).
    pub next: Option<i64>,
    /// The largest event time seen on it, for its watermark.
    pub largest: Option<Millis>,
}

/// Where the sources resume after a restore.
#[derive(Clone, Debug, Default)]
pub struct Resume {
    /// The dataflow time of the checkpoint: records read from here on are stamped from it on.
    pub at: Millis,
    /// Positions by partition.
    pub partitions: HashMap<PartitionId, SavedPartition>,
    /// Starting over (`--fresh`): the offsets the group committed are not used either.
    pub fresh: bool,
}

impl Resume {
    /// The next position of Kafka partition `id`, if the checkpoint has one.
    pub fn kafka_offset(&self, id: i32) -> Option<i64> {
        self.partitions.get(&PartitionId::Kafka(id))?.next
    }
}

/// The settings that shape the saved state, by name: a checkpoint is restored only into a job
/// with the same ones.
pub fn state_settings(config: &Config) -> BTreeMap<String, String> {
    let job = &config.job;
    let mut settings = BTreeMap::new();
    for lane in &job.lanes {
        let windows: Vec<&str> = lane.windows.iter().map(|w| w.name.as_str()).collect();
        settings.insert(
            format!("lanes.{}", lane.lane.name),
            format!(
                "windows {}, gap {} ms, emit_interval {} ms, retention {} ms; {:?}",
                windows.join(","),
                lane.gap,
                lane.interval,
                lane.retention,
                lane.lane,
            ),
        );
    }
    settings.insert(
        "lanes.expiry_grace".into(),
        format!("{} ms", job.expiry_grace),
    );
    let source = match config.source.kind {
        SourceKind::Kafka => format!(
            "kafka topic {}, group {}",
            config.kafka.topic, config.kafka.group_id
        ),
        SourceKind::File => format!("file {}", config.source.path),
    };
    settings.insert("source".into(), source);
    settings
}

/// The operators whose parts make a checkpoint of `config`'s job, and the source part.
pub fn part_names(config: &Config) -> Vec<String> {
    let mut names: Vec<String> = config.job.lanes.iter().map(|l| l.operator()).collect();
    names.push(SOURCE_PART.to_string());
    names
}

/// The payloads of a checkpoint's parts, by operator.
pub type Parts = HashMap<String, Vec<Arc<Vec<u8>>>>;

/// A checkpoint read back for restoring.
pub struct Restored {
    /// Its manifest.
    pub manifest: store::Manifest,
    /// The payloads of its parts, by operator.
    pub parts: Parts,
    /// Where the sources resume.
    pub resume: Resume,
    /// How long finding, reading and checking its files took.
    pub read_took: std::time::Duration,
}

/// What differs between a checkpoint's settings and the job's, one line per setting.
fn differences(saved: &BTreeMap<String, String>, now: &BTreeMap<String, String>) -> Vec<String> {
    let keys: std::collections::BTreeSet<&String> = saved.keys().chain(now.keys()).collect();
    let missing = "(not set)".to_string();
    keys.into_iter()
        .filter_map(|key| {
            let (a, b) = (
                saved.get(key).unwrap_or(&missing),
                now.get(key).unwrap_or(&missing),
            );
            (a != b).then(|| format!("{key}: checkpoint has {a}, this job has {b}"))
        })
        .collect()
}

/// Reads every part of `found`, checking each one.
fn read_parts(found: &Found) -> Result<Parts, String> {
    let mut parts = Parts::new();
    for entry in &found.manifest.parts {
        let path = found.dir.join(&entry.file);
        let file = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (header, payload) =
            decode_part(&file).map_err(|e| format!("{}: {e}", path.display()))?;
        if header.id != found.manifest.id || header.name != entry.name {
            return Err(format!(
                "{}: it belongs to another checkpoint or operator",
                path.display()
            ));
        }
        parts
            .entry(header.name)
            .or_default()
            .push(Arc::new(payload.to_vec()));
    }
    Ok(parts)
}

/// The source positions of a checkpoint's source parts.
fn resume_of(at: Millis, sources: &[Arc<Vec<u8>>]) -> Result<Resume, String> {
    let mut resume = Resume {
        at,
        partitions: HashMap::new(),
        fresh: false,
    };
    for part in sources {
        let saved: Vec<SavedPartition> = bincode::deserialize(part)
            .map_err(|e| format!("the source positions do not read: {e}"))?;
        for partition in saved {
            resume.partitions.insert(partition.id, partition);
        }
    }
    Ok(resume)
}

/// Finds the checkpoint to restore: the newest complete one whose parts all check out. One
/// of another format or other settings is an error that says what differs and how to start
/// fresh; a damaged one is skipped with a warning.
pub fn find(config: &Config, peers: usize) -> Result<Option<Restored>, String> {
    let store = Store::open(&config.checkpoint.dir)?;
    let settings = state_settings(config);
    let dir = config.checkpoint.dir.display();
    for found in store.complete_ones() {
        let found = match found {
            Ok(found) => found,
            Err(e) => {
                eprintln!("live-shopper: warning: checkpoint ignored: {e}");
                continue;
            }
        };
        let manifest = &found.manifest;
        if manifest.format != FORMAT {
            return Err(format!(
                "checkpoint {} in {dir} has format {}, this build reads format {FORMAT}: \
                 start with --fresh to discard the checkpoints and start over",
                manifest.id, manifest.format
            ));
        }
        let differ = differences(&manifest.settings, &settings);
        if !differ.is_empty() {
            return Err(format!(
                "checkpoint {} in {dir} was written by a job with other settings: {}. Restore \
                 it with those settings, or start with --fresh to discard the checkpoints and \
                 start over (or set checkpoint.dir to another directory)",
                manifest.id,
                differ.join("; ")
            ));
        }
        let parts = match read_parts(&found) {
            Ok(parts) => parts,
            Err(e) => {
                eprintln!(
                    "live-shopper: warning: checkpoint {} ignored, a part is damaged: {e}; \
                     trying the one before",
                    manifest.id
                );
                continue;
            }
        };
        if config.source.kind == SourceKind::File && manifest.peers != peers {
            return Err(format!(
                "checkpoint {} in {dir} was written by {} workers and this run has {peers}: a \
                 file run resumes only with the same number of workers (Kafka runs rescale); \
                 run with {} workers, or start with --fresh",
                manifest.id, manifest.peers, manifest.peers
            ));
        }
        let sources = parts.get(SOURCE_PART).cloned().unwrap_or_default();
        let resume = resume_of(manifest.at, &sources)?;
        return Ok(Some(Restored {
            manifest: found.manifest,
            parts,
            resume,
            read_took: std::time::Duration::ZERO,
        }));
    }
    Ok(None)
}

/// One line on what was restored; `took` is the time to read it and rebuild the state.
pub fn report(restored: &Restored, took: std::time::Duration) -> String {
    let m = &restored.manifest;
    let age = crate::clock::wall_clock().saturating_sub(m.completed_ms) / 1000;
    format!(
        "live-shopper: restored checkpoint {} (dataflow time {}, completed {age} s ago, {} \
         workers): {} keys, {} records, in {:.2} s",
        m.id,
        jobs::parse::time::format_timestamp(m.at),
        m.peers,
        m.stats.keys,
        m.stats.records,
        took.as_secs_f64()
    )
}

/// A part for the writing thread.
struct Job {
    header: PartHeader,
    payload: Vec<u8>,
}

/// The checkpoints of one process: the store, the thread that writes parts, and the checkpoint
/// restored on start.
pub struct Checkpoints {
    /// The directory.
    pub store: Store,
    writer: Mutex<mpsc::Sender<Job>>,
    restored: Option<Restored>,
    /// The parts' names.
    pub names: Vec<String>,
    /// Write failures, for the coordinator to give up on a checkpoint.
    pub failures: Arc<Mutex<Vec<(u64, String)>>>,
    reported: std::sync::atomic::AtomicBool,
}

impl Checkpoints {
    /// Opens the store and starts the writing thread. With `fresh`, existing checkpoints are
    /// removed; otherwise the newest usable one is loaded for restoring.
    pub fn start(config: &Config, peers: usize, fresh: bool) -> Result<Checkpoints, String> {
        let store = Store::open(&config.checkpoint.dir)?;
        let restored = if fresh {
            let removed = store.clear()?;
            if removed > 0 {
                eprintln!(
                    "live-shopper: --fresh: removed {removed} checkpoint(s) from {}",
                    config.checkpoint.dir.display()
                );
            }
            None
        } else {
            let started = Instant::now();
            let mut restored = find(config, peers)?;
            if let Some(restored) = restored.as_mut() {
                restored.read_took = started.elapsed();
            }
            restored
        };
        let (sender, receiver) = mpsc::channel::<Job>();
        let failures: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
        let (writer_store, writer_failures) = (store.clone(), failures.clone());
        std::thread::Builder::new()
            .name("checkpoint-writer".into())
            .spawn(move || {
                for job in receiver {
                    if let Err(e) = writer_store.write_part(&job.header, &job.payload) {
                        eprintln!(
                            "live-shopper: cannot write checkpoint {}: {e}",
                            job.header.id
                        );
                        if let Ok(mut failures) = writer_failures.lock() {
                            failures.push((job.header.id, e));
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the checkpoint writer: {e}"))?;
        Ok(Checkpoints {
            store,
            writer: Mutex::new(sender),
            restored,
            names: part_names(config),
            failures,
            reported: Default::default(),
        })
    }

    /// True for the first caller only: one worker per process reports the restore.
    pub fn first_to_report(&self) -> bool {
        !self
            .reported
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    }

    /// The checkpoint restored on start.
    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    /// Hands a part to the writing thread.
    pub fn save(&self, id: u64, name: &str, worker: usize, payload: Vec<u8>, stats: PartStats) {
        let job = Job {
            header: PartHeader {
                id,
                name: name.to_string(),
                worker,
                stats,
            },
            payload,
        };
        if let Ok(writer) = self.writer.lock() {
            let _ = writer.send(job);
        }
    }
}

/// The [`StateStore`] of one worker.
pub struct WorkerStore {
    /// The process's checkpoints.
    pub checkpoints: Arc<Checkpoints>,
    /// The worker.
    pub worker: usize,
}

impl StateStore for WorkerStore {
    fn restore(&self, name: &str) -> Vec<Arc<Vec<u8>>> {
        self.checkpoints
            .restored()
            .and_then(|r| r.parts.get(name).cloned())
            .unwrap_or_default()
    }

    fn save(&self, id: u64, name: &str, part: Vec<u8>, stats: PartStats) {
        self.checkpoints.save(id, name, self.worker, part, stats);
    }
}
