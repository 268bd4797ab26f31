//! A worker's loop, one batch at a time, as a pipeline: ingest (poll the source, parse, send the
//! events into the dataflow, report the bad rows), advance the watermark, the checkpoint step,
//! back pressure (wait for the batch in flight), run the dataflow, then record freshness and,
//! without checkpoints, commit what the sink has passed (the commit ledger).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jobs::event::ShopperEvent;
use jobs::lanes::LaneInputs;
use jobs::parse::{parse_record_keeping, BadRow};
use operators::time::floor_to;
use operators::watermark::Watermarks;
use operators::Millis;
use timely::dataflow::ProbeHandle;
use timely::worker::Worker;

use super::freshness::Arrivals;
use super::ledger::CommitLedger;
use super::positions::Positions;
use crate::checkpoint::worker::WorkerCheckpoints;
use crate::checkpoint::Resume;
use crate::clock::wall_clock;
use crate::config::{Config, SourceKind};
use crate::connectors::Connectors;
use crate::metrics::Metrics;
use crate::signals::Stop;
use crate::sink::bad_rows::{BadRows, Origin, Report};
use crate::source::{Source, Status};

/// What a worker's loop takes from the run: the configuration, the metrics, the stop switch and
/// the worker's place among its peers.
pub(super) struct Context<'a> {
    /// The configuration.
    pub(super) config: &'a Config,
    /// The run's metrics.
    pub(super) metrics: &'a Arc<Metrics>,
    /// Set once a stop is asked for.
    pub(super) stop: &'a Stop,
    /// This worker's index.
    pub(super) index: usize,
    /// How many workers there are.
    pub(super) peers: usize,
}

/// Everything a worker's loop holds. On an error the fields drop in this order: the bad rows are
/// flushed before the source, which commits its positions when dropped.
pub(super) struct WorkerLoop<'a> {
    cx: Context<'a>,
    arrivals: Arrivals,
    events: Vec<ShopperEvent>,
    rejects: Vec<BadRow>,
    ledger: CommitLedger,
    positions: Positions,
    watermarks: Watermarks,
    idle_timeout: Option<Duration>,
    partition_ids: Vec<Option<i32>>,
    grid: Millis,
    in_flight: u64,
    stop_sent: bool,
    bad_rows: BadRows,
    source: Box<dyn Source>,
    ckpt: WorkerCheckpoints,
    inputs: LaneInputs,
    probe: ProbeHandle<u64>,
}

impl<'a> WorkerLoop<'a> {
    /// Opens the worker's source, then its bad-rows destination, and sets the watermarks and
    /// positions up from `resume`.
    pub(super) fn open(
        cx: Context<'a>,
        connectors: &Connectors,
        resume: &Resume,
        inputs: LaneInputs,
        probe: ProbeHandle<u64>,
        ckpt: WorkerCheckpoints,
    ) -> Result<WorkerLoop<'a>, String> {
        let Context {
            config,
            metrics,
            index,
            peers,
            ..
        } = cx;
        let source = (connectors.source)(config, index, peers, resume)?;
        let bad_rows = BadRows::new(
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
        let partition_ids: Vec<Option<i32>> =
            (0..partitions).map(|p| source.partition_id(p)).collect();
        let mut watermarks = Watermarks::new(
            partitions,
            config.time.lateness,
            idle_timeout,
            follow_wall_clock,
        );
        let positions = Positions::new(source.as_ref(), index, peers, resume);
        let started = Instant::now();
        for (p, id) in positions.ids().iter().enumerate() {
            if let Some(largest) = resume.partitions.get(id).and_then(|s| s.largest) {
                watermarks.observe(p, largest, started);
            }
        }
        let longest_interval = config.job.longest_interval();
        Ok(WorkerLoop {
            arrivals: Arrivals::new(longest_interval),
            events: Vec::new(),
            rejects: Vec::new(),
            ledger: CommitLedger::new(partitions, longest_interval),
            positions,
            watermarks,
            idle_timeout,
            partition_ids,
            grid: config.job.time_grid(),
            in_flight: inputs.time(),
            stop_sent: false,
            bad_rows,
            source,
            ckpt,
            inputs,
            probe,
            cx,
        })
    }

    /// Runs the loop until the source ends or the job stops, then drains the dataflow and
    /// commits what the sink has written.
    pub(super) fn run(mut self, worker: &mut Worker) -> Result<(), String> {
        if self.partition_ids.is_empty() {
            self.compute_only(worker);
            return Ok(());
        }
        self.save_positions();
        let stopped = loop {
            let now = Instant::now();
            let stopping = self.stopping();
            let mut status = Status::Idle;
            // A stopping worker still reads up to the last checkpoint if its inputs are behind it.
            if !stopping || self.ckpt.catching_up(self.inputs.time()) {
                status = self.ingest(now)?;
                self.advance_watermark();
                self.ledger.close_batch(self.inputs.time());
            }
            if status == Status::End {
                break false;
            }
            if self.checkpoint_step(stopping) {
                break true;
            }
            self.wait_for_in_flight(worker);
            self.step_dataflow(worker, status);
            self.arrivals.record(&self.probe, self.cx.metrics);
            self.commit_passed();
        };
        self.finish(worker, stopped);
        Ok(())
    }

    /// Nothing to read here: this worker only computes the keys routed to it.
    fn compute_only(self, worker: &mut Worker) {
        let WorkerLoop {
            inputs, mut ckpt, ..
        } = self;
        inputs.finish(None);
        while worker.step_or_park(Some(Duration::from_millis(10))) {
            ckpt.save_final_sources();
        }
    }

    /// Whether the job is stopping. A stop asked for here is sent into the dataflow once.
    fn stopping(&mut self) -> bool {
        if self.cx.stop.requested() && !self.stop_sent {
            // The other processes learn of it through the dataflow.
            self.inputs.control(operators::checkpoint::Control::Stop);
            self.stop_sent = true;
        }
        self.stop_sent || self.ckpt.stopping
    }

    /// Ingest: one batch from the source into the dataflow, its bad rows and the records the
    /// source skipped to the bad-rows destination.
    fn ingest(&mut self, now: Instant) -> Result<Status, String> {
        let (status, records, events) = self.poll_batch(now)?;
        let skipped = self.report_skipped()?;
        Metrics::add(&self.cx.metrics.records, records + skipped);
        Metrics::add(&self.cx.metrics.events, events);
        Ok(status)
    }

    /// Polls one batch: each record counts as read, its events go into the dataflow and its bad
    /// rows to the bad-rows destination. Returns the status, the records and the good events.
    fn poll_batch(&mut self, now: Instant) -> Result<(Status, u64, u64), String> {
        let WorkerLoop {
            cx,
            arrivals,
            events,
            rejects,
            ledger,
            positions,
            watermarks,
            partition_ids,
            bad_rows,
            source,
            inputs,
            ..
        } = self;
        let config = cx.config;
        let mut failure: Option<String> = None;
        let (mut records, mut good) = (0u64, 0u64);
        let entered = inputs.time();
        // Read once per poll, so that parsing an event does not read the clock.
        let limits = config
            .source
            .limits
            .at(wall_clock(), config.time.max_future);
        let status = source
            .poll(
                config.source.batch_size,
                &mut |partition, bytes, position| {
                    records += 1;
                    positions.read(partition, position);
                    parse_record_keeping(bytes, &limits, &config.job.fields, events, rejects);
                    ledger.read(partition, position);
                    for event in events.drain(..) {
                        good += 1;
                        watermarks.observe(partition, event.time, now);
                        ledger.event(partition, event.time);
                        arrivals.arrived(event.time, entered, now);
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
        Ok((status, records, good))
    }

    /// Reports the records the source skipped as bad rows; their positions count as read.
    /// Returns how many there were.
    fn report_skipped(&mut self) -> Result<u64, String> {
        let mut records = 0;
        for skipped in self.source.take_skipped() {
            records += 1;
            self.positions.read(skipped.partition, skipped.position);
            let report = Report {
                reason: skipped.reason,
                field: "record",
                original: None,
                origin: Origin {
                    partition: self.partition_ids[skipped.partition],
                    offset: Some(skipped.position),
                },
            };
            self.bad_rows.report(&report)?;
            self.ledger.skipped(skipped.partition, skipped.position);
        }
        Ok(records)
    }

    /// Watermark: advances the inputs to the partitions' watermark (on the time grid), for the
    /// checkpoints and the metrics too.
    fn advance_watermark(&mut self) {
        let now = Instant::now();
        if self.idle_timeout.is_some() {
            for partition in 0..self.partition_ids.len() {
                let caught_up = self.source.caught_up(partition);
                self.watermarks.set_caught_up(partition, caught_up, now);
            }
        }
        let watermark = self.watermarks.advance(now, wall_clock());
        self.inputs.advance_to(floor_to(watermark, self.grid) + 1);
        self.save_positions();
        let metrics = self.cx.metrics;
        if self.cx.index == 0 {
            metrics.watermark.store(watermark, Ordering::Relaxed);
        }
        if let Some(largest) = self.watermarks.largest_seen() {
            metrics
                .largest_event_time
                .fetch_max(largest, Ordering::Relaxed);
        }
    }

    /// Tells the checkpoints where the inputs stand and, should they save there, the positions.
    fn save_positions(&mut self) {
        let (positions, watermarks) = (&self.positions, &self.watermarks);
        self.ckpt
            .advanced(self.inputs.time(), || positions.saved(watermarks));
    }

    /// Checkpoint step: this worker's part in the checkpoints, and the commit of the positions of
    /// a complete one. Returns whether the loop ends: the job's last checkpoint is complete, or
    /// the job stops without checkpoints.
    fn checkpoint_step(&mut self, stopping: bool) -> bool {
        let steps = self.ckpt.step(&mut self.inputs, &self.probe, stopping);
        for saved in steps.commit {
            if let (Some(partition), Some(next)) = (self.positions.local(saved.id), saved.next) {
                self.source.commit(partition, next - 1);
            }
        }
        steps.done || (stopping && !self.ckpt.on())
    }

    /// Back pressure: at most one batch in flight: bounded memory, and a slow sink slows the
    /// reading. A worker that stops reading no longer advances its inputs, so a worker ahead of
    /// it would wait here for ever instead of saving its part of the last checkpoint.
    fn wait_for_in_flight(&mut self, worker: &mut Worker) {
        while self.probe.less_than(&self.in_flight)
            && !self.cx.stop.requested()
            && !self.ckpt.stop_requested()
        {
            worker.step_or_park(Some(Duration::from_millis(1)));
        }
        self.in_flight = self.inputs.time();
    }

    /// Runs the dataflow once, parking a little when the source had nothing.
    fn step_dataflow(&mut self, worker: &mut Worker, status: Status) {
        if status == Status::Idle {
            worker.step_or_park(Some(Duration::from_millis(10)));
        } else {
            worker.step();
        }
    }

    /// Commit ledger: without checkpoints, commits the positions whose effects the sink has
    /// written.
    fn commit_passed(&mut self) {
        if !self.ckpt.on() {
            self.ledger.commit_passed(&self.probe, self.source.as_mut());
        }
    }

    /// Ends the run: closes the inputs, drains the dataflow and commits.
    fn finish(self, worker: &mut Worker, stopped: bool) {
        let WorkerLoop {
            cx,
            mut arrivals,
            mut ledger,
            watermarks,
            bad_rows,
            mut source,
            mut ckpt,
            inputs,
            probe,
            ..
        } = self;
        if stopped {
            // No end of input: the emissions beyond the frontier are not run.
            drop(inputs);
        } else {
            inputs.finish(watermarks.largest_seen());
        }
        while worker.step_or_park(Some(Duration::from_millis(10))) {
            arrivals.record(&probe, cx.metrics);
            ckpt.save_final_sources();
        }
        arrivals.record(&probe, cx.metrics);
        if stopped {
            if !ckpt.on() {
                ledger.commit_passed(&probe, source.as_mut());
            }
        } else {
            // The input has ended and every write is in the sink: everything read is committed,
            // with checkpoints too, so that the group's lag is 0. A later run still resumes from
            // the last checkpoint's own positions.
            ledger.commit_all(source.as_mut());
        }
        if stopped && cx.index == 0 {
            eprintln!("live-shopper: stopped");
        }
        // The bad rows are flushed before the source commits its positions as it is dropped.
        drop(bad_rows);
        drop(source);
    }
}
