//! Parser throughput: `parse_record` over 10 000 realistic events per encoding, built from the
//! real Snowplow samples (jobs/tests/fixtures/snowplow) and the project's fixtures (jobs/tests/fixtures),
//! with varied event ids, times, users and sessions so that nothing is an identical copy.
//!
//! cargo bench --bench parse -- --warm-up-time 1 --measurement-time 3

// The same allocator as the binary, so that the figures are comparable.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jobs::event::format_event_id;
use jobs::parse::time::{format_iso8601, format_timestamp, parse_timestamp};
use jobs::parse::{encode_batch, parse_record, Compression, FIELD_NAMES};
use serde_json::Value;

const EVENTS: usize = 10_000;
const BATCH: usize = 500;

fn read(path: &str) -> Vec<String> {
    let path = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn field(name: &str) -> usize {
    FIELD_NAMES.iter().position(|n| *n == name).unwrap()
}

/// What varies per generated event.
struct Vary {
    id: String,
    time: u64,
    user: String,
    session: String,
}

fn vary(i: usize) -> Vary {
    Vary {
        id: format_event_id(0x5eed_0000_0000_4000_8000_0000_0000_0000 | (i as u128 * 0x9E37_79B9)),
        time: 1_723_649_271_685 + i as u64 * 37,
        user: format!("{:08x}-78c9-4062-9076-a2ea9ada4fe9", i % 997),
        session: format!("{:08x}-c715-4560-acf4-b68c8f3a1acc", i % 3001),
    }
}

fn tsv_events() -> Vec<Vec<u8>> {
    let mut templates = read("jobs/tests/fixtures/snowplow/snowplow-enriched-samples.tsv");
    templates.extend(read("jobs/tests/fixtures/ecommerce-enriched.tsv"));
    let (id, collector, derived, duid, dsid) = (
        field("event_id"),
        field("collector_tstamp"),
        field("derived_tstamp"),
        field("domain_userid"),
        field("domain_sessionid"),
    );
    (0..EVENTS)
        .map(|i| {
            let v = vary(i);
            let mut f: Vec<String> = templates[i % templates.len()]
                .split('\t')
                .map(str::to_owned)
                .collect();
            f[id] = v.id;
            f[collector] = format_timestamp(v.time + 40);
            if !f[derived].is_empty() {
                f[derived] = format_timestamp(v.time);
            }
            if !f[duid].is_empty() {
                f[duid] = v.user;
            }
            if !f[dsid].is_empty() {
                f[dsid] = v.session;
            }
            f.join("\t").into_bytes()
        })
        .collect()
}

fn json_events(path: &str, edit: impl Fn(&mut Value, Vary)) -> Vec<Vec<u8>> {
    let templates: Vec<Value> = read(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (0..EVENTS)
        .map(|i| {
            let mut value = templates[i % templates.len()].clone();
            edit(&mut value, vary(i));
            serde_json::to_vec(&value).unwrap()
        })
        .collect()
}

fn snowplow_json_events() -> Vec<Vec<u8>> {
    json_events("jobs/tests/fixtures/snowplow-json.jsonl", |v, vary| {
        v["event_id"] = vary.id.into();
        v["collector_tstamp"] = format_iso8601(vary.time + 40).into();
        if v.get("derived_tstamp").is_some() {
            v["derived_tstamp"] = format_iso8601(vary.time).into();
        }
        if v.get("domain_userid").is_some() {
            v["domain_userid"] = vary.user.into();
        }
        if v.get("domain_sessionid").is_some() {
            v["domain_sessionid"] = vary.session.into();
        }
    })
}

fn flink_json_events() -> Vec<Vec<u8>> {
    json_events("jobs/tests/fixtures/flink-live-shopper.jsonl", |v, vary| {
        v["id"] = vary.id.into();
        v["timestamp"] = format_iso8601(vary.time).into();
        if v["enrich"]["user"].get("domain_userid").is_some() {
            v["enrich"]["user"]["domain_userid"] = vary.user.into();
        }
        if v["session"].get("domain_sessionid").is_some() {
            v["session"]["domain_sessionid"] = vary.session.into();
        }
    })
}

fn bench_records(c: &mut Criterion, name: &str, records: &[Vec<u8>], events: usize) {
    // Sanity: every generated event parses, so the bench measures the good path.
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for r in records {
        parse_record(r, &jobs::parse::Limits::default(), &mut good, &mut bad);
    }
    assert!(bad.is_empty(), "{name}: {}", bad[0]);
    assert_eq!(good.len(), events);
    assert!(good
        .iter()
        .all(|e| parse_timestamp(&format_timestamp(e.time)) == Some(e.time)));

    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(events as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            good.clear();
            bad.clear();
            for r in records {
                parse_record(
                    black_box(r),
                    &jobs::parse::Limits::default(),
                    &mut good,
                    &mut bad,
                );
            }
            black_box((&good, &bad));
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    let tsv = tsv_events();
    bench_records(c, "enriched_tsv", &tsv, EVENTS);
    bench_records(c, "snowplow_json", &snowplow_json_events(), EVENTS);
    bench_records(c, "flink_json", &flink_json_events(), EVENTS);
    let batches: Vec<Vec<u8>> = tsv
        .chunks(BATCH)
        .map(|chunk| {
            let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            encode_batch(&refs, Compression::Zstd)
        })
        .collect();
    bench_records(c, "enriched_tsv_zstd_batches", &batches, EVENTS);
}

criterion_group!(benches, parse);
criterion_main!(benches);
