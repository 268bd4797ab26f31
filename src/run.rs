//! The job: one timely dataflow per worker, fed by the worker's share of the source. This module
//! builds each worker's dataflow and restores its checkpoint; the loop that feeds it is
//! [`worker`].

mod freshness;
mod ledger;
mod positions;
mod worker;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use jobs::lanes::LaneInputs;
use operators::republish::Republish;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use crate::checkpoint::worker::{ControlLog, WorkerCheckpoints};
use crate::checkpoint::{Checkpoints, Resume, WorkerStore};
use crate::config::{Config, SinkKind, SourceKind};
use crate::metrics::Metrics;
use crate::sink;
use crate::sink::bad_rows::FileBadRows;
use worker::{Context, WorkerLoop};

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
    let lanes: Vec<_> = config.job.lanes.iter().map(|l| l.lane.clone()).collect();
    let mut inputs = LaneInputs::new(&lanes);
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
    let ckpt = WorkerCheckpoints::new(
        checkpoints.clone(),
        config,
        index,
        peers,
        control,
        metrics.clone(),
    );

    let cx = Context {
        config,
        metrics,
        stop: &options.stop,
        index,
        peers,
    };
    WorkerLoop::open(cx, connectors, &resume, inputs, probe, ckpt)?.run(worker)
}
