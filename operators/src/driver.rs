//! The emission driver shared by the window operators: it holds records until their emission
//! time, fires emissions in event-time order once the watermark (the timely frontier) has passed
//! them, keeps per-key timers, makes the last emission when a bounded input ends, and saves and
//! restores the operator's state for checkpoints.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;
use timely::ExchangeData;

use crate::changes::{route, FeatureWrite, KeyMap, Keyed};
use crate::checkpoint::{Checkpointing, Control, PartReader, PartStats, PartWriter};
use crate::republish::Republish;
use crate::time::{ceil_to, effective_emission, Millis};

/// Timers per emission time: the keys to look at again then.
pub type Timers = BTreeMap<Millis, Vec<String>>;

/// When a key is next looked at: the emission that queued it last, and its pending timer.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Schedule {
    queued_at: Option<Millis>,
    timer: Option<Millis>,
}

impl Schedule {
    /// Queues the key for the emission at `now`; false if it already is.
    pub fn queue(&mut self, now: Millis) -> bool {
        let fresh = self.queued_at != Some(now);
        self.queued_at = Some(now);
        fresh
    }

    /// Asks for the key to be looked at again at `at`, unless that is already arranged.
    pub fn arm(&mut self, at: Millis, key: &str, timers: &mut Timers) {
        if self.timer != Some(at) {
            timers.entry(at).or_default().push(key.to_string());
            self.timer = Some(at);
        }
    }
}

/// Adds the keys of `due` timers to `queued` (each key once per emission) and marks the timers
/// of every queued key that fire at `now` as spent.
pub fn queue_due<S>(
    keys: &mut KeyMap<S>,
    now: Millis,
    due: Vec<String>,
    queued: &mut Vec<String>,
    schedule: impl Fn(&mut S) -> &mut Schedule,
) {
    for key in due {
        if let Some(state) = keys.get_mut(&key) {
            if schedule(state).queue(now) {
                queued.push(key);
            }
        }
    }
    for key in queued.iter() {
        if let Some(state) = keys.get_mut(key) {
            let schedule = schedule(state);
            if schedule.timer == Some(now) {
                schedule.timer = None;
            }
        }
    }
}

/// Per-key window logic driven by [`emission_operator`].
pub trait KeyedLogic: 'static {
    /// The lane payload of the records.
    type Entry: ExchangeData;
    /// One key's state as a checkpoint holds it: plain data, strings rather than symbols.
    type Saved: Serialize + DeserializeOwned;

    /// Runs the emission at `now`: applies `records` (all effective at `now`, in arrival order),
    /// looks again at the keys of `due` timers, pushes changed features to `out`, and registers
    /// future timers in `timers` (times strictly after `now`).
    fn emit(
        &mut self,
        now: Millis,
        records: Vec<Keyed<Self::Entry>>,
        due: Vec<String>,
        timers: &mut Timers,
        out: &mut Vec<FeatureWrite>,
    );

    /// Hands every key's state to `save`, between emissions.
    fn save(&self, save: &mut dyn FnMut(&str, Self::Saved));

    /// Takes back a key's state saved by [`KeyedLogic::save`], before the first emission.
    fn load(&mut self, key: String, saved: Self::Saved);

    /// Keys and records held.
    fn stats(&self) -> PartStats;

    /// Pushes to `out` every value that a fault-free store holds for the operator's keys after
    /// its last emission, at `now`, so that a store that lost its contents gets them back.
    /// Changes no state: later emissions stay what they would have been.
    fn republish(&self, now: Millis, out: &mut Vec<FeatureWrite>);
}

/// What the window operators of one worker share: where their state is saved and restored
/// from, and the sink's requests to write every current value again.
#[derive(Clone)]
pub struct Shared {
    /// Checkpoints.
    pub checkpointing: Checkpointing,
    /// Republish requests.
    pub republish: Republish,
}

impl Shared {
    /// Neither checkpoints nor republishing, for worker `index` of `peers`.
    pub fn plain(index: usize, peers: usize) -> Shared {
        Shared {
            checkpointing: Checkpointing::off(index, peers),
            republish: Republish::new(),
        }
    }
}

/// The records waiting for one emission, and beside each the time it entered at (which only
/// checkpoints look at, so the records go to the emission as they are).
struct Waiting<E> {
    records: Vec<Keyed<E>>,
    entered: Vec<Millis>,
}

impl<E> Default for Waiting<E> {
    fn default() -> Self {
        Waiting {
            records: Vec::new(),
            entered: Vec::new(),
        }
    }
}

impl<E> Waiting<E> {
    fn push(&mut self, entered: Millis, record: Keyed<E>) {
        self.records.push(record);
        self.entered.push(entered);
    }
}

/// What the driver holds besides the keys' state.
struct Driver<E> {
    /// Records by the emission that first counts them.
    pending: BTreeMap<Millis, Waiting<E>>,
    timers: Timers,
    largest_time: Millis,
    /// The latest emission run: what a republish writes is as of then.
    latest_run: Millis,
    /// Checkpoints asked for and not taken yet: (time, id).
    requested: std::collections::BTreeSet<(Millis, u64)>,
    stopping: bool,
}

impl<E: ExchangeData> Driver<E> {
    /// Saves the state as of time `at`: every emission before it has run, none after, and of
    /// the records waiting for an emission only those that entered before it.
    fn save<L: KeyedLogic<Entry = E>>(
        &self,
        logic: &L,
        id: u64,
        at: Millis,
        name: &str,
        ckpt: &Checkpointing,
    ) {
        let started = std::time::Instant::now();
        let mut part = PartWriter::new();
        part.put(&self.largest_time);
        part.put(&self.latest_run);
        let pending: Vec<(Millis, &Keyed<E>)> = self
            .pending
            .iter()
            .flat_map(|(&emission, waiting)| {
                waiting
                    .records
                    .iter()
                    .zip(&waiting.entered)
                    .filter(|(_, entered)| **entered < at)
                    .map(move |(record, _)| (emission, record))
            })
            .collect();
        part.put(&(pending.len() as u64));
        for record in &pending {
            part.put(record);
        }
        let timers: Vec<(Millis, &String)> = self
            .timers
            .iter()
            .flat_map(|(&time, keys)| keys.iter().map(move |key| (time, key)))
            .collect();
        part.put(&timers);
        let mut stats = logic.stats();
        stats.records += pending.len() as u64;
        let (mut keys, mut count) = (PartWriter::new(), 0u64);
        logic.save(&mut |key, saved| {
            keys.put(&(key, saved));
            count += 1;
        });
        part.put(&count);
        part.append(keys);
        let part = part.into_bytes();
        stats.serialize_micros = started.elapsed().as_micros() as u64;
        ckpt.store.save(id, name, part, stats);
    }

    /// Restores the keys of this worker from the parts of every worker of a checkpoint.
    fn restore<L: KeyedLogic<Entry = E>>(
        &mut self,
        logic: &mut L,
        parts: &[std::sync::Arc<Vec<u8>>],
        ckpt: &Checkpointing,
    ) -> Result<(), String> {
        for part in parts {
            let mut part = PartReader::new(part);
            self.largest_time = self.largest_time.max(part.take()?);
            self.latest_run = self.latest_run.max(part.take()?);
            let pending: u64 = part.take()?;
            for _ in 0..pending {
                let (emission, record): (Millis, Keyed<E>) = part.take()?;
                if ckpt.owns(&record.key) {
                    // Entered before the checkpoint: not to be left out of any later one.
                    self.pending.entry(emission).or_default().push(0, record);
                }
            }
            let timers: Vec<(Millis, String)> = part.take()?;
            for (time, key) in timers {
                if ckpt.owns(&key) {
                    self.timers.entry(time).or_default().push(key);
                }
            }
            let keys: u64 = part.take()?;
            for _ in 0..keys {
                let (key, saved): (String, L::Saved) = part.take()?;
                if ckpt.owns(&key) {
                    logic.load(key, saved);
                }
            }
        }
        Ok(())
    }
}

/// Builds the operator: `records` are exchanged by key, `control` is broadcast, so that every
/// worker makes the last emission of a bounded input at the same time and saves its state for
/// the same checkpoints. On construction the operator restores its keys from the checkpoint
/// `shared` holds, if any. On a [`Republish`] request it runs at once and pushes every current
/// value, before any further emission.
pub fn emission_operator<'s, L: KeyedLogic>(
    records: StreamVec<'s, u64, Keyed<L::Entry>>,
    control: StreamVec<'s, u64, Control>,
    interval: Millis,
    name: &str,
    mut logic: L,
    shared: Shared,
) -> StreamVec<'s, u64, FeatureWrite> {
    let Shared {
        checkpointing,
        republish,
    } = shared;
    let scope = records.scope();
    let exchange = Exchange::new(|record: &Keyed<L::Entry>| route(&record.key));
    let name = name.to_string();
    records.binary_frontier(
        control.broadcast(),
        exchange,
        Pipeline,
        &name.clone(),
        move |capability, info| {
            republish.wake_on_request(scope.activator_for(info.address));
            let mut served = republish.generation();
            let mut held: Option<Capability<u64>> = Some(capability);
            let mut driver = Driver {
                pending: BTreeMap::new(),
                timers: Timers::new(),
                largest_time: 0,
                latest_run: 0,
                requested: Default::default(),
                stopping: false,
            };
            let parts = checkpointing.store.restore(&name);
            if let Err(e) = driver.restore(&mut logic, &parts, &checkpointing) {
                checkpointing.fail(format!("cannot restore {name} from the checkpoint: {e}"));
            }
            drop(parts);
            let mut out = Vec::new();
            move |(input, frontier), (control, control_frontier), output| {
                if republish.generation() != served {
                    served = republish.generation();
                    if let Some(cap) = held.as_ref() {
                        logic.republish(driver.latest_run, &mut out);
                        if !out.is_empty() {
                            output.session(cap).give_iterator(out.drain(..));
                        }
                    }
                }
                input.for_each_stamp(|stamp, data| {
                    let Some(&entered) = stamp.least() else {
                        return;
                    };
                    for batch in data {
                        for record in batch.drain(..) {
                            let at = effective_emission(record.time, entered, interval);
                            driver.pending.entry(at).or_default().push(entered, record);
                        }
                    }
                });
                control.for_each(|_stamp, data| {
                    for message in data.iter() {
                        match message {
                            Control::End(time) => {
                                driver.largest_time = driver.largest_time.max(*time)
                            }
                            Control::Checkpoint { id, at } => {
                                driver.requested.insert((*at, *id));
                            }
                            Control::Stop => driver.stopping = true,
                            Control::Committed { .. } => {}
                        }
                    }
                });

                let bound = frontier
                    .frontier()
                    .iter()
                    .chain(control_frontier.frontier().iter())
                    .min()
                    .copied();
                // Once every input has ended, emissions run up to the last one and no further;
                // a job that is stopping runs none beyond the frontier.
                let last_emission = ceil_to(driver.largest_time, interval);
                loop {
                    let next = match (driver.pending.keys().next(), driver.timers.keys().next()) {
                        (Some(&a), Some(&b)) => Some(a.min(b)),
                        (Some(&a), None) => Some(a),
                        (None, Some(&b)) => Some(b),
                        (None, None) => None,
                    };
                    // A checkpoint is taken once every record before it has arrived and before
                    // the first emission at or after it (also when the inputs have closed
                    // meanwhile: the emissions they allow have not run yet).
                    if let Some(&(at, id)) = driver.requested.first() {
                        let arrived = bound.is_none_or(|bound| bound >= at);
                        if arrived
                            && next
                                .is_none_or(|next| next >= at || bound.is_some_and(|b| next >= b))
                        {
                            driver.requested.remove(&(at, id));
                            driver.save(&logic, id, at, &name, &checkpointing);
                            continue;
                        }
                    }
                    let Some(next) = next else { break };
                    let ready = match bound {
                        Some(bound) => next < bound,
                        None if driver.stopping => false,
                        None => next <= last_emission || driver.pending.contains_key(&next),
                    };
                    if !ready {
                        break;
                    }
                    let Some(cap) = held.as_ref() else { break };
                    let cap = cap.delayed(&next);
                    let records = driver.pending.remove(&next).unwrap_or_default().records;
                    let due = driver.timers.remove(&next).unwrap_or_default();
                    logic.emit(next, records, due, &mut driver.timers, &mut out);
                    driver.latest_run = next;
                    if !out.is_empty() {
                        output.session(&cap).give_iterator(out.drain(..));
                    }
                }

                match bound {
                    Some(bound) => {
                        let hold = driver
                            .pending
                            .keys()
                            .next()
                            .map_or(bound, |&p| p.min(bound));
                        if let Some(cap) = held.as_mut() {
                            if *cap.time() < hold {
                                cap.downgrade(&hold);
                            }
                        }
                    }
                    None => {
                        held = None;
                        driver.timers.clear();
                        driver.pending.clear();
                    }
                }
            }
        },
    )
}
