//! The `live-shopper` command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use live_shopper::clock::wall_clock;
use live_shopper::config::{self, Config};
use live_shopper::generate::{self, Encoding, GenerateOptions};
use live_shopper::metrics::Metrics;
use live_shopper::redact::redact;
use live_shopper::run::{self, Cluster, Connectors};
use live_shopper::{peer_loss, signals};

// Every event and feature write allocates a few short strings; mimalloc handles that pattern
// markedly better than the system allocator (see BENCHMARKS.md). The counting wrapper costs one
// relaxed load per allocation unless `bench` is measuring the heap.
#[global_allocator]
static ALLOCATOR: live_shopper::alloc::CountingAllocator = live_shopper::alloc::CountingAllocator;

/// live-shopper: real-time shopper features from Snowplow events, in Redis.
#[derive(Parser, Debug)]
#[command(name = "live-shopper", version, disable_help_subcommand = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the job: read events, compute features, write them to Redis (or a file).
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Write a deterministic synthetic shop: enriched TSV (default) or JSON, one record per line.
    Generate(GenerateArgs),
    /// Measure the job on a synthetic shop: throughput, writes per event, memory.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Number of shoppers.
    #[arg(long, default_value_t = 10_000)]
    users: u64,
    /// Number of events.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Event-time span, e.g. 2h or 26h.
    #[arg(long, default_value = "2h")]
    span: String,
    /// Share of events, 0 to 1, that arrive --late later still (an offline buffer flushed).
    #[arg(long, default_value_t = 0.0)]
    late_rate: f64,
    /// How much later the --late-rate share arrives, e.g. 10m or 2h.
    #[arg(long, default_value = "0s")]
    late: String,
    /// Round event times down to this grain, e.g. 5s, so that events share timestamps.
    #[arg(long, default_value = "1ms")]
    time_grain: String,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Catalogue size.
    #[arg(long, default_value_t = 500)]
    products: u32,
    /// Worker threads.
    #[arg(short = 'w', long = "threads", default_value_t = 1)]
    threads: usize,
    /// Also measure end to end into this Redis (its database is flushed first).
    #[arg(long)]
    redis: Option<String>,
    /// With --redis: also measure from a Kafka topic at these brokers (a fresh topic per run).
    #[arg(long)]
    brokers: Option<String>,
    /// Override a setting: --set key=value.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Also measure checkpoints (in a temporary directory under TMPDIR): throughput with
    /// checkpoints every 10 s and every 1 s against none, and the write and restore of the
    /// state near the end of the shop.
    #[arg(long)]
    checkpoints: bool,
    /// With --checkpoints: rounds of the throughput comparison (medians are reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measure a recorded file (one record per line: enriched TSV, Snowplow JSON or
    /// flink-live-shopper JSON) instead of a generated shop.
    #[arg(long, value_name = "FILE")]
    input: Option<std::path::PathBuf>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

/// timely's own process arguments.
#[derive(Args, Debug, Clone)]
struct ClusterArgs {
    /// Worker threads per process.
    #[arg(short = 'w', long = "threads", default_value_t = 1)]
    threads: usize,
    /// Number of processes.
    #[arg(short = 'n', long = "processes", default_value_t = 1)]
    processes: usize,
    /// Index of this process (0-based).
    #[arg(short = 'p', long = "process", default_value_t = 0)]
    process: usize,
    /// File with one host:port per process.
    #[arg(short = 'h', long = "hostfile")]
    hostfile: Option<String>,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Configuration file over the built-in defaults (see config/live-shopper.toml).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Override a setting: --set key=value (e.g. --set lanes.product.windows=5m,1h).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Read this file (one record per line) instead of Kafka; the run ends at its end.
    #[arg(long)]
    input: Option<String>,
    /// Write features as JSON lines to this file ("-" for stdout) instead of Redis.
    #[arg(long)]
    output: Option<String>,
    /// The feature catalogue (lanes and features as data) instead of the shipped one.
    #[arg(long, value_name = "FILE")]
    features: Option<String>,
    /// Stop at the end of the topic, with one last emission.
    #[arg(long)]
    bounded: bool,
    /// Print a progress line every second.
    #[arg(long)]
    progress: bool,
    /// Remove the checkpoints in checkpoint.dir and start over instead of restoring the newest.
    #[arg(long)]
    fresh: bool,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Args, Debug)]
struct GenerateArgs {
    /// Number of shoppers.
    #[arg(long, default_value_t = 1000)]
    users: u64,
    /// Number of records.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Event-time span, e.g. 2h or 26h.
    #[arg(long, default_value = "2h")]
    span: String,
    /// First event time, ISO-8601 (e.g. 2026-01-01T00:00:00Z).
    #[arg(long, default_value = "2026-01-01T00:00:00Z")]
    start: String,
    /// Largest out-of-order delay of arrival, e.g. 2s.
    #[arg(long, default_value = "2s")]
    disorder: String,
    /// Share of events, 0 to 1, that arrive --late later still (an offline buffer flushed).
    #[arg(long, default_value_t = 0.0)]
    late_rate: f64,
    /// How much later the --late-rate share arrives, e.g. 10m or 2h.
    #[arg(long, default_value = "0s")]
    late: String,
    /// Round event times down to this grain, e.g. 5s, so that events share timestamps.
    #[arg(long, default_value = "1ms")]
    time_grain: String,
    /// Share of events, 0 to 1, dated ten years ahead (a device with a wrong clock).
    #[arg(long, default_value_t = 0.0)]
    future_rate: f64,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Share of malformed records, 0 to 1.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// tsv, snowplow-json or flink-json.
    #[arg(long, default_value = "tsv")]
    encoding: String,
    /// Catalogue size.
    #[arg(long, default_value_t = 500)]
    products: u32,
    /// Number of categories.
    #[arg(long, default_value_t = 20)]
    categories: u32,
    /// Share of page views, 0 to 1, that show a promotion banner (a promo_view event); about a
    /// fifth of those are clicked (a promo_click).
    #[arg(long, value_name = "RATE", default_value_t = 0.0)]
    promotions: f64,
    /// Output file; stdout when absent.
    #[arg(long, short = 'o')]
    output: Option<PathBuf>,
    /// Produce the records to a Kafka topic (keyed by user) instead of writing them out.
    #[arg(long, conflicts_with = "output")]
    to_kafka: bool,
    /// With --to-kafka: the topic (created with --partitions partitions if missing).
    #[arg(long, default_value = "snowplow-enriched-good")]
    topic: String,
    /// With --to-kafka: the Kafka brokers (bootstrap.servers).
    #[arg(long, default_value = "127.0.0.1:9092")]
    brokers: String,
    /// With --to-kafka: partitions of the topic when it has to be created.
    #[arg(long, default_value_t = 4)]
    partitions: usize,
    /// With --to-kafka: records per second, 0 = full speed.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
}

fn load_config(args: &RunArgs) -> Result<Config, String> {
    let mut sets = Vec::new();
    if let Some(input) = &args.input {
        sets.push("source.kind=file".to_string());
        sets.push(format!("source.path={input}"));
    }
    if let Some(output) = &args.output {
        sets.push("output.sink=file".to_string());
        sets.push(format!("output.file={output}"));
    }
    if args.bounded {
        sets.push("source.bounded=true".to_string());
    }
    if let Some(features) = &args.features {
        sets.push(format!("features.file={features}"));
    }
    sets.extend(args.sets.iter().cloned());
    config::load(args.config.as_deref(), std::env::vars(), &sets).map_err(|e| e.to_string())
}

fn progress_reporter(metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut last = (Instant::now(), 0u64);
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if last.0.elapsed() < Duration::from_secs(1) {
                continue;
            }
            let events = Metrics::get(&metrics.events);
            let rate = (events - last.1) as f64 / last.0.elapsed().as_secs_f64();
            last = (Instant::now(), events);
            let lag = wall_clock().saturating_sub(Metrics::get(&metrics.watermark));
            let event_lag = Metrics::get(&metrics.largest_event_time)
                .saturating_sub(Metrics::get(&metrics.watermark));
            eprintln!(
                "[{:>5.0}s] {events} events ({rate:.0}/s), watermark {} behind newest event ({} behind wall clock), {} bad rows, {} feature writes, {} Redis commands",
                started.elapsed().as_secs_f64(),
                human(event_lag),
                human(lag),
                Metrics::get(&metrics.bad_rows),
                Metrics::get(&metrics.writes),
                Metrics::get(&metrics.redis_commands),
            );
        }
    })
}

/// Logs the records dropped as too late for every window of their lane, at most once per
/// interval, while the job runs: late data is dropped visibly.
fn late_reporter(stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reported = 0;
        let mut last = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(200));
            if last.elapsed() < Duration::from_secs(10) {
                continue;
            }
            let total = operators::late::total();
            if total > reported {
                eprintln!("live-shopper: {}", late_summary());
                reported = total;
                last = Instant::now();
            }
        }
    })
}

/// Late records dropped so far, per lane.
fn late_summary() -> String {
    let counts = operators::late::counts();
    let lanes: Vec<String> = counts
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(lane, n)| format!("{lane} {n}"))
        .collect();
    format!(
        "{} lane record(s) too old for every window of their lane, dropped ({})",
        counts.values().sum::<u64>(),
        lanes.join(", ")
    )
}

fn human(ms: u64) -> String {
    match ms {
        0..=9_999 => format!("{ms}ms"),
        10_000..=7_199_999 => format!("{}s", ms / 1000),
        _ => format!("{}h", ms / 3_600_000),
    }
}

fn run_command(args: RunArgs) -> Result<(), String> {
    let config = load_config(&args)?;
    let cluster = Cluster {
        threads: args.cluster.threads,
        processes: args.cluster.processes,
        process: args.cluster.process,
        hostfile: args.cluster.hostfile.clone(),
    };
    let connectors = Connectors::for_config(&config);
    let secrets = config.secrets();
    peer_loss::exit_on_lost_connection();
    // The first SIGTERM or SIGINT sets it, for the workers to stop at the end of a batch.
    let shutdown = signals::install()?;
    let metrics = Arc::new(Metrics::default());
    let stop = Arc::new(AtomicBool::new(false));
    let reporter = args
        .progress
        .then(|| progress_reporter(metrics.clone(), stop.clone()));
    let late = late_reporter(stop.clone());
    let options = run::RunOptions {
        fresh: args.fresh,
        stop: shutdown,
    };
    let result = run::run_with(config, &cluster, connectors, metrics.clone(), options)
        .map_err(|e| secrets.redact(&e));
    stop.store(true, Ordering::Relaxed);
    if let Some(reporter) = reporter {
        let _ = reporter.join();
    }
    let _ = late.join();
    if operators::late::total() > 0 {
        eprintln!("live-shopper: {}", late_summary());
    }
    let resets = match Metrics::get(&metrics.redis_resets) {
        0 => String::new(),
        n => format!(", {n} Redis data losses (features republished)"),
    };
    eprintln!(
        "live-shopper: {} records, {} events, {} bad rows, {} feature writes, {} Redis commands{resets}",
        Metrics::get(&metrics.records),
        Metrics::get(&metrics.events),
        Metrics::get(&metrics.bad_rows),
        Metrics::get(&metrics.writes),
        Metrics::get(&metrics.redis_commands),
    );
    result
}

fn generate_command(args: GenerateArgs) -> Result<(), String> {
    let span_ms = config::parse_duration(&args.span)
        .ok_or_else(|| format!("--span `{}`: write it like 2h or 26h", args.span))?;
    let disorder_ms = config::parse_duration(&args.disorder)
        .ok_or_else(|| format!("--disorder `{}`: write it like 2s or 500ms", args.disorder))?;
    let late_ms = config::parse_duration(&args.late)
        .ok_or_else(|| format!("--late `{}`: write it like 10m or 2h", args.late))?;
    let time_grain_ms = config::parse_duration(&args.time_grain)
        .ok_or_else(|| format!("--time-grain `{}`: write it like 1s", args.time_grain))?;
    let start_ms = jobs::parse::time::parse_timestamp(&args.start).ok_or_else(|| {
        format!(
            "--start `{}`: write it like 2026-01-01T00:00:00Z",
            args.start
        )
    })?;
    let encoding: Encoding = args.encoding.parse()?;
    let options = GenerateOptions {
        users: args.users,
        events: args.events,
        span_ms,
        start_ms,
        disorder_ms,
        late_rate: args.late_rate,
        late_ms,
        time_grain_ms,
        future_rate: args.future_rate,
        seed: args.seed,
        malformed_rate: args.malformed_rate,
        encoding,
        products: args.products,
        categories: args.categories,
        promotions: args.promotions,
    };
    if args.to_kafka {
        return generate_to_kafka(options, &args);
    }
    let written = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let n = generate::write_records(options, &mut out).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            n
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = generate::write_records(options, &mut out).map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
            n
        }
    };
    eprintln!("live-shopper: generated {written} records");
    Ok(())
}

fn generate_to_kafka(options: GenerateOptions, args: &GenerateArgs) -> Result<(), String> {
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err(format!(
            "--rate {}: give records per second, or 0 for full speed",
            args.rate
        ));
    }
    if args.partitions == 0 {
        return Err("--partitions must be at least 1".to_string());
    }
    let mut target = generate::kafka::KafkaTarget::new(args.brokers.clone(), args.topic.clone());
    target.partitions = args.partitions;
    target.rate = args.rate;
    let produced = generate::kafka::produce_shop(options, &target)?;
    let seconds = produced.elapsed.as_secs_f64().max(1e-3);
    eprintln!(
        "live-shopper: produced {} records to topic `{}` ({} partitions{}) at {} in {seconds:.1}s ({:.0}/s)",
        produced.records,
        args.topic,
        produced.partitions,
        if produced.created { ", created" } else { "" },
        args.brokers,
        produced.records as f64 / seconds,
    );
    Ok(())
}

fn bench_command(args: BenchArgs) -> Result<(), String> {
    let span_ms = config::parse_duration(&args.span)
        .ok_or_else(|| format!("--span `{}`: write it like 2h or 26h", args.span))?;
    let options = live_shopper::bench::BenchOptions {
        shop: GenerateOptions {
            users: args.users,
            events: args.events,
            span_ms,
            seed: args.seed,
            products: args.products,
            ..GenerateOptions::default()
        },
        threads: args.threads.max(1),
        redis_url: args.redis.clone(),
        brokers: args.brokers.clone(),
        sets: args.sets.clone(),
        checkpoint_rounds: args.checkpoints.then_some(args.rounds.max(1)),
        input: args.input.clone(),
    };
    let figures = live_shopper::bench::bench(&options)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&figures).map_err(|e| e.to_string())?
        );
    } else {
        for f in figures {
            println!("{:<48} {:>14.2} {}", f.name, f.value, f.unit);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run_command(args),
        Command::Generate(args) => generate_command(args),
        Command::Bench(args) => bench_command(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("live-shopper: error: {}", redact(&e));
            ExitCode::FAILURE
        }
    }
}
