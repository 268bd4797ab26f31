//! Checkpoints of the window operators: a run that saves its state at a random point and a run
//! restored from that state, fed the records that came after it, must write exactly what the
//! uninterrupted run writes from that point on, at every emission, whatever the number of
//! workers before and after. Inputs have a hot key, ties, duplicates, disorder and records
//! later than every window, so that the saved state holds records waiting for an emission,
//! timers, closed sessions and values written long ago.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use operators::changes::Rendered;
use operators::checkpoint::{Checkpointing, Control, PartStats, StateStore};
use operators::count::decrement;
use operators::driver::Shared;
use operators::republish::Republish;
use operators::rolling::{rolling, Aggregate, RollingConfig, WindowLog, WindowSpec};
use operators::session::{sessions, SessionConfig, SessionFeatures};
use operators::symbols::{Sym, Symbols};
use operators::{FeatureWrite, Keyed, Millis, Order};
use timely::dataflow::operators::{Concatenate, Inspect, Probe};
use timely::dataflow::{InputHandleVec, ProbeHandle};

const INTERVAL: Millis = 1_000;
const LATENESS: Millis = 2_000;
const SHORT: Millis = 60_000;
const LONG: Millis = 300_000;
const GAP: Millis = 90_000;

/// Count, sum and the latest value of a window; the values go through the symbol table, so
/// that restoring has to rebuild it.
#[derive(Default)]
struct Toy {
    count: u64,
    sum: u64,
}

impl Aggregate for Toy {
    type Spec = ();
    type Entry = String;
    type Stored = Sym;

    fn new(_spec: &()) -> Self {
        Self::default()
    }

    fn store(entry: String, symbols: &mut Symbols) -> Sym {
        symbols.intern(&entry)
    }

    fn unstore(stored: &Sym, symbols: &Symbols) -> String {
        symbols.text(*stored).to_string()
    }

    fn release(stored: &Sym, symbols: &mut Symbols) {
        symbols.release(*stored);
    }

    fn insert(&mut self, _order: Order, _value: &Sym) {
        self.count += 1;
        self.sum += 1;
    }

    fn remove(&mut self, _order: Order, _value: &Sym) {
        decrement(&mut self.count);
        self.sum -= 1;
    }

    fn render(&self, window: WindowLog<'_, Sym>, symbols: &Symbols, values: &mut Rendered) {
        values.set(0, self.count);
        values.set(1, self.sum);
        if let Some((_, latest)) = window.latest_first().next() {
            values.set(2, symbols.text(*latest));
        }
    }
}

/// A session's records in order, listed.
#[derive(Default)]
struct Listing;

impl SessionFeatures for Listing {
    type Entry = String;
    type State = BTreeMap<Order, Sym>;
    type Saved = Vec<(Order, String)>;

    fn insert(&self, state: &mut Self::State, order: Order, entry: String, symbols: &mut Symbols) {
        state.insert(order, symbols.intern(&entry));
    }

    fn merge(&self, mut a: Self::State, b: Self::State, _symbols: &mut Symbols) -> Self::State {
        a.extend(b);
        a
    }

    fn save(&self, state: &Self::State, symbols: &Symbols) -> Self::Saved {
        state
            .iter()
            .map(|(&o, &s)| (o, symbols.text(s).to_string()))
            .collect()
    }

    fn load(&self, saved: Self::Saved, symbols: &mut Symbols) -> Self::State {
        saved
            .into_iter()
            .map(|(o, text)| (o, symbols.intern(&text)))
            .collect()
    }

    fn release(&self, state: Self::State, symbols: &mut Symbols) {
        for sym in state.into_values() {
            symbols.release(sym);
        }
    }

    fn render(&self, state: &Self::State, symbols: &Symbols, values: &mut Rendered) {
        let listed: Vec<String> = state
            .iter()
            .map(|((t, id), s)| format!("{t}/{id}={}", symbols.text(*s)))
            .collect();
        values.set(0, state.len());
        values.set(1, listed.join(","));
    }
}

/// SplitMix64: the same inputs on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// Records in arrival order: a hot key, quiet spells longer than the gap, ties on a 500 ms
/// grain, disorder within and beyond the lateness, records older than every window, copies.
fn arrivals(seed: u64, n: usize) -> Vec<Keyed<String>> {
    let mut rng = Rng(seed);
    let mut timed = Vec::new();
    let mut time: Millis = 1_767_225_600_000;
    for i in 0..n {
        time += if rng.below(50) == 0 {
            2 * GAP
        } else {
            rng.below(3_000)
        };
        let key = if rng.below(2) == 0 {
            "hot".to_string()
        } else {
            format!("k{}", rng.below(20))
        };
        let record = Keyed {
            key,
            time: time - time % 500,
            id: i as u128,
            entry: format!("v{}", rng.below(7)),
        };
        let delay = match rng.below(100) {
            0..=84 => rng.below(LATENESS),
            85..=94 => SHORT + rng.below(LONG),
            _ => LONG + rng.below(LONG),
        };
        let copy = rng.below(30) == 0;
        timed.push((record.time + delay, i, record.clone()));
        if copy {
            timed.push((record.time + delay + rng.below(LONG), i, record));
        }
    }
    timed.sort_by_key(|(at, i, _)| (*at, *i));
    timed.into_iter().map(|(_, _, r)| r).collect()
}

/// Parts saved by the workers of a run, and handed to the workers of the next.
#[derive(Clone, Default)]
struct Parts(Arc<Mutex<PartMap>>);

/// Parts by (operator, worker).
type PartMap = BTreeMap<(String, usize), Vec<u8>>;

struct Store {
    parts: Parts,
    restore: Parts,
    worker: usize,
}

impl StateStore for Store {
    fn restore(&self, name: &str) -> Vec<Arc<Vec<u8>>> {
        let parts = self.restore.0.lock().expect("parts");
        parts
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, bytes)| Arc::new(bytes.clone()))
            .collect()
    }

    fn save(&self, _id: u64, name: &str, part: Vec<u8>, _stats: PartStats) {
        let mut parts = self.parts.0.lock().expect("parts");
        parts.insert((name.to_string(), self.worker), part);
    }
}

/// Where the source was when the checkpoint was asked for: the dataflow time, the largest
/// event time read before it, from which the watermark goes on, and the first record stamped
/// at or after it, from which the records are replayed.
#[derive(Clone, Copy, Debug, Default)]
struct SourceState {
    time: Millis,
    largest: Millis,
    replay_from: usize,
}

type Writes = Arc<Mutex<Vec<(Millis, FeatureWrite)>>>;

/// Feeds `records` into both operators on `peers` workers (worker 0 reads them all), from
/// `start` and with the state of `restore`. With `checkpoint_after`, asks for a checkpoint
/// after that many records and returns the source's state then.
fn drive(
    peers: usize,
    records: Vec<Keyed<String>>,
    start: SourceState,
    restore: Parts,
    checkpoint_after: Option<usize>,
) -> (Vec<(Millis, FeatureWrite)>, Parts, SourceState) {
    let writes: Writes = Arc::default();
    let saved = Parts::default();
    let cut = Arc::new(Mutex::new(SourceState::default()));
    let (w, s, c) = (writes.clone(), saved.clone(), cut.clone());
    timely::execute(timely::Config::process(peers), move |worker| {
        let (index, peers) = (worker.index(), worker.peers());
        let store = Store {
            parts: s.clone(),
            restore: restore.clone(),
            worker: index,
        };
        let shared = Shared {
            checkpointing: Checkpointing::new(std::rc::Rc::new(store), index, peers),
            republish: Republish::new(),
        };
        let mut input = InputHandleVec::new();
        let mut control = InputHandleVec::new();
        let probe = ProbeHandle::new();
        let sink = w.clone();
        worker.dataflow(|scope| {
            let records = input.to_stream(scope);
            let control = control.to_stream(scope);
            let rolled = rolling::<Toy>(
                records.clone(),
                control.clone(),
                RollingConfig {
                    prefix: "user".into(),
                    features: ["count", "sum", "latest"].map(String::from).to_vec(),
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
                },
                (),
                "Rolling",
                shared.clone(),
            );
            let sessioned = sessions::<Listing>(
                records,
                control,
                SessionConfig {
                    prefix: "session".into(),
                    features: ["events", "listing"].map(String::from).to_vec(),
                    gap: GAP,
                    interval: INTERVAL,
                    retention: GAP,
                },
                Listing,
                "Sessions",
                shared,
            );
            scope
                .concatenate([rolled, sessioned])
                .inspect_core(move |event| {
                    if let Ok((stamp, data)) = event {
                        let time = stamp.least().copied().unwrap_or_default();
                        let mut sink = sink.lock().expect("writes");
                        sink.extend(data.iter().map(|w| (time, w.clone())));
                    }
                })
                .probe_with(&probe);
        });
        if index != 0 {
            drop((input, control));
            while worker.step() {}
            return;
        }
        input.advance_to(start.time);
        control.advance_to(start.time);
        let mut largest = start.largest;
        // The source's state when its input time last moved: what a checkpoint at the
        // current time holds.
        let mut since = SourceState {
            time: start.time,
            largest,
            replay_from: 0,
        };
        for (i, record) in records.iter().enumerate() {
            if checkpoint_after == Some(i) {
                control.send(Control::Checkpoint {
                    id: 1,
                    at: *input.time(),
                });
                *c.lock().expect("cut") = since;
            }
            largest = largest.max(record.time);
            input.send(record.clone());
            let next = largest.saturating_sub(LATENESS);
            let next = next - next % INTERVAL + 1;
            if next > *input.time() {
                input.advance_to(next);
                control.advance_to(next);
                since = SourceState {
                    time: next,
                    largest,
                    replay_from: i + 1,
                };
            }
            worker.step();
        }
        control.send(Control::End(largest));
        drop((input, control));
        while worker.step() {}
    })
    .expect("timely runs");
    let writes = writes.lock().expect("writes").clone();
    let cut = *cut.lock().expect("cut");
    (writes, saved, cut)
}

/// Writes by emission, each emission's in key order (workers interleave them).
fn by_emission(
    writes: &[(Millis, FeatureWrite)],
    from: Millis,
) -> BTreeMap<Millis, Vec<FeatureWrite>> {
    let mut by: BTreeMap<Millis, Vec<FeatureWrite>> = BTreeMap::new();
    for (time, write) in writes.iter().filter(|(t, _)| *t >= from) {
        by.entry(*time).or_default().push(write.clone());
    }
    for writes in by.values_mut() {
        writes.sort();
    }
    by
}

fn check(seed: u64, before: usize, after: usize) {
    let records = arrivals(seed, 1_500);
    let mut rng = Rng(seed ^ 0xc0ffee);
    let cut = 100 + rng.below(1_200) as usize;
    let (full, parts, state) = drive(
        before,
        records.clone(),
        SourceState::default(),
        Parts::default(),
        Some(cut),
    );
    let stored = parts.0.lock().expect("parts").len();
    assert_eq!(
        stored,
        2 * before,
        "seed {seed}: every operator of every worker saves a part"
    );
    let replay = records[state.replay_from..].to_vec();
    let (resumed, _, _) = drive(after, replay, state, parts, None);
    let expected = by_emission(&full, state.time);
    let got = by_emission(&resumed, state.time);
    assert!(
        !expected.is_empty(),
        "seed {seed}: the run goes on after the checkpoint"
    );
    for (time, writes) in &expected {
        assert_eq!(
            got.get(time),
            Some(writes),
            "seed {seed}, {before} -> {after} workers, cut after {cut} records: emission {time} differs"
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "seed {seed}: the same emissions write"
    );
}

#[test]
fn a_restored_run_writes_what_the_uninterrupted_one_does() {
    for seed in 0..8 {
        check(seed, 1, 1);
    }
}

#[test]
fn state_moves_to_its_keys_new_workers_when_the_worker_count_changes() {
    for (seed, (before, after)) in [(1, 2), (2, 1), (2, 3), (3, 2)].into_iter().enumerate() {
        check(100 + seed as u64, before, after);
    }
}
