//! `live-shopper bench`: drives the real job with a synthetic shop and reports one line per
//! figure (or JSON). The shop is generated into memory first, so that neither generation nor
//! disk is measured.

use std::sync::Arc;
use std::time::Instant;

use crate::config::{self, Config};
use crate::generate::kafka::{produce_shop, KafkaTarget};
use crate::generate::{GenerateOptions, Shop};
use crate::metrics::Metrics;
use crate::run::{self, Cluster, Connectors};
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

fn memory_connectors(records: Arc<Records>, rate: Option<f64>) -> Connectors {
    Connectors {
        source: Arc::new(move |_config: &Config, index, peers, _resume: &_| {
            let source = MemorySource::new(records.clone(), index, peers);
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

fn timed_run(
    config: Config,
    threads: usize,
    records: &Arc<Records>,
    rate: Option<f64>,
) -> Result<(f64, Arc<Metrics>), String> {
    let metrics = Arc::new(Metrics::default());
    let cluster = Cluster {
        threads,
        processes: 1,
        process: 0,
        hostfile: None,
    };
    let started = Instant::now();
    run::run(
        config,
        &cluster,
        memory_connectors(records.clone(), rate),
        metrics.clone(),
    )?;
    Ok((started.elapsed().as_secs_f64(), metrics))
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
    let mut shop = Shop::new(options.shop.clone())?;
    let mut records = Records::default();
    let (mut key, mut buffer) = (String::new(), Vec::new());
    let mut first = u64::MAX;
    let mut last = 0;
    while let Some(time) = shop.next_into(&mut key, &mut buffer) {
        first = first.min(time);
        last = last.max(time);
        records.push(&buffer);
        buffer.clear();
    }
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
    figure(
        "event-time span",
        (last.saturating_sub(first)) as f64 / 3_600_000.0,
        "h",
    );
    figure("workers", options.threads as f64, "threads");

    let mut sets = vec![
        "source.kind=file".to_string(),
        "source.path=memory".to_string(),
    ];
    sets.extend(options.sets.iter().cloned());
    let mut compute = sets.clone();
    compute.push("output.sink=discard".to_string());
    let config = config::load(None, Vec::new(), &compute).map_err(|e| e.to_string())?;
    operators::gauge::reset_peak();
    let heap = crate::alloc::Counting::start();
    let (seconds, metrics) = timed_run(config, options.threads, &records, None)?;
    let peak_heap = heap.finish();
    let peak_state = operators::gauge::peak() as f64;
    figure("compute-only throughput", events / seconds, "events/s");
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
    figure("peak window state", peak_state, "records held");
    figure(
        "peak window state per user",
        peak_state / options.shop.users.max(1) as f64,
        "records/user",
    );
    if let Some(heap) = peak_heap {
        let heap = heap as f64;
        figure("peak heap of the job", heap / 1_048_576.0, "MiB");
        figure(
            "peak heap per user",
            heap / options.shop.users.max(1) as f64,
            "bytes/user",
        );
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
            let topic = format!("live-shopper-bench-{}", crate::run::wall_clock());
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
