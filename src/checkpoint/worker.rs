//! A worker's side of the checkpoint protocol: the source positions at each dataflow time, the
//! control messages, and on worker 0 the coordinator that starts and completes checkpoints.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::lanes::LaneInputs;
use operators::checkpoint::{Control, PartStats};
use operators::Millis;
use timely::dataflow::ProbeHandle;

use super::store::{Manifest, PartEntry, Store, FORMAT};
use super::{Checkpoints, SavedPartition, SOURCE_PART};
use crate::metrics::Metrics;

/// Control messages as the worker's dataflow delivered them.
pub type ControlLog = Rc<RefCell<Vec<Control>>>;

/// What the worker loop is to do after a [`WorkerCheckpoints::step`].
#[derive(Debug, Default)]
pub struct Steps {
    /// Positions to commit: the partitions of a complete checkpoint.
    pub commit: Vec<SavedPartition>,
    /// The job's last checkpoint is complete: stop now.
    pub done: bool,
}

/// A checkpoint that has been asked for and is not complete yet.
struct InFlight {
    id: u64,
    at: Millis,
    last: bool,
    started: Instant,
    checked: Instant,
}

/// Starts checkpoints every interval and completes them (worker 0 only).
struct Coordinator {
    checkpoints: Arc<Checkpoints>,
    interval: Duration,
    keep: usize,
    peers: usize,
    next_id: u64,
    last_started: Instant,
    in_flight: Option<InFlight>,
    last_requested: bool,
    settings: BTreeMap<String, String>,
    metrics: Arc<Metrics>,
}

/// A checkpoint that does not complete in this long is given up (a part that could not be
/// written, a worker that stopped); the next one starts.
const GIVE_UP: Duration = Duration::from_secs(300);

impl Coordinator {
    fn start(&mut self, inputs: &mut LaneInputs, last: bool) {
        let (id, at) = (self.next_id, inputs.time());
        self.next_id += 1;
        inputs.control(Control::Checkpoint { id, at });
        let now = Instant::now();
        self.in_flight = Some(InFlight {
            id,
            at,
            last,
            started: now,
            checked: now,
        });
        self.last_started = now;
    }

    /// Starts a checkpoint when one is due, and completes the one under way once every part is
    /// written and every write before it is in the sink.
    fn step(&mut self, inputs: &mut LaneInputs, probe: &ProbeHandle<u64>, stopping: bool) {
        if self.in_flight.is_none() {
            if stopping && !self.last_requested {
                self.last_requested = true;
                self.start(inputs, true);
            } else if !stopping && self.last_started.elapsed() >= self.interval {
                self.start(inputs, false);
            }
            return;
        }
        let Some(flight) = self.in_flight.as_mut() else {
            return;
        };
        if flight.checked.elapsed() < Duration::from_millis(20) {
            return;
        }
        flight.checked = Instant::now();
        let store = &self.checkpoints.store;
        let failed = self
            .checkpoints
            .failures
            .lock()
            .map(|f| f.iter().any(|(id, _)| *id == flight.id))
            .unwrap_or(false);
        if failed || flight.started.elapsed() > GIVE_UP {
            eprintln!(
                "live-shopper: checkpoint {} given up ({}); the next one starts",
                flight.id,
                if failed {
                    "a part could not be written"
                } else {
                    "not complete after 5 min"
                }
            );
            let last = flight.last;
            self.in_flight = None;
            self.last_requested = !last && self.last_requested;
            return;
        }
        if probe.less_than(&flight.at)
            || !store.has_parts(flight.id, &self.checkpoints.names, self.peers)
        {
            return;
        }
        let (id, at, last, started) = (flight.id, flight.at, flight.last, flight.started);
        match self.complete(store, id, at) {
            Ok(manifest) => {
                inputs.control(Control::Committed { id, last });
                store.prune(self.keep);
                self.measured(&manifest, started.elapsed());
            }
            Err(e) => eprintln!("live-shopper: cannot complete checkpoint {id}: {e}"),
        }
        self.in_flight = None;
    }

    /// Records what the complete checkpoint `manifest` cost.
    fn measured(&self, manifest: &Manifest, took: Duration) {
        let m = &self.metrics;
        Metrics::add(&m.checkpoints, 1);
        let bytes = manifest.parts.iter().map(|p| p.bytes).sum();
        Metrics::set(&m.checkpoint_bytes, bytes);
        Metrics::set(&m.checkpoint_micros, took.as_micros() as u64);
        Metrics::set(
            &m.checkpoint_serialize_micros,
            manifest.stats.serialize_micros,
        );
    }

    fn complete(&self, store: &Store, id: u64, at: Millis) -> Result<Manifest, String> {
        let mut parts = Vec::new();
        let mut stats = PartStats::default();
        for name in &self.checkpoints.names {
            for worker in 0..self.peers {
                let (header, bytes) = store
                    .part_header(id, name, worker)
                    .ok_or_else(|| format!("part {name} of worker {worker} does not read"))?;
                if name != SOURCE_PART {
                    stats.keys += header.stats.keys;
                    stats.records += header.stats.records;
                    stats.serialize_micros += header.stats.serialize_micros;
                }
                parts.push(PartEntry {
                    file: Store::part_file(name, worker),
                    name: name.clone(),
                    bytes,
                });
            }
        }
        let manifest = Manifest {
            format: FORMAT,
            id,
            at,
            completed_ms: crate::clock::wall_clock(),
            peers: self.peers,
            settings: self.settings.clone(),
            stats,
            parts,
        };
        store.complete(&manifest)?;
        Ok(manifest)
    }
}

/// One worker's checkpoint bookkeeping.
pub struct WorkerCheckpoints {
    checkpoints: Option<Arc<Checkpoints>>,
    index: usize,
    control: ControlLog,
    /// Source positions after the records stamped before each time, oldest first.
    history: VecDeque<(Millis, Vec<SavedPartition>)>,
    /// Checkpoints asked for whose source positions are not known yet.
    requests: VecDeque<(u64, Millis)>,
    /// Source positions of checkpoints not complete yet, for committing them.
    saved: BTreeMap<u64, Vec<SavedPartition>>,
    coordinator: Option<Coordinator>,
    /// The job is stopping (a signal here or in another process).
    pub stopping: bool,
    /// Some worker's bounded input has ended.
    end_seen: bool,
}

impl WorkerCheckpoints {
    /// The bookkeeping of worker `index` of `peers`; `checkpoints` is `None` when they are off.
    /// Worker 0 records what each checkpoint cost in `metrics`.
    pub fn new(
        checkpoints: Option<Arc<Checkpoints>>,
        config: &crate::config::Config,
        index: usize,
        peers: usize,
        control: ControlLog,
        metrics: Arc<Metrics>,
    ) -> WorkerCheckpoints {
        let coordinator = match (&checkpoints, index) {
            (Some(c), 0) => Some(Coordinator {
                checkpoints: c.clone(),
                interval: config.checkpoint.interval.unwrap_or(Duration::MAX),
                keep: config.checkpoint.keep,
                peers,
                next_id: c.store.ids().last().map_or(1, |id| id + 1),
                last_started: Instant::now(),
                in_flight: None,
                last_requested: false,
                settings: super::state_settings(config),
                metrics,
            }),
            _ => None,
        };
        WorkerCheckpoints {
            checkpoints,
            index,
            control,
            history: VecDeque::new(),
            requests: VecDeque::new(),
            saved: BTreeMap::new(),
            coordinator,
            stopping: false,
            end_seen: false,
        }
    }

    /// Whether the job is stopping, by a request of this process or of another: already seen,
    /// or still waiting in the control log.
    pub fn stop_requested(&self) -> bool {
        self.stopping
            || self
                .control
                .borrow()
                .iter()
                .any(|m| matches!(m, Control::Stop))
    }

    /// Whether inputs at `time` are still before the newest checkpoint asked for. A stopping
    /// worker in that state reads on until they pass it, as it would for any checkpoint: moving
    /// its inputs there without reading would make the records it has not read yet start at the
    /// checkpoint's time after a restore, late by as much as the worker was behind (and sessions
    /// they belong to may have closed by then).
    pub fn catching_up(&self, time: Millis) -> bool {
        self.requests.back().is_some_and(|&(_, at)| time < at)
    }

    /// Whether checkpoints are on.
    pub fn on(&self) -> bool {
        self.checkpoints.is_some()
    }

    /// Records the source positions after every record stamped before `time` was sent.
    pub fn advanced(&mut self, time: Millis, positions: impl FnOnce() -> Vec<SavedPartition>) {
        if self.checkpoints.is_some() && self.history.back().is_none_or(|(t, _)| *t < time) {
            self.history.push_back((time, positions()));
        }
    }

    /// Reads the control messages, saves the source part of each checkpoint whose positions are
    /// known, and on worker 0 starts and completes checkpoints. A stopping worker that reads no
    /// more and is not behind the requested checkpoint moves its inputs past it so that it can
    /// be taken.
    pub fn step(
        &mut self,
        inputs: &mut LaneInputs,
        probe: &ProbeHandle<u64>,
        stopped_reading: bool,
    ) -> Steps {
        let mut steps = Steps::default();
        let messages: Vec<Control> = std::mem::take(&mut *self.control.borrow_mut());
        for message in messages {
            match message {
                Control::Checkpoint { id, at } => self.requests.push_back((id, at)),
                Control::Committed { id, last } => {
                    steps.commit = self.saved.remove(&id).unwrap_or_default();
                    self.saved.retain(|&saved, _| saved > id);
                    steps.done |= last;
                }
                Control::Stop => self.stopping = true,
                Control::End(_) => self.end_seen = true,
            }
        }
        // Workers whose bounded input has ended take part in no further checkpoint: a job
        // stopping then exits without its last one, and the one before stays.
        steps.done |= self.stopping && self.end_seen;
        if stopped_reading && !self.catching_up(inputs.time()) {
            if let Some(&(_, at)) = self.requests.back() {
                inputs.advance_to(at + 1);
                let positions = self
                    .history
                    .back()
                    .map(|(_, p)| p.clone())
                    .unwrap_or_default();
                self.advanced(inputs.time(), || positions);
            }
        }
        self.save_sources();
        if let Some(coordinator) = self.coordinator.as_mut() {
            coordinator.step(inputs, probe, self.stopping);
        }
        steps
    }

    /// For a worker whose input has ended (or that reads no partition): it sends no more
    /// records, so its last positions are those of every checkpoint asked for from now on.
    pub fn save_final_sources(&mut self) {
        let messages: Vec<Control> = std::mem::take(&mut *self.control.borrow_mut());
        let Some(checkpoints) = &self.checkpoints else {
            return;
        };
        let last = self
            .history
            .back()
            .map(|(_, p)| p.clone())
            .unwrap_or_default();
        let requested = self.requests.drain(..).map(|(id, _)| id);
        let asked = messages.into_iter().filter_map(|message| match message {
            Control::Checkpoint { id, .. } => Some(id),
            _ => None,
        });
        for id in requested.chain(asked).collect::<Vec<_>>() {
            let payload = bincode::serialize(&last).unwrap_or_default();
            checkpoints.save(id, SOURCE_PART, self.index, payload, PartStats::default());
        }
    }

    /// Saves the source part of every requested checkpoint this worker's inputs have passed.
    fn save_sources(&mut self) {
        let Some(checkpoints) = &self.checkpoints else {
            self.requests.clear();
            return;
        };
        while let Some(&(id, at)) = self.requests.front() {
            // The positions after the records stamped before `at`: those at the first time
            // at or after it, as no record is stamped between two advances.
            let Some(found) = self.history.iter().position(|(time, _)| *time >= at) else {
                break;
            };
            self.requests.pop_front();
            let positions = self.history[found].1.clone();
            self.history.drain(..found);
            let payload = bincode::serialize(&positions).unwrap_or_default();
            checkpoints.save(id, SOURCE_PART, self.index, payload, PartStats::default());
            self.saved.insert(id, positions);
        }
    }
}
