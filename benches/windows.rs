//! The window operators in isolation: lane records already parsed and keyed, through a one-worker
//! timely dataflow with the rolling (product lane, 5m and 1h) or session operator, features
//! discarded. Event time advances 100 ms per record, over 2 000 shoppers; the hot-key cases put
//! the same number of session events into one session of 5 minutes, in order and with the same
//! 2 s of disorder as the other cases.
//!
//! cargo bench --bench windows -- --warm-up-time 1 --measurement-time 5

// The same allocator as the binary, so that the figures are comparable.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jobs::event::Price;
use jobs::features::product::{self, ProductAggregate, ProductView};
use jobs::features::session::{self, Session, SessionEvent, SessionKind};
use operators::checkpoint::Control;
use operators::driver::Shared;
use operators::rolling::{rolling, RollingConfig, WindowSpec};
use operators::session::{sessions, SessionConfig};
use operators::{FeatureWrite, Keyed, Millis};
use timely::dataflow::operators::Probe;
use timely::dataflow::{InputHandleVec, ProbeHandle, Scope, StreamVec};
use timely::ExchangeData;

const RECORDS: usize = 100_000;
const USERS: u64 = 2_000;
const START: Millis = 1_767_225_600_000;
const LATENESS: Millis = 5_000;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn keyed<E>(rng: &mut Rng, i: usize, prefix: &str, entry: E) -> Keyed<E> {
    Keyed {
        key: format!("{prefix}-{}", rng.next() % USERS),
        time: START + i as u64 * 100 + rng.next() % 2_000,
        id: ((rng.next() as u128) << 64) | i as u128,
        entry,
    }
}

fn product_views() -> Vec<Keyed<ProductView>> {
    let mut rng = Rng(7);
    (0..RECORDS)
        .map(|i| {
            let product = rng.next() % 200;
            let view = ProductView {
                product: format!("P{product:05}"),
                price: Some(Price(((product % 97) as i64 + 1) * 1_990_000)),
            };
            keyed(&mut rng, i, "user", view)
        })
        .collect()
}

fn session_event(rng: &mut Rng) -> SessionEvent {
    let kinds = [
        SessionKind::PageView,
        SessionKind::ProductView,
        SessionKind::AddToCart,
        SessionKind::Other,
    ];
    let kind = kinds[(rng.next() % 4) as usize];
    SessionEvent {
        kind,
        search: kind == SessionKind::PageView && rng.next().is_multiple_of(5),
        user: format!("user-{}", rng.next() % USERS),
        campaign: (rng.next().is_multiple_of(10)).then(|| "spring-sale".to_string()),
        device: Some(["Desktop", "Phone", "Tablet"][(rng.next() % 3) as usize].to_string()),
        platform: Some("web".to_string()),
        location: Some(["US/CA", "US/NY", "GB/ENG"][(rng.next() % 3) as usize].to_string()),
    }
}

fn session_events() -> Vec<Keyed<SessionEvent>> {
    let mut rng = Rng(11);
    (0..RECORDS)
        .map(|i| {
            let event = session_event(&mut rng);
            keyed(&mut rng, i, "session", event)
        })
        .collect()
}

/// One session key, `RECORDS` events spread evenly over 5 minutes, each up to `jitter`
/// milliseconds late.
fn hot_session_events(jitter: Millis) -> Vec<Keyed<SessionEvent>> {
    let mut rng = Rng(13);
    (0..RECORDS)
        .map(|i| {
            let entry = session_event(&mut rng);
            let late = if jitter > 0 { rng.next() % jitter } else { 0 };
            Keyed {
                key: "session-hot".to_string(),
                time: START + (i as u64 * 300_000 / RECORDS as u64) + 2_000 - late,
                id: ((rng.next() as u128) << 64) | i as u128,
                entry,
            }
        })
        .collect()
}

/// Feeds `records` in batches, advancing the watermark behind them, and runs to the end.
fn drive<E, B>(records: Vec<Keyed<E>>, build: B)
where
    E: ExchangeData + Clone + Sync,
    B: for<'s> FnOnce(
            StreamVec<'s, u64, Keyed<E>>,
            StreamVec<'s, u64, Control>,
        ) -> StreamVec<'s, u64, FeatureWrite>
        + Send
        + Sync
        + 'static,
{
    timely::execute_directly(move |worker| {
        let mut input = InputHandleVec::new();
        let mut ends = InputHandleVec::new();
        let probe = ProbeHandle::new();
        worker.dataflow(|scope: Scope<'_, u64>| {
            let writes = build(input.to_stream(scope), ends.to_stream(scope));
            writes.probe_with(&probe);
        });
        let mut largest = 0;
        let mut records = records.into_iter().peekable();
        while records.peek().is_some() {
            for record in records.by_ref().take(4_096) {
                largest = largest.max(record.time);
                input.send(record);
            }
            let next =
                largest.saturating_sub(LATENESS) - largest.saturating_sub(LATENESS) % 1_000 + 1;
            if next > *input.time() {
                input.advance_to(next);
                ends.advance_to(next);
            }
            while probe.less_than(input.time()) {
                worker.step();
            }
        }
        ends.send(Control::End(largest));
        drop(input);
        drop(ends);
        while worker.step() {}
    });
}

fn windows(c: &mut Criterion) {
    let mut group = c.benchmark_group("windows");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.sample_size(10);

    let views = product_views();
    group.bench_function("rolling_product_5m_1h", |b| {
        b.iter_batched(
            || views.clone(),
            |records| {
                drive(records, |records, ends| {
                    let config = RollingConfig {
                        prefix: "user".to_string(),
                        features: product::FEATURES.iter().map(|f| f.to_string()).collect(),
                        windows: vec![
                            WindowSpec {
                                name: "5m".to_string(),
                                length: 300_000,
                            },
                            WindowSpec {
                                name: "1h".to_string(),
                                length: 3_600_000,
                            },
                        ],
                        interval: 1_000,
                        grace: 600_000,
                    };
                    rolling::<ProductAggregate>(
                        records,
                        ends,
                        config,
                        (),
                        "ProductLane",
                        Shared::plain(0, 1),
                    )
                })
            },
            BatchSize::LargeInput,
        )
    });

    let session_config = || SessionConfig {
        prefix: "session".to_string(),
        features: session::FEATURES.iter().map(|f| f.to_string()).collect(),
        gap: 1_800_000,
        interval: 1_000,
        retention: 600_000,
    };
    let cases = [
        ("session_30m_gap", session_events()),
        ("session_hot_key_in_order", hot_session_events(0)),
        ("session_hot_key_disorder", hot_session_events(2_000)),
    ];
    for (name, events) in cases {
        group.bench_function(name, |b| {
            b.iter_batched(
                || events.clone(),
                |records| {
                    drive(records, move |records, ends| {
                        sessions::<Session>(
                            records,
                            ends,
                            session_config(),
                            Session,
                            "SessionLane",
                            Shared::plain(0, 1),
                        )
                    })
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, windows);
criterion_main!(benches);
