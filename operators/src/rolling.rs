//! Incremental rolling windows per key.
//!
//! Each key keeps one log of its records, ordered by (event time, event id), covering the longest
//! window, with their strings interned in the operator's [`Symbols`]; and for every window an
//! [`Aggregate`] that records enter when they become effective and leave when the window's start
//! passes them. Work per record is a few ordered-map operations per window, whatever the window
//! length or the emission rate; the keys are revisited only when a record arrives or the oldest
//! record of one of their windows expires.

use serde::{Deserialize, Serialize};
use timely::dataflow::StreamVec;
use timely::ExchangeData;

use crate::changes::{store_key, FeatureWrite, KeyMap, Keyed, Rendered, Written};
use crate::checkpoint::{Control, PartStats};
use crate::count::decrement;
use crate::driver::{emission_operator, queue_due, KeyedLogic, Schedule, Shared, Timers};
use crate::late::LateCounter;
use crate::log::Log;
use crate::symbols::Symbols;
use crate::time::{ceil_to, Millis, Order};

/// One window: its name in feature keys (`5m`) and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Suffix of the feature keys, e.g. `5m`.
    pub name: String,
    /// Window length in milliseconds.
    pub length: Millis,
}

/// What a rolling-window operator computes and how it names and expires the results.
#[derive(Clone, Debug)]
pub struct RollingConfig {
    /// Key prefix, e.g. `user`: keys are `<prefix>:<key>:<feature>_<window>`.
    pub prefix: String,
    /// Feature names, in the order [`Aggregate::render`] fills them.
    pub features: Vec<String>,
    /// The windows.
    pub windows: Vec<WindowSpec>,
    /// Emission interval in milliseconds.
    pub interval: Millis,
    /// Store expiry beyond the window length, a safety net should the job die.
    pub grace: Millis,
}

/// An incrementally maintained aggregate over the records of one key's window.
pub trait Aggregate: 'static {
    /// What every window's aggregate is built from (the features to compute), shared by all.
    type Spec: Clone + 'static;
    /// The lane payload of one record, as it travels between workers.
    type Entry: ExchangeData;
    /// The payload as the window holds it: strings replaced by [`Sym`]s of the operator's table.
    type Stored: 'static;

    /// An empty aggregate.
    fn new(spec: &Self::Spec) -> Self;

    /// Converts an arriving payload to its held form, interning its strings.
    fn store(entry: Self::Entry, symbols: &mut Symbols) -> Self::Stored;

    /// The payload a held record was stored from, for checkpoints.
    fn unstore(stored: &Self::Stored, symbols: &Symbols) -> Self::Entry;

    /// Releases the strings of a payload that leaves the state.
    fn release(stored: &Self::Stored, symbols: &mut Symbols);

    /// A record enters the window.
    fn insert(&mut self, order: Order, entry: &Self::Stored);

    /// A record leaves the window. Records leave in (event time, event id) order.
    fn remove(&mut self, order: Order, entry: &Self::Stored);

    /// Renders each feature's current value into `values` (slots in [`RollingConfig::features`]
    /// order; a slot left untouched is a feature without a value). Only called for a non-empty
    /// window.
    fn render(&self, window: WindowLog<'_, Self::Stored>, symbols: &Symbols, values: &mut Rendered);
}

/// Read access to the records of one window, for features that need the latest records.
pub struct WindowLog<'a, E> {
    log: &'a Log<E>,
    /// The index of the window's oldest record in the log.
    from: usize,
}

impl<'a, E> WindowLog<'a, E> {
    /// The window's records, latest first.
    pub fn latest_first(self) -> impl Iterator<Item = (Order, &'a E)> + 'a {
        self.log.range(self.from..self.log.len()).rev()
    }
}

struct Window<A> {
    aggregate: A,
    len: u64,
    /// Records at or before this time are not in the aggregate: they have left the window, or
    /// arrived after the window had passed them and never entered it.
    start: Millis,
    dirty: bool,
    written: Written,
}

impl<A: Aggregate> Window<A> {
    /// Moves the window's start up to `start`, taking out of the aggregate the records it
    /// passes. Every record of `log` later than the old start is in the aggregate, so only
    /// records that entered it leave it, whatever order they arrived in.
    fn slide(&mut self, start: Millis, log: &Log<A::Stored>) {
        if start <= self.start {
            return;
        }
        let leaving = log.after(self.start)..log.after(start);
        for (order, entry) in log.range(leaving) {
            self.aggregate.remove(order, entry);
            decrement(&mut self.len);
            self.dirty = true;
        }
        self.start = start;
    }
}

/// One key's state in a checkpoint: its records, and per window its start and what was last
/// written. The aggregates are rebuilt from the records on restore.
#[derive(Serialize, Deserialize)]
pub struct SavedKey<E> {
    log: Vec<(Order, E)>,
    windows: Vec<(Millis, Written)>,
    schedule: Schedule,
}

struct KeyState<A: Aggregate> {
    log: Log<A::Stored>,
    /// Records of the current emission, not placed yet.
    pending: Vec<(Order, A::Entry)>,
    windows: Vec<Window<A>>,
    schedule: Schedule,
}

impl<A: Aggregate> KeyState<A> {
    fn new(windows: usize, spec: &A::Spec) -> Self {
        KeyState {
            log: Log::default(),
            pending: Vec::new(),
            windows: (0..windows)
                .map(|_| Window {
                    aggregate: A::new(spec),
                    len: 0,
                    start: 0,
                    dirty: false,
                    written: Written::default(),
                })
                .collect(),
            schedule: Schedule::default(),
        }
    }
}

struct Rolling<A: Aggregate> {
    config: RollingConfig,
    spec: A::Spec,
    longest: Millis,
    keys: KeyMap<KeyState<A>>,
    symbols: Symbols,
    touched: Vec<String>,
    values: Rendered,
    late: LateCounter,
}

impl<A: Aggregate> Rolling<A> {
    /// Takes a record effective at `now`; it is placed when its key is advanced, in the same
    /// emission, together with the key's other records of that emission.
    fn insert(&mut self, now: Millis, record: Keyed<A::Entry>) {
        // Already past every window: it counts nowhere, and says so.
        if record.time.saturating_add(self.longest) <= now {
            self.late.record();
            return;
        }
        let windows = self.config.windows.len();
        let state = match self.keys.get_mut(&record.key) {
            Some(state) => state,
            None => self
                .keys
                .entry(record.key.clone())
                .or_insert_with(|| KeyState::new(windows, &self.spec)),
        };
        state.pending.push((record.order(), record.entry));
        if state.schedule.queue(now) {
            self.touched.push(record.key);
        }
    }

    /// Places the records of `state` that arrived for the emission at `now`: in the log, and in
    /// the aggregate of every window that has not passed them yet. They are merged as one
    /// sorted batch, so that a record arriving out of order moves only the records newer than
    /// the batch, once per emission, rather than the log's tail once per record.
    fn place(config: &RollingConfig, symbols: &mut Symbols, state: &mut KeyState<A>, now: Millis) {
        if state.pending.is_empty() {
            return;
        }
        for (window, spec) in state.windows.iter_mut().zip(&config.windows) {
            // Bring the window to `now` first: a record it has already passed must not enter,
            // or it would later leave a second time.
            window.slide(now.saturating_sub(spec.length), &state.log);
        }
        state.pending.sort_by_key(|(order, _)| *order);
        let windows = &mut state.windows;
        // The same event delivered twice counts once: `merge` skips orders it holds.
        state.log.merge(state.pending.drain(..), |order, entry| {
            let stored = A::store(entry, symbols);
            for window in windows.iter_mut() {
                if order.0 > window.start {
                    window.aggregate.insert(order, &stored);
                    window.len += 1;
                    window.dirty = true;
                }
            }
            crate::gauge::add(1);
            stored
        });
    }

    fn advance(
        &mut self,
        now: Millis,
        key: &str,
        timers: &mut Timers,
        out: &mut Vec<FeatureWrite>,
    ) {
        let Some(state) = self.keys.get_mut(key) else {
            return;
        };
        let config = &self.config;
        Self::place(config, &mut self.symbols, state, now);
        let mut next_expiry: Option<Millis> = None;
        for (window, spec) in state.windows.iter_mut().zip(&config.windows) {
            window.slide(now.saturating_sub(spec.length), &state.log);
            let refresh_every = spec.length / 2;
            if window.dirty || window.written.refresh_due(now, refresh_every) {
                window.dirty = false;
                self.values.reset(config.features.len());
                if window.len > 0 {
                    let view = WindowLog {
                        log: &state.log,
                        from: state.log.after(window.start),
                    };
                    window
                        .aggregate
                        .render(view, &self.symbols, &mut self.values);
                }
                let ttl_ms = spec.length + config.grace;
                window
                    .written
                    .update(now, refresh_every, &self.values, |feature, value| {
                        out.push(FeatureWrite {
                            key: feature_key(config, key, feature, spec),
                            value: value.map(str::to_string),
                            ttl_ms,
                            keep_expiry: false,
                        })
                    });
            }
            if window.len > 0 {
                let oldest = state.log.time_at(state.log.after(window.start));
                if let Some(oldest) = oldest {
                    let expiry = ceil_to(oldest + spec.length, config.interval);
                    next_expiry = Some(next_expiry.map_or(expiry, |e| e.min(expiry)));
                }
            }
        }
        let log_start = now.saturating_sub(self.longest);
        while state.log.time_at(0).is_some_and(|t| t <= log_start) {
            if let Some((_, stored)) = state.log.pop_front() {
                A::release(&stored, &mut self.symbols);
            }
            crate::gauge::add(-1);
        }
        match next_expiry {
            Some(expiry) => {
                state.schedule.arm(expiry, key, timers);
            }
            None => {
                if state.windows.iter().all(|w| w.written.is_empty()) {
                    self.keys.remove(key);
                }
            }
        }
    }
}

/// The store key of `feature` of `window` for `key`: `<prefix>:<key>:<feature>_<window>`.
fn feature_key(config: &RollingConfig, key: &str, feature: usize, window: &WindowSpec) -> String {
    let parts = [
        config.prefix.as_str(),
        ":",
        key,
        ":",
        config.features[feature].as_str(),
        "_",
        window.name.as_str(),
    ];
    store_key(&parts)
}

impl<A: Aggregate> KeyedLogic for Rolling<A> {
    type Entry = A::Entry;
    type Saved = SavedKey<A::Entry>;

    fn save(&self, save: &mut dyn FnMut(&str, Self::Saved)) {
        for (key, state) in &self.keys {
            let saved = SavedKey {
                log: state
                    .log
                    .iter()
                    .map(|(order, stored)| (order, A::unstore(stored, &self.symbols)))
                    .collect(),
                windows: state
                    .windows
                    .iter()
                    .map(|w| (w.start, w.written.clone()))
                    .collect(),
                schedule: state.schedule,
            };
            save(key, saved);
        }
    }

    fn load(&mut self, key: String, saved: Self::Saved) {
        let mut state = KeyState::<A>::new(self.config.windows.len(), &self.spec);
        for ((window, (start, written)), _) in state
            .windows
            .iter_mut()
            .zip(saved.windows)
            .zip(&self.config.windows)
        {
            window.start = start;
            window.written = written;
        }
        for (order, entry) in saved.log {
            let stored = A::store(entry, &mut self.symbols);
            for window in state.windows.iter_mut() {
                if order.0 > window.start {
                    window.aggregate.insert(order, &stored);
                    window.len += 1;
                }
            }
            state.log.push_back(order, stored);
            crate::gauge::add(1);
        }
        state.schedule = saved.schedule;
        self.keys.insert(key, state);
    }

    fn stats(&self) -> PartStats {
        PartStats {
            keys: self.keys.len() as u64,
            records: self.keys.values().map(|s| s.log.len() as u64).sum(),
            ..PartStats::default()
        }
    }

    fn emit(
        &mut self,
        now: Millis,
        records: Vec<Keyed<A::Entry>>,
        due: Vec<String>,
        timers: &mut Timers,
        out: &mut Vec<FeatureWrite>,
    ) {
        for record in records {
            self.insert(now, record);
        }
        let mut touched = std::mem::take(&mut self.touched);
        queue_due(&mut self.keys, now, due, &mut touched, |s| &mut s.schedule);
        for key in touched.drain(..) {
            self.advance(now, &key, timers, out);
        }
        self.touched = touched;
    }

    /// Every window's written values: the store holds exactly those, each written (or
    /// refreshed) within its expiry.
    fn republish(&self, _now: Millis, out: &mut Vec<FeatureWrite>) {
        for (key, state) in &self.keys {
            for (window, spec) in state.windows.iter().zip(&self.config.windows) {
                for (feature, value) in window.written.present() {
                    out.push(FeatureWrite {
                        key: feature_key(&self.config, key, feature, spec),
                        value: Some(value.to_string()),
                        ttl_ms: spec.length + self.config.grace,
                        keep_expiry: false,
                    });
                }
            }
        }
    }
}

/// Computes the rolling-window features of `A` over `records`, keyed and exchanged by
/// [`Keyed::key`], every window's aggregate built from `spec`. `control` carries the end of a bounded input and checkpoint requests;
/// `shared` says where state is saved and restored from, and asks for every value again when
/// the store has lost them.
pub fn rolling<'s, A: Aggregate>(
    records: StreamVec<'s, u64, Keyed<A::Entry>>,
    control: StreamVec<'s, u64, Control>,
    config: RollingConfig,
    spec: A::Spec,
    name: &str,
    shared: Shared,
) -> StreamVec<'s, u64, FeatureWrite> {
    let interval = config.interval;
    let longest = config.windows.iter().map(|w| w.length).max().unwrap_or(0);
    let logic = Rolling::<A> {
        config,
        spec,
        longest,
        keys: KeyMap::default(),
        symbols: Symbols::default(),
        touched: Vec::new(),
        values: Rendered::default(),
        late: LateCounter::register(name),
    };
    emission_operator(records, control, interval, name, logic, shared)
}
