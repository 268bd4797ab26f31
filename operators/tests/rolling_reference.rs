//! The rolling-window operator against a from-scratch recomputation, on seeded random inputs
//! driven in process the way the job drives it: records enter at the watermark left by the
//! records before them, so that disorder beyond the lateness makes them late. Inputs have a hot
//! key, identical timestamps, duplicates, and records later than the shortest window, than the
//! longest and in between. After every emission the store the operator's writes build must hold
//! exactly what a recomputation from the records gives. A republish requested mid-run must
//! write every current value, so that a store emptied just before holds the same from then on,
//! and must leave the operator's later writes as they were.
//!
//! CI runs it also in a debug build (`ROLLING_REFERENCE_SEEDS=10 cargo test -p operators --test
//! rolling_reference`): the window counts assert there that a record never leaves a window it
//! did not enter.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use operators::changes::Rendered;
use operators::checkpoint::{Checkpointing, Control};
use operators::count::decrement;
use operators::driver::Shared;
use operators::republish::Republish;
use operators::rolling::{rolling, Aggregate, RollingConfig, WindowLog, WindowSpec};
use operators::symbols::Symbols;
use operators::{FeatureWrite, Keyed, Millis, Order};
use timely::dataflow::operators::{Inspect, Probe};
use timely::dataflow::{InputHandleVec, ProbeHandle};

const INTERVAL: Millis = 1_000;
const LATENESS: Millis = 2_000;
const SHORT: Millis = 60_000;
const LONG: Millis = 300_000;
const FEATURES: [&str; 3] = ["count", "sum", "latest"];

/// Count, sum and the value of the latest record (in record order).
#[derive(Default)]
struct Toy {
    count: u64,
    sum: u64,
}

impl Aggregate for Toy {
    type Spec = ();
    type Entry = u64;
    type Stored = u64;

    fn new(_spec: &()) -> Self {
        Self::default()
    }

    fn store(entry: u64, _symbols: &mut Symbols) -> u64 {
        entry
    }

    fn unstore(stored: &u64, _symbols: &Symbols) -> u64 {
        *stored
    }

    fn release(_stored: &u64, _symbols: &mut Symbols) {}

    fn insert(&mut self, _order: Order, value: &u64) {
        self.count += 1;
        self.sum += value;
    }

    fn remove(&mut self, _order: Order, value: &u64) {
        decrement(&mut self.count);
        self.sum = self.sum.wrapping_sub(*value);
    }

    fn render(&self, window: WindowLog<'_, u64>, _symbols: &Symbols, values: &mut Rendered) {
        values.set(0, self.count);
        values.set(1, self.sum);
        if let Some((_, latest)) = window.latest_first().next() {
            values.set(2, latest);
        }
    }
}

/// SplitMix64: the same inputs on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Records in arrival order.
fn arrivals(seed: u64, n: usize) -> Vec<Keyed<u64>> {
    let mut rng = Rng(seed);
    let mut timed = Vec::new();
    let mut time: Millis = 1_767_225_600_000;
    for i in 0..n {
        time += rng.below(3_000);
        // Half the records are the hot key's; times on a 500 ms grain give many ties.
        let key = if rng.below(2) == 0 { 0 } else { rng.below(8) };
        let record = Keyed {
            key: format!("k{key}"),
            time: time - time % 500,
            id: u128::from(rng.below(4)),
            entry: rng.below(1_000),
        };
        let delay = match rng.below(100) {
            0..=79 => rng.below(LATENESS),
            80..=89 => SHORT + rng.below(LONG - SHORT),
            90..=94 => LONG + rng.below(LONG),
            _ => rng.below(SHORT),
        };
        timed.push((record.time + delay, i, record));
    }
    // The same event delivered twice, later.
    let mut copies = Vec::new();
    for (at, i, record) in &timed {
        if rng.below(30) == 0 {
            copies.push((at + rng.below(LONG), *i, record.clone()));
        }
    }
    timed.extend(copies);
    timed.sort_by_key(|(at, i, _)| (*at, *i));
    timed.into_iter().map(|(_, _, r)| r).collect()
}

/// Writes of the operator, by emission time.
type Writes = Rc<RefCell<Vec<(Millis, FeatureWrite)>>>;

/// What a run gave: the operator's writes, per record the emission that first counts it, and
/// how many writes had been made when the republish was requested.
struct Run {
    writes: Vec<(Millis, FeatureWrite)>,
    effective: Vec<Millis>,
    requested_at: usize,
}

/// Runs the operator over `records` with one worker, requesting a republish before record
/// `republish_before` enters (if given).
fn run(records: Vec<Keyed<u64>>, republish_before: Option<usize>) -> Run {
    timely::execute_directly(move |worker| {
        let republish = Republish::new();
        let handle = republish.clone();
        let mut input = InputHandleVec::new();
        let mut ends = InputHandleVec::new();
        let probe = ProbeHandle::new();
        let writes: Writes = Rc::default();
        let sink = writes.clone();
        let config = RollingConfig {
            prefix: "user".into(),
            features: FEATURES.iter().map(|f| f.to_string()).collect(),
            windows: vec![
                WindowSpec {
                    name: "1m".into(),
                    length: SHORT,
                },
                WindowSpec {
                    name: "5m".into(),
                    length: LONG,
                },
            ],
            interval: INTERVAL,
            grace: 0,
        };
        let checkpointing = Checkpointing::off(worker.index(), worker.peers());
        worker.dataflow(|scope| {
            let stream = input.to_stream(scope);
            let end = ends.to_stream(scope);
            let shared = Shared {
                checkpointing,
                republish: handle,
            };
            rolling::<Toy>(stream, end, config, (), "ToyLane", shared)
                .inspect_core(move |event| {
                    if let Ok((stamp, data)) = event {
                        let time = stamp.least().copied().unwrap_or_default();
                        let mut sink = sink.borrow_mut();
                        sink.extend(data.iter().map(|w| (time, w.clone())));
                    }
                })
                .probe_with(&probe);
        });
        let mut effective = Vec::new();
        let (mut largest, mut watermark) = (None::<Millis>, 0);
        let mut requested_at = 0;
        for (i, record) in records.into_iter().enumerate() {
            if republish_before == Some(i) {
                requested_at = writes.borrow().len();
                republish.request();
            }
            let entered = *input.time();
            effective.push(record.time.max(entered).div_ceil(INTERVAL) * INTERVAL);
            largest = Some(largest.map_or(record.time, |l| l.max(record.time)));
            watermark = watermark.max(record.time.saturating_sub(LATENESS));
            input.send(record);
            let next = watermark - watermark % INTERVAL + 1;
            if next > *input.time() {
                input.advance_to(next);
                ends.advance_to(next);
            }
            worker.step();
        }
        if let Some(largest) = largest {
            ends.send(Control::End(largest));
        }
        drop((input, ends));
        while worker.step() {}
        let writes = writes.borrow().clone();
        Run {
            writes,
            effective,
            requested_at,
        }
    })
}

/// What the store must hold after the emission at `now`.
fn expected_at(records: &[(Keyed<u64>, Millis)], now: Millis) -> BTreeMap<String, String> {
    let mut store = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let counted: Vec<&(Keyed<u64>, Millis)> = records
        .iter()
        .filter(|(r, _)| seen.insert((r.key.clone(), r.time, r.id)))
        .filter(|(_, at)| *at <= now)
        .collect();
    for (name, length) in [("1m", SHORT), ("5m", LONG)] {
        let mut by_key: BTreeMap<&str, Vec<&Keyed<u64>>> = BTreeMap::new();
        for (r, at) in &counted {
            // Too old for every window when it arrived: it counts nowhere.
            if r.time + LONG <= *at {
                continue;
            }
            if r.time + length > now && r.time <= now {
                by_key.entry(&r.key).or_default().push(r);
            }
        }
        for (key, inside) in by_key {
            let sum: u64 = inside.iter().map(|r| r.entry).sum();
            let latest = inside.iter().max_by_key(|r| r.order()).map(|r| r.entry);
            let k = |feature: &str| format!("user:{key}:{feature}_{name}");
            store.insert(k("count"), inside.len().to_string());
            store.insert(k("sum"), sum.to_string());
            if let Some(latest) = latest {
                store.insert(k("latest"), latest.to_string());
            }
        }
    }
    store
}

fn check(seed: u64, n: usize) {
    check_records(&format!("seed {seed}"), arrivals(seed, n));
}

/// Runs `records` (in arrival order) and compares the store after every emission.
fn check_records(name: &str, records: Vec<Keyed<u64>>) {
    let run = run(records.clone(), None);
    check_store(name, &records, &run.effective, &run.writes);
}

/// Builds a store from `writes`, starting empty, and compares it with a recomputation from
/// `records` after every emission from the first write on.
fn check_store(
    name: &str,
    records: &[Keyed<u64>],
    effective: &[Millis],
    writes: &[(Millis, FeatureWrite)],
) {
    let with_times: Vec<(Keyed<u64>, Millis)> = records
        .iter()
        .cloned()
        .zip(effective.iter().copied())
        .collect();
    let first = writes.first().map_or(0, |(time, _)| *time);
    let mut by_time: BTreeMap<Millis, Vec<FeatureWrite>> = BTreeMap::new();
    for (time, write) in writes.iter().cloned() {
        by_time.entry(time).or_default().push(write);
    }
    // Every time the expected store can change at: when records count and when they leave.
    let mut times: BTreeSet<Millis> = by_time.keys().copied().collect();
    for (r, at) in &with_times {
        times.insert(*at);
        for length in [SHORT, LONG] {
            times.insert((r.time + length).div_ceil(INTERVAL) * INTERVAL);
        }
    }
    let last = *by_time.keys().last().unwrap_or(&0);
    let mut store: BTreeMap<String, String> = BTreeMap::new();
    for now in times.into_iter().filter(|&t| first <= t && t <= last) {
        for write in by_time.remove(&now).unwrap_or_default() {
            match write.value {
                Some(value) => store.insert(write.key, value),
                None => store.remove(&write.key),
            };
        }
        let expected = expected_at(&with_times, now);
        if store != expected {
            let wrong: Vec<_> = expected
                .iter()
                .filter(|(k, v)| store.get(*k) != Some(v))
                .chain(store.iter().filter(|(k, v)| expected.get(*k) != Some(v)))
                .take(6)
                .collect();
            panic!("{name}: the store differs at emission {now}: {wrong:?}");
        }
    }
}

#[test]
fn rolling_windows_match_a_recomputation_at_every_emission() {
    // More seeds for a one-off deeper check; fewer for the slower debug build.
    let seeds: u64 = std::env::var("ROLLING_REFERENCE_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    for seed in 0..seeds {
        check(seed, 500);
    }
}

#[test]
fn a_record_later_than_the_short_window_never_leaves_it() {
    // U at 00:00, V at 00:03, U at 00:01: the third is too late for the 1 minute window but
    // inside the 5 minute one.
    let at = |minutes: u64, key: &str, id: u128| Keyed {
        key: key.to_string(),
        time: 1_767_225_600_000 + minutes * 60_000,
        id,
        entry: 1,
    };
    let records = vec![at(0, "U", 1), at(3, "V", 2), at(1, "U", 3)];
    for (time, write) in &run(records.clone(), None).writes {
        if let Some(value) = &write.value {
            let n: u64 = value.parse().unwrap_or(0);
            assert!(n < 1_000, "{} = {value} at {time}", write.key);
        }
    }
    check_records("late record", records);
}

#[test]
fn a_republish_mid_run_restores_an_emptied_store_and_changes_nothing_else() {
    for seed in 0..5 {
        let name = format!("seed {seed}");
        let records = arrivals(seed, 500);
        let undisturbed = run(records.clone(), None);
        let republished = run(records.clone(), Some(250));
        let from = republished.requested_at;
        // The writes of the republish come first after the request, then those of a run
        // without it.
        let extra = (republished.writes.len())
            .checked_sub(undisturbed.writes.len())
            .expect("a republish only adds writes");
        let (before, rest) = republished.writes.split_at(from);
        let (again, after) = rest.split_at(extra);
        assert!(
            !again.is_empty(),
            "{name}: the republish wrote nothing: request it later"
        );
        assert!(again.iter().all(|(_, w)| w.value.is_some()), "{name}");
        let without: Vec<_> = before.iter().chain(after).cloned().collect();
        assert_eq!(without, undisturbed.writes, "{name}: other writes changed");
        // A store emptied just before the request holds the right values from then on.
        check_store(&name, &records, &republished.effective, rest);
    }
}
