//! The emission driver shared by the window operators: it holds records until their emission
//! time, fires emissions in event-time order once the watermark (the timely frontier) has passed
//! them, keeps per-key timers, and makes the last emission when a bounded input ends.

use std::collections::BTreeMap;

use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::Broadcast;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;
use timely::ExchangeData;

use crate::changes::{route, FeatureWrite, KeyMap, Keyed};
use crate::republish::Republish;
use crate::time::{ceil_to, effective_emission, Millis};

/// Timers per emission time: the keys to look at again then.
pub type Timers = BTreeMap<Millis, Vec<String>>;

/// When a key is next looked at: the emission that queued it last, and its pending timer.
#[derive(Clone, Copy, Debug, Default)]
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

    /// Pushes to `out` every value that a fault-free store holds for the operator's keys after
    /// its last emission, at `now`, so that a store that lost its contents gets them back.
    /// Changes no state: later emissions stay what they would have been.
    fn republish(&self, now: Millis, out: &mut Vec<FeatureWrite>);
}

/// Builds the operator: `records` are exchanged by key, `ends` carries each source's largest
/// event time and is broadcast, so that every worker makes the last emission of a bounded input
/// at the same time. On a [`Republish`] request the operator runs at once and pushes every
/// current value, before any further emission.
pub fn emission_operator<'s, L: KeyedLogic>(
    records: StreamVec<'s, u64, Keyed<L::Entry>>,
    ends: StreamVec<'s, u64, Millis>,
    interval: Millis,
    name: &str,
    mut logic: L,
    republish: Republish,
) -> StreamVec<'s, u64, FeatureWrite> {
    let scope = records.scope();
    let exchange = Exchange::new(|record: &Keyed<L::Entry>| route(&record.key));
    records.binary_frontier(
        ends.broadcast(),
        exchange,
        Pipeline,
        name,
        move |capability, info| {
            republish.wake_on_request(scope.activator_for(info.address));
            let mut served = republish.generation();
            let mut latest_run: Millis = 0;
            let mut held: Option<Capability<u64>> = Some(capability);
            let mut pending: BTreeMap<Millis, Vec<Keyed<L::Entry>>> = BTreeMap::new();
            let mut timers = Timers::new();
            let mut largest_time: Millis = 0;
            let mut out = Vec::new();
            move |(input, frontier), (ends, ends_frontier), output| {
                if republish.generation() != served {
                    served = republish.generation();
                    if let Some(cap) = held.as_ref() {
                        logic.republish(latest_run, &mut out);
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
                            pending.entry(at).or_default().push(record);
                        }
                    }
                });
                ends.for_each(|_stamp, data| {
                    for &time in data.iter() {
                        largest_time = largest_time.max(time);
                    }
                });

                let bound = frontier
                    .frontier()
                    .iter()
                    .chain(ends_frontier.frontier().iter())
                    .min()
                    .copied();
                // Once every input has ended, emissions run up to the last one and no further.
                let last_emission = ceil_to(largest_time, interval);
                loop {
                    let next = match (pending.keys().next(), timers.keys().next()) {
                        (Some(&a), Some(&b)) => a.min(b),
                        (Some(&a), None) => a,
                        (None, Some(&b)) => b,
                        (None, None) => break,
                    };
                    let ready = match bound {
                        Some(bound) => next < bound,
                        None => next <= last_emission || pending.contains_key(&next),
                    };
                    if !ready {
                        break;
                    }
                    let Some(cap) = held.as_ref() else { break };
                    let cap = cap.delayed(&next);
                    let records = pending.remove(&next).unwrap_or_default();
                    let due = timers.remove(&next).unwrap_or_default();
                    logic.emit(next, records, due, &mut timers, &mut out);
                    latest_run = next;
                    if !out.is_empty() {
                        output.session(&cap).give_iterator(out.drain(..));
                    }
                }

                match bound {
                    Some(bound) => {
                        let hold = pending.keys().next().map_or(bound, |&p| p.min(bound));
                        if let Some(cap) = held.as_mut() {
                            if *cap.time() < hold {
                                cap.downgrade(&hold);
                            }
                        }
                    }
                    None => {
                        held = None;
                        timers.clear();
                    }
                }
            }
        },
    )
}
