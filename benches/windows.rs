//! The window operators in isolation: lane records already parsed and keyed, through a one-worker
//! timely dataflow with the rolling (the shipped product lane, 5m and 1h) or session operator
//! (the shipped session lane), features
//! discarded. Event time advances 100 ms per record, over 2 000 shoppers; the hot-key cases put
//! the same number of session events into one session of 5 minutes, in order and with the same
//! 2 s of disorder as the other cases.
//!
//! cargo bench --bench windows -- --warm-up-time 1 --measurement-time 5

// The same allocator as the binary, so that the figures are comparable.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use jobs::catalogue::runtime::{rolling_plan, written_names, LaneAggregate, LaneSessions};
use jobs::catalogue::{Catalogue, Lane, Record};
use jobs::event::{EventKind, Price, Product, ShopperEvent};
use operators::checkpoint::Control;
use operators::driver::Shared;
use operators::rolling::{rolling, RollingConfig, WindowSpec};
use operators::session::{sessions, SessionConfig};
use operators::{FeatureWrite, Keyed, Millis};
use std::sync::Arc;
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

/// The shipped catalogue's lane `name`.
fn shipped_lane(name: &str) -> Arc<Lane> {
    let catalogue = Catalogue::builtin().expect("the shipped catalogue");
    Arc::new(catalogue.lane(name).expect("a shipped lane").clone())
}

fn event(kind: EventKind) -> ShopperEvent {
    ShopperEvent {
        time: 0,
        event_id: 0,
        user: String::new(),
        session: None,
        kind,
        products: Vec::new(),
        list_name: None,
        cart_total: None,
        revenue: None,
        checkout_step: None,
        promotion: None,
        is_search: false,
        page_url: None,
        platform: None,
        campaign: None,
        device_class: None,
        country: None,
        region: None,
        fields: Vec::new(),
    }
}

fn keyed(rng: &mut Rng, i: usize, lane: &Lane, key: String, event: &ShopperEvent) -> Keyed<Record> {
    Keyed {
        key,
        time: START + i as u64 * 100 + rng.next() % 2_000,
        id: ((rng.next() as u128) << 64) | i as u128,
        entry: lane.record(event).expect("the lane takes the event"),
    }
}

fn product_views(lane: &Lane) -> Vec<Keyed<Record>> {
    let mut rng = Rng(7);
    (0..RECORDS)
        .map(|i| {
            let product = rng.next() % 200;
            let mut view = event(EventKind::ProductView);
            view.products.push(Product {
                id: format!("P{product:05}"),
                name: None,
                category: None,
                brand: None,
                variant: None,
                price: Some(Price(((product % 97) as i64 + 1) * 1_990_000)),
            });
            let key = format!("user-{}", rng.next() % USERS);
            keyed(&mut rng, i, lane, key, &view)
        })
        .collect()
}

fn session_event(rng: &mut Rng) -> ShopperEvent {
    let kinds = [
        EventKind::PageView,
        EventKind::ProductView,
        EventKind::AddToCart,
        EventKind::ListView,
    ];
    let kind = kinds[(rng.next() % 4) as usize].clone();
    let mut e = event(kind);
    e.is_search = e.kind == EventKind::PageView && rng.next().is_multiple_of(5);
    e.user = format!("user-{}", rng.next() % USERS);
    e.session = Some("s".to_string());
    e.campaign = (rng.next().is_multiple_of(10)).then(|| "spring-sale".to_string());
    e.device_class = Some(["Desktop", "Phone", "Tablet"][(rng.next() % 3) as usize].to_string());
    e.platform = Some("web".to_string());
    let (country, region) = [("US", "CA"), ("US", "NY"), ("GB", "ENG")][(rng.next() % 3) as usize];
    e.country = Some(country.to_string());
    e.region = Some(region.to_string());
    e
}

fn session_events(lane: &Lane) -> Vec<Keyed<Record>> {
    let mut rng = Rng(11);
    (0..RECORDS)
        .map(|i| {
            let event = session_event(&mut rng);
            let key = format!("session-{}", rng.next() % USERS);
            keyed(&mut rng, i, lane, key, &event)
        })
        .collect()
}

/// One session key, `RECORDS` events spread evenly over 5 minutes, each up to `jitter`
/// milliseconds late.
fn hot_session_events(lane: &Lane, jitter: Millis) -> Vec<Keyed<Record>> {
    let mut rng = Rng(13);
    (0..RECORDS)
        .map(|i| {
            let event = session_event(&mut rng);
            let late = if jitter > 0 { rng.next() % jitter } else { 0 };
            Keyed {
                key: "session-hot".to_string(),
                time: START + (i as u64 * 300_000 / RECORDS as u64) + 2_000 - late,
                id: ((rng.next() as u128) << 64) | i as u128,
                entry: lane.record(&event).expect("the lane takes the event"),
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

    let product = shipped_lane("product");
    let views = product_views(&product);
    group.bench_function("rolling_product_5m_1h", |b| {
        b.iter_batched(
            || views.clone(),
            |records| {
                let product = product.clone();
                drive(records, move |records, ends| {
                    let config = RollingConfig {
                        prefix: "user".to_string(),
                        features: written_names(&product),
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
                    rolling::<LaneAggregate>(
                        records,
                        ends,
                        config,
                        rolling_plan(product),
                        "CatalogueLane-product",
                        Shared::plain(0, 1),
                    )
                })
            },
            BatchSize::LargeInput,
        )
    });

    let session = shipped_lane("session");
    let features = written_names(&session);
    let session_config = move || SessionConfig {
        prefix: "session".to_string(),
        features: features.clone(),
        gap: 1_800_000,
        interval: 1_000,
        retention: 600_000,
    };
    let cases = [
        ("session_30m_gap", session_events(&session)),
        ("session_hot_key_in_order", hot_session_events(&session, 0)),
        (
            "session_hot_key_disorder",
            hot_session_events(&session, 2_000),
        ),
    ];
    for (name, events) in cases {
        group.bench_function(name, |b| {
            b.iter_batched(
                || events.clone(),
                |records| {
                    let (config, lane) = (session_config.clone()(), session.clone());
                    drive(records, move |records, ends| {
                        sessions(
                            records,
                            ends,
                            config,
                            LaneSessions::new(lane),
                            "CatalogueLane-session",
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
