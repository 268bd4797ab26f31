//! `live-shopper bench`: drives the real job with a synthetic shop and reports one line per
//! figure (or JSON). The shop is generated into memory first, so that neither generation nor
//! disk is measured.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::checkpoint::{store::Store, PartitionId, Resume};
use crate::config::{self, Config};
use crate::generate::kafka::{produce_shop, KafkaTarget};
use crate::generate::{GenerateOptions, Shop};
use crate::metrics::Metrics;
use crate::run::{self, Cluster, Connectors, RunOptions};
use crate::sink::bad_rows::BadRowSink;
use crate::source::memory::{MemorySource, Records};
use crate::source::Source;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// The shop.
    pub shop: GenerateOptions,
    /// Worker threads.
    pub threads: usize,
    /// When set, also measure end to end into this Redis (its database is flushed first).
    pub redis_url: Option<String>,
    /// When set with `redis_url`, also measure from a Kafka topic at these brokers into Redis.
    pub brokers: Option<String>,
    /// Configuration overrides (`key=value`).
    pub sets: Vec<String>,
    /// When set, also measure checkpoints, with this many rounds of the throughput comparison.
    pub checkpoint_rounds: Option<usize>,
    /// When set, measure this recorded file (one record per line) instead of the shop.
    pub input: Option<std::path::PathBuf>,
}

/// One measured figure.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Figure {
    /// What was measured.
    pub name: String,
    /// The value.
    pub value: f64,
    /// Its unit.
    pub unit: String,
}

struct NoBadRows;

impl BadRowSink for NoBadRows {
    fn write(&mut self, _document: &[u8]) -> Result<(), String> {
        Ok(())
    }
}

fn status_bytes(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0)
}

/// CPU time of the process so far, user and system, over all its threads.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count the fields after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    // utime and stime, fields 14 and 15 of the line, in clock ticks (USER_HZ, 100 on Linux).
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

fn memory_connectors(records: Arc<Records>, rate: Option<f64>) -> Connectors {
    Connectors {
        source: Arc::new(move |_config: &Config, index, peers, resume: &Resume| {
            let next = resume
                .partitions
                .get(&PartitionId::File { index, peers })
                .and_then(|p| p.next);
            let source = MemorySource::new(records.clone(), index, peers).resume_at(next);
            let source = match rate {
                Some(rate) => source.paced(rate),
                None => source,
            };
            Ok(Box::new(source) as Box<dyn Source>)
        }),
        bad_rows: Arc::new(|_config: &Config, _index| {
            Ok(Box::new(NoBadRows) as Box<dyn BadRowSink>)
        }),
    }
}

/// What one run took.
struct Timed {
    /// Wall-clock seconds.
    wall: f64,
    /// CPU seconds of the process (every worker and the checkpoint writer).
    cpu: f64,
    metrics: Arc<Metrics>,
}

fn timed(
    config: Config,
    threads: usize,
    records: &Arc<Records>,
    rate: Option<f64>,
    options: RunOptions,
    metrics: Arc<Metrics>,
) -> Result<Timed, String> {
    let cluster = Cluster {
        threads,
        processes: 1,
        process: 0,
        hostfile: None,
    };
    let (started, cpu) = (Instant::now(), cpu_seconds());
    run::run_with(
        config,
        &cluster,
        memory_connectors(records.clone(), rate),
        metrics.clone(),
        options,
    )?;
    Ok(Timed {
        wall: started.elapsed().as_secs_f64(),
        cpu: cpu_seconds()
            .zip(cpu)
            .map_or(f64::NAN, |(end, start)| end - start),
        metrics,
    })
}

/// The records of a recorded file, one per line (a line's `\r` is the parser's to strip).
fn read_input(path: &Path) -> Result<Records, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("--input {}: {e}", path.display()))?;
    let mut records = Records::default();
    for line in bytes.split(|&b| b == b'\n').filter(|line| !line.is_empty()) {
        records.push(line);
    }
    if records.is_empty() {
        return Err(format!(
            "--input {}: the file has no records",
            path.display()
        ));
    }
    Ok(records)
}

/// The generated shop's records, and its first and last event time.
fn generate(options: &BenchOptions) -> Result<(Records, u64, u64), String> {
    let mut shop = Shop::new(options.shop.clone())?;
    let mut records = Records::default();
    let (mut key, mut buffer) = (String::new(), Vec::new());
    let (mut first, mut last) = (u64::MAX, 0);
    while let Some(time) = shop.next_into(&mut key, &mut buffer) {
        first = first.min(time);
        last = last.max(time);
        records.push(&buffer);
        buffer.clear();
    }
    Ok((records, first, last))
}

fn timed_run(
    config: Config,
    threads: usize,
    records: &Arc<Records>,
    rate: Option<f64>,
) -> Result<(f64, Arc<Metrics>), String> {
    let metrics = Arc::new(Metrics::default());
    let run = timed(
        config,
        threads,
        records,
        rate,
        RunOptions::default(),
        metrics,
    )?;
    Ok((run.wall, run.metrics))
}

fn freshness(figure: &mut impl FnMut(&str, f64, &str), metrics: &Metrics, rate: &str) {
    if let Ok(histogram) = metrics.freshness.lock() {
        for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
            if let Some(latency) = histogram.quantile(q) {
                let name = format!("freshness {name} at {rate} (arrival to Redis)");
                figure(&name, latency.as_secs_f64() * 1000.0, "ms");
            }
        }
    }
}

/// Runs the benchmark and returns its figures.
pub fn bench(options: &BenchOptions) -> Result<Vec<Figure>, String> {
    if options.input.is_some() && options.brokers.is_some() {
        return Err(
            "--input and --brokers: the Kafka run produces the generated shop; measure a \
             recorded file without --brokers"
                .into(),
        );
    }
    let (records, span) = match &options.input {
        Some(path) => (read_input(path)?, None),
        None => {
            let (records, first, last) = generate(options)?;
            (records, Some(last.saturating_sub(first)))
        }
    };
    let records = Arc::new(records);
    let events = records.len() as f64;
    let mut figures = Vec::new();
    let mut figure = |name: &str, value: f64, unit: &str| {
        figures.push(Figure {
            name: name.to_string(),
            value,
            unit: unit.to_string(),
        })
    };
    figure("events", events, "events");
    if let Some(span) = span {
        figure("event-time span", span as f64 / 3_600_000.0, "h");
    }
    figure("workers", options.threads as f64, "threads");

    let mut sets = vec![
        "source.kind=file".to_string(),
        "source.path=memory".to_string(),
    ];
    sets.extend(options.sets.iter().cloned());
    // The job sees the memory source as a file, whose runs take checkpoints only with
    // `checkpoint.files`; the Kafka run would take them by default, into ./checkpoints, and a
    // later bench would then refuse them (another topic). Checkpoints are measured on their own.
    sets.push("checkpoint.interval=off".to_string());
    let mut compute = sets.clone();
    compute.push("output.sink=discard".to_string());
    let config = config::load(None, Vec::new(), &compute).map_err(|e| e.to_string())?;
    operators::gauge::reset_peak();
    let heap = crate::alloc::Counting::start();
    let run = timed(
        config,
        options.threads,
        &records,
        None,
        RunOptions::default(),
        Arc::new(Metrics::default()),
    )?;
    let (seconds, metrics) = (run.wall, run.metrics);
    let peak_heap = heap.finish();
    let peak_state = operators::gauge::peak() as f64;
    figure("compute-only throughput", events / seconds, "events/s");
    // Process CPU time, all threads: the figure to compare with another job on the same input.
    figure(
        "compute-only events per CPU-second",
        events / run.cpu,
        "events/CPU-s",
    );
    figure(
        "compute-only throughput per worker",
        events / seconds / options.threads as f64,
        "events/s",
    );
    figure(
        "feature writes per event",
        Metrics::get(&metrics.writes) as f64 / events,
        "writes/event",
    );
    // A recorded file's shoppers are not counted: per-user figures are the generated shop's.
    let users = options
        .input
        .is_none()
        .then(|| options.shop.users.max(1) as f64);
    figure("peak window state", peak_state, "records held");
    if let Some(users) = users {
        figure(
            "peak window state per user",
            peak_state / users,
            "records/user",
        );
    }
    if let Some(heap) = peak_heap {
        let heap = heap as f64;
        figure("peak heap of the job", heap / 1_048_576.0, "MiB");
        if let Some(users) = users {
            figure("peak heap per user", heap / users, "bytes/user");
        }
        if peak_state > 0.0 {
            figure(
                "peak heap per record held",
                heap / peak_state,
                "bytes/record",
            );
        }
    }
    if let Some(rss) = status_bytes("VmHWM:") {
        figure(
            "peak RSS (with the input held in memory)",
            rss / 1_048_576.0,
            "MiB",
        );
    }

    if let Some(rounds) = options.checkpoint_rounds {
        checkpoint_figures(options, rounds, &records, &compute, &mut figure)?;
    }

    if let Some(url) = &options.redis_url {
        let client =
            redis::Client::open(url.as_str()).map_err(|e| format!("--redis {url}: {e}"))?;
        let mut conn = client
            .get_connection()
            .map_err(|e| format!("cannot connect to Redis at {url}: {e}"))?;
        redis::cmd("FLUSHDB")
            .query::<()>(&mut conn)
            .map_err(|e| e.to_string())?;
        let mut end_to_end = sets.clone();
        end_to_end.push("output.sink=redis".to_string());
        end_to_end.push(format!("redis.url={url}"));
        let config = config::load(None, Vec::new(), &end_to_end).map_err(|e| e.to_string())?;
        let (seconds, metrics) = timed_run(config.clone(), options.threads, &records, None)?;
        let full_rate = events / seconds;
        figure(
            "end-to-end throughput into Redis (from memory)",
            events / seconds,
            "events/s",
        );
        figure(
            "Redis commands per event",
            Metrics::get(&metrics.redis_commands) as f64 / events,
            "commands/event",
        );
        figure(
            "Redis keys written per event",
            Metrics::get(&metrics.writes) as f64 / events,
            "writes/event",
        );
        freshness(&mut figure, &metrics, "full rate");

        // Freshness at half the maximum rate: records are released at that pace.
        redis::cmd("FLUSHDB")
            .query::<()>(&mut conn)
            .map_err(|e| e.to_string())?;
        let (_, paced) = timed_run(config, options.threads, &records, Some(full_rate / 2.0))?;
        freshness(&mut figure, &paced, "half rate");

        if let Some(brokers) = &options.brokers {
            // A fresh topic per run, so that the run reads exactly this shop.
            let topic = format!("live-shopper-bench-{}", crate::clock::wall_clock());
            let mut target = KafkaTarget::new(brokers.clone(), topic.clone());
            target.partitions = 4;
            produce_shop(options.shop.clone(), &target)?;
            redis::cmd("FLUSHDB")
                .query::<()>(&mut conn)
                .map_err(|e| e.to_string())?;
            let mut from_kafka = sets.clone();
            from_kafka.retain(|s| !s.starts_with("source."));
            from_kafka.extend([
                "source.kind=kafka".to_string(),
                "source.bounded=true".to_string(),
                format!("kafka.topic={topic}"),
                format!("kafka.group_id={topic}"),
                format!("kafka.properties.bootstrap.servers={brokers}"),
                "output.sink=redis".to_string(),
                format!("redis.url={url}"),
            ]);
            let config = config::load(None, Vec::new(), &from_kafka).map_err(|e| e.to_string())?;
            let metrics = Arc::new(Metrics::default());
            let cluster = Cluster {
                threads: options.threads,
                processes: 1,
                process: 0,
                hostfile: None,
            };
            let started = Instant::now();
            run::run(
                config.clone(),
                &cluster,
                Connectors::for_config(&config),
                metrics.clone(),
            )?;
            let seconds = started.elapsed().as_secs_f64();
            figure(
                "end-to-end throughput Kafka to Redis",
                events / seconds,
                "events/s",
            );
            freshness(&mut figure, &metrics, "full rate from Kafka");
        }
    }
    Ok(figures)
}

/// Where the checkpoint runs stop, as a share of the events: near the end, where the state is
/// largest, but before the input ends (a run that reaches the end takes no last checkpoint).
const STOP_AT: f64 = 0.95;

/// The compute-only configuration with checkpoints every `interval` (`None`: off) into `dir`.
/// The memory source is a file source to the job, so checkpoints need `checkpoint.files`.
fn checkpoint_config(
    compute: &[String],
    interval: Option<&str>,
    dir: &Path,
) -> Result<Config, String> {
    let mut sets = compute.to_vec();
    match interval {
        None => sets.push("checkpoint.interval=off".to_string()),
        Some(interval) => sets.extend([
            format!("checkpoint.interval={interval}"),
            "checkpoint.files=true".to_string(),
            format!("checkpoint.dir={}", dir.display()),
        ]),
    }
    config::load(None, Vec::new(), &sets).map_err(|e| e.to_string())
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs the job until it has read `share` of the records' events, then stops it gracefully,
/// which takes a last checkpoint.
fn stopped_run(
    config: Config,
    threads: usize,
    records: &Arc<Records>,
    share: f64,
) -> Result<Timed, String> {
    let metrics = Arc::new(Metrics::default());
    let stop = crate::signals::Stop::new();
    let target = (records.len() as f64 * share) as u64;
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::Relaxed) {
                if Metrics::get(&metrics.events) >= target {
                    stop.request();
                    return;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        let options = RunOptions {
            fresh: false,
            stop: stop.clone(),
        };
        let run = timed(config, threads, records, None, options, metrics.clone());
        finished.store(true, Ordering::Relaxed);
        run
    })
}

/// Throughput with checkpoints every 10 s and every 1 s against none (medians of `rounds`
/// interleaved rounds, each run starting with an empty checkpoint directory), then the
/// checkpoint of a run stopped near the end of the shop, and its restore.
fn checkpoint_figures(
    options: &BenchOptions,
    rounds: usize,
    records: &Arc<Records>,
    compute: &[String],
    figure: &mut impl FnMut(&str, f64, &str),
) -> Result<(), String> {
    let temp = tempfile::Builder::new()
        .prefix("live-shopper-bench-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary checkpoint directory: {e}"))?;
    checkpoint_throughput(options, rounds, records, compute, temp.path(), figure)?;
    largest_checkpoint(options, records, compute, temp.path(), figure)
}

fn checkpoint_throughput(
    options: &BenchOptions,
    rounds: usize,
    records: &Arc<Records>,
    compute: &[String],
    dir: &Path,
    figure: &mut impl FnMut(&str, f64, &str),
) -> Result<(), String> {
    let (events, threads) = (records.len() as f64, options.threads);
    let intervals = [None, Some("10s"), Some("1s")];
    let mut runs: Vec<Vec<Timed>> = intervals.iter().map(|_| Vec::new()).collect();
    for _ in 0..rounds.max(1) {
        for (interval, runs) in intervals.iter().zip(runs.iter_mut()) {
            let config = checkpoint_config(compute, *interval, dir)?;
            // Cleared here rather than with `fresh`, which would say so on every run.
            Store::open(dir)?.clear()?;
            let metrics = Arc::new(Metrics::default());
            runs.push(timed(
                config,
                threads,
                records,
                None,
                RunOptions::default(),
                metrics,
            )?);
        }
    }
    let medians: Vec<(f64, f64, f64)> = runs
        .iter()
        .map(|runs| {
            let of = |value: &dyn Fn(&Timed) -> f64| median(runs.iter().map(value).collect());
            (
                of(&|r| r.wall),
                of(&|r| r.cpu),
                of(&|r| Metrics::get(&r.metrics.checkpoints) as f64),
            )
        })
        .collect();
    let (off_wall, off_cpu, _) = medians[0];
    figure("checkpoints off: throughput", events / off_wall, "events/s");
    figure(
        "checkpoints off: events per CPU-second",
        events / off_cpu,
        "events/s",
    );
    for (interval, &(wall, cpu, taken)) in intervals.iter().zip(&medians).skip(1) {
        let every = format!("checkpoints every {}", interval.unwrap_or_default());
        figure(&format!("{every}: throughput"), events / wall, "events/s");
        figure(
            &format!("{every}: events per CPU-second"),
            events / cpu,
            "events/s",
        );
        figure(
            &format!("{every}: wall-time cost"),
            (wall / off_wall - 1.0) * 100.0,
            "%",
        );
        figure(
            &format!("{every}: CPU cost"),
            (cpu / off_cpu - 1.0) * 100.0,
            "%",
        );
        figure(&format!("{every}: checkpoints taken"), taken, "checkpoints");
        if taken > 0.0 {
            let each = (cpu - off_cpu) / taken * 1000.0;
            figure(&format!("{every}: CPU per checkpoint"), each, "ms");
        }
    }
    Ok(())
}

fn micros_as_ms(micros: &std::sync::atomic::AtomicU64) -> f64 {
    Metrics::get(micros) as f64 / 1000.0
}

/// The largest state: a run stopped near the end takes a last checkpoint of it, and a second
/// run restores it and reads the rest of the shop.
fn largest_checkpoint(
    options: &BenchOptions,
    records: &Arc<Records>,
    compute: &[String],
    dir: &Path,
    figure: &mut impl FnMut(&str, f64, &str),
) -> Result<(), String> {
    // Checkpoints before the last one, as in a job that has run for a while.
    let config = checkpoint_config(compute, Some("1s"), dir)?;
    Store::open(dir)?.clear()?;
    let stopped = stopped_run(config.clone(), options.threads, records, STOP_AT)?;
    let m = &stopped.metrics;
    let manifest = match Store::open(dir)?.complete_ones().into_iter().next() {
        Some(found) if Metrics::get(&m.checkpoints) > 0 => found?.manifest,
        _ => return Err("the run stopped near the end took no last checkpoint".into()),
    };
    let bytes = Metrics::get(&m.checkpoint_bytes) as f64;
    let held = manifest.stats.records as f64;
    figure("largest checkpoint: records held", held, "records");
    figure("largest checkpoint: size", bytes / 1_048_576.0, "MiB");
    figure(
        "largest checkpoint: bytes per record held",
        bytes / held.max(1.0),
        "bytes/record",
    );
    let serialize = micros_as_ms(&m.checkpoint_serialize_micros);
    figure(
        "largest checkpoint: serialize (worker threads)",
        serialize,
        "ms",
    );
    let took = micros_as_ms(&m.checkpoint_micros);
    figure("largest checkpoint: request to complete", took, "ms");

    let metrics = Arc::new(Metrics::default());
    let restarted = timed(
        config,
        options.threads,
        records,
        None,
        RunOptions::default(),
        metrics,
    )?;
    let m = &restarted.metrics;
    if Metrics::get(&m.restore_micros) == 0 {
        return Err("the restarted run restored no checkpoint".into());
    }
    figure(
        "largest checkpoint: restore",
        micros_as_ms(&m.restore_micros),
        "ms",
    );
    let replayed = Metrics::get(&m.events) as f64;
    figure(
        "largest checkpoint: events read after restore",
        replayed,
        "events",
    );
    Ok(())
}
