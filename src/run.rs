//! The job: one timely dataflow per worker, fed by the worker's share of the source.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::lanes::LaneInputs;
use jobs::parse::parse_record;
use operators::republish::Republish;
use operators::time::{ceil_to, floor_to};
use operators::watermark::Watermarks;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use crate::checkpoint::worker::{ControlLog, WorkerCheckpoints};
use crate::checkpoint::{Checkpoints, PartitionId, Resume, SavedPartition, WorkerStore};
use crate::clock::wall_clock;
use crate::config::{Config, SinkKind, SourceKind};
use crate::metrics::Metrics;
use crate::sink;
use crate::sink::bad_rows::{BadRows, FileBadRows, Origin, Report};
use crate::source::{Source, Status};

pub use crate::connectors::{BadRowsFactory, Connectors, SourceFactory};

/// timely's own process settings: `-w` threads per process, `-n` processes, `-p` this
/// process's index, `-h` a file with one `host:port` per process.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    /// Worker threads per process.
    pub threads: usize,
    /// Number of processes.
    pub processes: usize,
    /// This process's index.
    pub process: usize,
    /// Hostfile: one address per process.
    pub hostfile: Option<String>,
}

impl Cluster {
    /// The timely configuration.
    pub fn timely_config(&self) -> Result<timely::Config, String> {
        let threads = self.threads.max(1);
        let processes = self.processes.max(1);
        if self.process >= processes {
            return Err(format!("-p {} must be below -n {processes}", self.process));
        }
        let communication = if processes > 1 {
            let addresses = match &self.hostfile {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .map_err(|e| format!("cannot read hostfile {path} (-h): {e}"))?;
                    let addresses: Vec<String> = text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .take(processes)
                        .map(String::from)
                        .collect();
                    if addresses.len() < processes {
                        return Err(format!(
                            "hostfile {path} has {} addresses but -n is {processes}",
                            addresses.len()
                        ));
                    }
                    addresses
                }
                None => (0..processes)
                    .map(|i| format!("localhost:{}", 2101 + i))
                    .collect(),
            };
            timely::CommunicationConfig::Cluster {
                threads,
                process: self.process,
                addresses,
                report: false,
                zerocopy: false,
            }
        } else if threads > 1 {
            timely::CommunicationConfig::Process(threads)
        } else {
            timely::CommunicationConfig::Thread
        };
        Ok(timely::Config {
            communication,
            worker: timely::WorkerConfig::default(),
        })
    }
}

/// How a run starts and stops.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Discard existing checkpoints and start over.
    pub fresh: bool,
    /// Once requested, the job finishes the batch in flight, takes a last checkpoint, commits
    /// and returns.
    pub stop: crate::signals::Stop,
}

/// Runs the job until a bounded source ends (or forever).
pub fn run(
    config: Config,
    cluster: &Cluster,
    connectors: Connectors,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    run_with(config, cluster, connectors, metrics, RunOptions::default())
}

/// [`run`], with checkpoints restored or discarded and a stop switch as `options` say.
pub fn run_with(
    config: Config,
    cluster: &Cluster,
    connectors: Connectors,
    metrics: Arc<Metrics>,
    options: RunOptions,
) -> Result<(), String> {
    if config.output.sink == SinkKind::Redis {
        sink::redis::check(&config.redis)?;
    }
    let timely_config = cluster.timely_config()?;
    let peers = cluster.threads.max(1) * cluster.processes.max(1);
    let checkpoints = if config.checkpoint.on_for(config.source.kind) {
        Some(Arc::new(Checkpoints::start(&config, peers, options.fresh)?))
    } else {
        None
    };
    let secrets = config.secrets();
    // Before connecting to the other processes, whose workers only start once connected.
    if config.source.kind == SourceKind::File && cluster.process == 0 {
        FileBadRows::start_fresh(&config.output.bad_rows_file)?;
    }
    let config = Arc::new(config);
    let guards = timely::execute(timely_config, move |worker| {
        // Errors of librdkafka and the Redis client may quote a configured secret.
        let result = worker_main(
            worker,
            &config,
            &connectors,
            &metrics,
            &checkpoints,
            &options,
        )
        .map_err(|e| secrets.redact(&e));
        if let Err(e) = &result {
            eprintln!("live-shopper: worker {}: {e}", worker.index());
        }
        result
    })?;
    for result in guards.join() {
        result??;
    }
    Ok(())
}

/// Moves the arrivals whose first emission every sink has passed into the freshness histogram.
fn record_freshness(
    arrivals: &mut std::collections::BTreeMap<u64, Vec<(Instant, u64)>>,
    probe: &ProbeHandle<u64>,
    metrics: &Metrics,
) {
    let now = Instant::now();
    let mut done = Vec::new();
    while let Some(entry) = arrivals.first_entry() {
        if probe.less_equal(entry.key()) {
            break;
        }
        done.extend(entry.remove());
    }
    if !done.is_empty() {
        if let Ok(mut histogram) = metrics.freshness.lock() {
            for (at, n) in done {
                histogram.record(now.duration_since(at), n);
            }
        }
    }
}

/// The source positions of each partition, for checkpoints: the next record to read and the
/// largest event time seen.
struct Positions {
    ids: Vec<PartitionId>,
    next: Vec<Option<i64>>,
}

impl Positions {
    fn new(source: &dyn Source, index: usize, peers: usize, resume: &Resume) -> Positions {
        let ids: Vec<PartitionId> = (0..source.partitions())
            .map(|p| match source.partition_id(p) {
                Some(id) => PartitionId::Kafka(id),
                None => PartitionId::File { index, peers },
            })
            .collect();
        let next = ids
            .iter()
            .enumerate()
            .map(|(p, id)| {
                let saved = resume.partitions.get(id).and_then(|s| s.next);
                saved.or_else(|| source.start_position(p))
            })
            .collect();
        Positions { ids, next }
    }

    /// `position` of `partition` has been read.
    fn read(&mut self, partition: usize, position: i64) {
        let next = &mut self.next[partition];
        *next = Some(next.map_or(position + 1, |n| n.max(position + 1)));
    }

    fn saved(&self, watermarks: &Watermarks) -> Vec<SavedPartition> {
        self.ids
            .iter()
            .zip(&self.next)
            .enumerate()
            .map(|(p, (&id, &next))| SavedPartition {
                id,
                next,
                largest: watermarks.largest(p),
            })
            .collect()
    }

    fn local(&self, id: PartitionId) -> Option<usize> {
        self.ids.iter().position(|&i| i == id)
    }
}

fn worker_main(
    worker: &mut Worker,
    config: &Config,
    connectors: &Connectors,
    metrics: &Arc<Metrics>,
    checkpoints: &Option<Arc<Checkpoints>>,
    options: &RunOptions,
) -> Result<(), String> {
    let index = worker.index();
    let peers = worker.peers();
    let mut inputs = LaneInputs::new(config.job.purchase_checkout_step);
    let probe = ProbeHandle::new();
    let control: ControlLog = Rc::new(RefCell::new(Vec::new()));
    let checkpointing = match checkpoints {
        Some(c) => operators::checkpoint::Checkpointing::new(
            Rc::new(WorkerStore {
                checkpoints: c.clone(),
                worker: index,
            }),
            index,
            peers,
        ),
        None => operators::checkpoint::Checkpointing::off(index, peers),
    };
    let log = control.clone();
    let republish = Republish::new();
    let building = Instant::now();
    worker.dataflow(|scope| {
        let lanes = inputs.streams(scope);
        lanes
            .control
            .clone()
            .broadcast()
            .inspect(move |message| log.borrow_mut().push(message.clone()));
        let shared = operators::driver::Shared {
            checkpointing: checkpointing.clone(),
            republish: republish.clone(),
        };
        let writes = jobs::job::build(scope, lanes, &config.job, &shared);
        sink::attach(writes, config, metrics.clone(), &republish).map(|done| {
            done.probe_with(&probe);
        })
    })?;
    if let Some(failure) = checkpointing.failures.borrow().first() {
        return Err(failure.clone());
    }
    // The operators rebuild their state while the dataflow is built.
    if let Some((c, restored)) = checkpoints.as_ref().and_then(|c| Some((c, c.restored()?))) {
        let took = restored.read_took + building.elapsed();
        metrics
            .restore_micros
            .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
        if c.first_to_report() {
            eprintln!("{}", crate::checkpoint::report(restored, took));
        }
    }
    let resume = checkpoints
        .as_ref()
        .and_then(|c| c.restored())
        .map(|r| r.resume.clone())
        .unwrap_or_else(|| Resume {
            fresh: options.fresh,
            ..Resume::default()
        });
    inputs.advance_to(resume.at);
    let mut ckpt = WorkerCheckpoints::new(
        checkpoints.clone(),
        config,
        index,
        peers,
        control,
        metrics.clone(),
    );

    let mut source = (connectors.source)(config, index, peers, &resume)?;
    let mut bad_rows = BadRows::new(
        (connectors.bad_rows)(config, index)?,
        metrics.clone(),
        config.kafka.bad_rows_max_bytes,
    );
    let bounded = config.source.bounded || config.source.kind == SourceKind::File;
    let (idle_timeout, follow_wall_clock) = if bounded {
        (None, false)
    } else {
        (config.time.idle_timeout, config.time.follow_wall_clock)
    };
    let partitions = source.partitions();
    let partition_ids: Vec<Option<i32>> = (0..partitions).map(|p| source.partition_id(p)).collect();
    let mut watermarks = Watermarks::new(
        partitions,
        config.time.lateness,
        idle_timeout,
        follow_wall_clock,
    );
    let mut positions = Positions::new(source.as_ref(), index, peers, &resume);
    let started = Instant::now();
    for (p, id) in positions.ids.iter().enumerate() {
        if let Some(largest) = resume.partitions.get(id).and_then(|s| s.largest) {
            watermarks.observe(p, largest, started);
        }
    }
    let grid = config.job.time_grid();
    let longest_interval = config.job.longest_interval();
    // Without checkpoints: per partition, positions that become committable once the sink has
    // passed a time.
    let mut commits: Vec<std::collections::VecDeque<(u64, i64)>> =
        vec![Default::default(); partitions];
    let mut batch_largest: Vec<Option<(u64, i64)>> = vec![None; partitions];
    let mut events = Vec::new();
    let mut rejects = Vec::new();
    let mut in_flight = inputs.time();
    // Arrival instants of events by the emission that first counts them, for freshness.
    let mut arrivals: std::collections::BTreeMap<u64, Vec<(Instant, u64)>> = Default::default();

    if partitions == 0 {
        // Nothing to read here: this worker only computes the keys routed to it.
        inputs.finish(None);
        while worker.step_or_park(Some(Duration::from_millis(10))) {
            ckpt.save_final_sources();
        }
        return Ok(());
    }
    ckpt.advanced(inputs.time(), || positions.saved(&watermarks));

    let mut stop_sent = false;
    let mut stopped = false;
    loop {
        let now = Instant::now();
        if options.stop.requested() && !stop_sent {
            // The other processes learn of it through the dataflow.
            inputs.control(operators::checkpoint::Control::Stop);
            stop_sent = true;
        }
        let stopping = stop_sent || ckpt.stopping;
        let mut status = Status::Idle;
        // A stopping worker still reads up to the last checkpoint if its inputs are behind it.
        if !stopping || ckpt.catching_up(inputs.time()) {
            let mut failure: Option<String> = None;
            let (mut records, mut good) = (0u64, 0u64);
            let entered = inputs.time();
            // Read once per poll, so that parsing an event does not read the clock.
            let limits = config
                .source
                .limits
                .at(wall_clock(), config.time.max_future);
            status = source
                .poll(
                    config.source.batch_size,
                    &mut |partition, bytes, position| {
                        records += 1;
                        positions.read(partition, position);
                        parse_record(bytes, &limits, &mut events, &mut rejects);
                        // The batch's largest event time and last position, per partition.
                        let (largest, last) = batch_largest[partition].get_or_insert((0, position));
                        *last = position;
                        for event in events.drain(..) {
                            good += 1;
                            watermarks.observe(partition, event.time, now);
                            *largest = (*largest).max(event.time);
                            let first_emission = ceil_to(event.time.max(entered), longest_interval);
                            let batch = arrivals.entry(first_emission).or_default();
                            match batch.last_mut() {
                                Some((at, n)) if *at == now => *n += 1,
                                _ => batch.push((now, 1)),
                            }
                            inputs.send(&event);
                        }
                        let origin = Origin {
                            partition: partition_ids[partition],
                            offset: Some(position),
                        };
                        for row in rejects.drain(..) {
                            if let Err(e) = bad_rows.report(&Report::parsed(&row, origin)) {
                                failure.get_or_insert(e);
                            }
                        }
                    },
                )
                .map_err(|e| e.to_string())?;
            if let Some(e) = failure {
                return Err(e);
            }
            for skipped in source.take_skipped() {
                records += 1;
                positions.read(skipped.partition, skipped.position);
                let report = Report {
                    reason: skipped.reason,
                    field: "record",
                    original: None,
                    origin: Origin {
                        partition: partition_ids[skipped.partition],
                        offset: Some(skipped.position),
                    },
                };
                bad_rows.report(&report)?;
                // Committable like any bad row once the sink has passed what was read before it.
                let (_, last) =
                    batch_largest[skipped.partition].get_or_insert((0, skipped.position));
                *last = (*last).max(skipped.position);
            }
            Metrics::add(&metrics.records, records);
            Metrics::add(&metrics.events, good);

            let now = Instant::now();
            if idle_timeout.is_some() {
                for partition in 0..partitions {
                    watermarks.set_caught_up(partition, source.caught_up(partition), now);
                }
            }
            let watermark = watermarks.advance(now, wall_clock());
            inputs.advance_to(floor_to(watermark, grid) + 1);
            ckpt.advanced(inputs.time(), || positions.saved(&watermarks));
            if index == 0 {
                metrics.watermark.store(watermark, Ordering::Relaxed);
            }
            if let Some(largest) = watermarks.largest_seen() {
                metrics
                    .largest_event_time
                    .fetch_max(largest, Ordering::Relaxed);
            }
            for (partition, largest) in batch_largest.iter_mut().enumerate() {
                if let Some((time, position)) = largest.take() {
                    let needed = (time + longest_interval).max(inputs.time());
                    commits[partition].push_back((needed, position));
                }
            }
        }

        if status == Status::End {
            break;
        }
        let steps = ckpt.step(&mut inputs, &probe, stopping);
        for saved in steps.commit {
            if let (Some(partition), Some(next)) = (positions.local(saved.id), saved.next) {
                source.commit(partition, next - 1);
            }
        }
        if steps.done || (stopping && !ckpt.on()) {
            stopped = true;
            break;
        }
        // At most one batch in flight: bounded memory, and a slow sink slows the reading. A
        // worker that stops reading no longer advances its inputs, so a worker ahead of it would
        // wait here for ever instead of saving its part of the last checkpoint.
        while probe.less_than(&in_flight) && !options.stop.requested() && !ckpt.stop_requested() {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        in_flight = inputs.time();
        if status == Status::Idle {
            worker.step_or_park(Some(Duration::from_millis(10)));
        } else {
            worker.step();
        }
        record_freshness(&mut arrivals, &probe, metrics);
        if !ckpt.on() {
            commit_passed(&mut commits, &probe, source.as_mut());
        }
    }

    if stopped {
        // No end of input: the emissions beyond the frontier are not run.
        drop(inputs);
    } else {
        inputs.finish(watermarks.largest_seen());
    }
    while worker.step_or_park(Some(Duration::from_millis(10))) {
        record_freshness(&mut arrivals, &probe, metrics);
        ckpt.save_final_sources();
    }
    record_freshness(&mut arrivals, &probe, metrics);
    if stopped {
        if !ckpt.on() {
            commit_passed(&mut commits, &probe, source.as_mut());
        }
    } else {
        // The input has ended and every write is in the sink: everything read is committed, with
        // checkpoints too, so that the group's lag is 0. A later run still resumes from the last
        // checkpoint's own positions.
        for (partition, queue) in commits.iter_mut().enumerate() {
            if let Some(&(_, position)) = queue.back() {
                source.commit(partition, position);
            }
        }
    }
    if stopped && index == 0 {
        eprintln!("live-shopper: stopped");
    }
    Ok(())
}

/// Commits, per partition, the last position whose effects the sink has written.
fn commit_passed(
    commits: &mut [std::collections::VecDeque<(u64, i64)>],
    probe: &ProbeHandle<u64>,
    source: &mut dyn Source,
) {
    for (partition, queue) in commits.iter_mut().enumerate() {
        let mut ready = None;
        while queue
            .front()
            .is_some_and(|&(needed, _)| !probe.less_equal(&needed))
        {
            ready = queue.pop_front().map(|(_, position)| position);
        }
        if let Some(position) = ready {
            source.commit(partition, position);
        }
    }
}
