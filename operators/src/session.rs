//! Session windows per key: a session is a maximal run of a key's records whose consecutive gaps
//! are at most the gap. Open sessions publish changed values at every emission; a session closes
//! when the watermark passes its last record plus the gap, and its final values are written then
//! with the retention expiry.

use timely::dataflow::StreamVec;
use timely::ExchangeData;

use crate::changes::{store_key, FeatureWrite, KeyMap, Keyed, Rendered, Written};
use crate::driver::{emission_operator, queue_due, KeyedLogic, Schedule, Timers};
use crate::log::Log;
use crate::symbols::Symbols;
use crate::time::{ceil_to, Millis, Order};

/// What a session operator computes and how it names and expires the results.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Key prefix, e.g. `session`: keys are `<prefix>:<key>:<feature>`.
    pub prefix: String,
    /// Feature names, in the order [`SessionFeatures::render`] fills them.
    pub features: Vec<String>,
    /// Largest gap between consecutive records of one session.
    pub gap: Millis,
    /// Emission interval in milliseconds.
    pub interval: Millis,
    /// How long a closed session's values stay in the store.
    pub retention: Millis,
}

/// The features of one session, folded over its records in (event time, event id) order.
pub trait SessionFeatures: Default + 'static {
    /// The lane payload of one record, as it travels between workers.
    type Entry: ExchangeData;
    /// The payload as the session holds it: strings replaced by [`Sym`](crate::symbols::Sym)s
    /// of the operator's table.
    type Stored: 'static;
    /// What the features need of the records folded so far. It may refer to the symbols of the
    /// records it folded, which stay held while the state exists.
    type State: Default + 'static;

    /// Converts an arriving payload to its held form, interning its strings.
    fn store(entry: Self::Entry, symbols: &mut Symbols) -> Self::Stored;

    /// Releases the strings of a payload that leaves the state.
    fn release(stored: &Self::Stored, symbols: &mut Symbols);

    /// Folds the next record (later in the order than every record folded before) into `state`.
    fn add(&self, state: &mut Self::State, order: Order, entry: &Self::Stored);

    /// Renders each feature's value for a session of at least one record into `values` (a slot
    /// left untouched is a feature without a value).
    fn render(&self, state: &Self::State, symbols: &Symbols, values: &mut Rendered);
}

struct KeyState<E, S> {
    log: Log<E>,
    /// The fold of the first run up to `folded_to`, while records keep arriving in order;
    /// dropped (and rebuilt from `records`) when one arrives out of order.
    state: Option<(S, Order)>,
    written: Written,
    dirty: bool,
    schedule: Schedule,
}

impl<E, S> Default for KeyState<E, S> {
    fn default() -> Self {
        KeyState {
            log: Log::default(),
            state: None,
            written: Written::default(),
            dirty: false,
            schedule: Schedule::default(),
        }
    }
}

struct Sessions<S: SessionFeatures> {
    config: SessionConfig,
    features: S,
    keys: KeyMap<KeyState<S::Stored, S::State>>,
    symbols: Symbols,
    touched: Vec<String>,
    values: Rendered,
}

impl<S: SessionFeatures> Sessions<S> {
    fn write(
        &mut self,
        now: Millis,
        key: &str,
        run: std::ops::Range<usize>,
        closing: bool,
        out: &mut Vec<FeatureWrite>,
    ) {
        let Some(state) = self.keys.get_mut(key) else {
            return;
        };
        let config = &self.config;
        let features = &self.features;
        let Some(&(last, _)) = run
            .end
            .checked_sub(1)
            .and_then(|i| state.log.records.get(i))
        else {
            return;
        };
        let current = match &state.state {
            Some((_, folded_to)) if !closing && *folded_to == last => state.state.as_ref(),
            _ => {
                let mut fresh = S::State::default();
                for (order, entry) in state.log.records.range(run) {
                    features.add(&mut fresh, *order, entry);
                }
                state.state = Some((fresh, last));
                state.state.as_ref()
            }
        };
        self.values.reset(config.features.len());
        if let Some((current, _)) = current {
            features.render(current, &self.symbols, &mut self.values);
        }
        let (ttl_ms, refresh_every) = if closing {
            (config.retention, 0)
        } else {
            (config.gap + config.retention, config.gap / 2)
        };
        state
            .written
            .update(now, refresh_every, &self.values, |feature, value| {
                let parts = [
                    config.prefix.as_str(),
                    ":",
                    key,
                    ":",
                    config.features[feature].as_str(),
                ];
                out.push(FeatureWrite {
                    key: store_key(&parts),
                    value: value.map(str::to_string),
                    ttl_ms,
                })
            });
    }

    fn advance(
        &mut self,
        now: Millis,
        key: &str,
        timers: &mut Timers,
        out: &mut Vec<FeatureWrite>,
    ) {
        let gap = self.config.gap;
        loop {
            let Some(state) = self.keys.get(key) else {
                return;
            };
            let Some(&(first, _)) = state.log.records.front() else {
                break;
            };
            // The first run ends where the next record is more than the gap later.
            let mut last = first;
            let mut end = 0;
            for (order, _) in &state.log.records {
                if order.0 > last.0 + gap {
                    break;
                }
                last = *order;
                end += 1;
            }
            if now > last.0 + gap {
                self.write(now, key, 0..end, true, out);
                if let Some(state) = self.keys.get_mut(key) {
                    for (_, stored) in state.log.records.drain(..end) {
                        S::release(&stored, &mut self.symbols);
                    }
                    crate::gauge::add(-(end as i64));
                    state.state = None;
                    state.written.clear();
                    state.dirty = true;
                }
                continue;
            }
            let dirty = state.dirty || state.written.refresh_due(now, gap / 2);
            if dirty {
                self.write(now, key, 0..end, false, out);
            }
            if let Some(state) = self.keys.get_mut(key) {
                state.dirty = false;
                let close = ceil_to(last.0 + gap + 1, self.config.interval);
                state.schedule.arm(close, key, timers);
            }
            return;
        }
        self.keys.remove(key);
    }
}

impl<S: SessionFeatures> KeyedLogic for Sessions<S> {
    type Entry = S::Entry;

    fn emit(
        &mut self,
        now: Millis,
        records: Vec<Keyed<S::Entry>>,
        due: Vec<String>,
        timers: &mut Timers,
        out: &mut Vec<FeatureWrite>,
    ) {
        for record in records {
            let order = record.order();
            let state = match self.keys.get_mut(&record.key) {
                Some(state) => state,
                None => self.keys.entry(record.key.clone()).or_default(),
            };
            // The same event delivered twice counts once.
            let Some(slot) = state.log.slot(order) else {
                continue;
            };
            let stored = S::store(record.entry, &mut self.symbols);
            match state.state.as_mut() {
                Some((folded, folded_to))
                    if order > *folded_to && order.0 <= folded_to.0 + self.config.gap =>
                {
                    self.features.add(folded, order, &stored);
                    *folded_to = order;
                }
                _ => state.state = None,
            }
            state.log.insert_at(slot, order, stored);
            crate::gauge::add(1);
            state.dirty = true;
            if state.schedule.queue(now) {
                self.touched.push(record.key);
            }
        }
        let mut touched = std::mem::take(&mut self.touched);
        queue_due(&mut self.keys, now, due, &mut touched, |s| &mut s.schedule);
        for key in touched.drain(..) {
            self.advance(now, &key, timers, out);
        }
        self.touched = touched;
    }
}

/// Computes the session features of `S` over `records`, keyed and exchanged by [`Keyed::key`].
/// `ends` carries the largest event time of each source when a bounded input ends.
pub fn sessions<'s, S: SessionFeatures>(
    records: StreamVec<'s, u64, Keyed<S::Entry>>,
    ends: StreamVec<'s, u64, Millis>,
    config: SessionConfig,
    name: &str,
) -> StreamVec<'s, u64, FeatureWrite> {
    let interval = config.interval;
    let logic = Sessions::<S> {
        config,
        features: S::default(),
        keys: KeyMap::default(),
        symbols: Symbols::default(),
        touched: Vec::new(),
        values: Rendered::default(),
    };
    emission_operator(records, ends, interval, name, logic)
}
