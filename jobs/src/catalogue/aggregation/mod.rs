//! The aggregations a catalogue feature can use, one file each. Each keeps its state
//! incrementally: records enter ([`Accumulate::insert`]) and leave ([`Accumulate::remove`]) a
//! window in any order, and [`Accumulate::value`] is the aggregate of the records inside.
//! Derived values ([`derived`]) are computed from other features' values instead.

pub mod changes;
pub mod count;
pub mod derived;
pub mod distinct;
pub mod extreme;
pub mod groups;
pub mod ordered;
pub mod sorted;
pub mod sum;

use std::collections::HashMap;

use operators::changes::FastHash;
use operators::Order;

use super::value::{Input, Item, Number, Quantity, Value};

/// What a feature computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Aggregation {
    /// Records (with the property, if one is named).
    Count,
    /// Sum of the property (0 when no record has it).
    Sum,
    /// Smallest value of the property.
    Min,
    /// Largest value of the property.
    Max,
    /// Mean of the property over the records that have it.
    Mean,
    /// Distinct values of the property.
    DistinctCount,
    /// The distinct values, as a sorted JSON array of strings.
    DistinctList,
    /// The property of the first record (by event time, then id) that has it, or with
    /// `every_event` of the first record.
    First {
        /// Take the first record itself, with no value when it lacks the property.
        every_event: bool,
    },
    /// The property of the latest record that has it, or with `every_event` of the latest.
    Latest {
        /// Take the latest record itself, with no value when it lacks the property.
        every_event: bool,
    },
    /// The most frequent value; ties go to the smallest.
    MostFrequent,
    /// Groups with at least this many records.
    GroupsAtLeast(u64),
    /// Mean over groups of the property of their earliest record (groups whose earliest record
    /// lacks it are left out).
    MeanOfEarliest,
    /// Times the property changes between consecutive records that have it.
    Changes,
    /// A value derived from other features of the lane.
    Derived(derived::Derived),
}

/// The names of the aggregations, for messages.
pub const NAMES: &str = "count, sum, min, max, mean, distinct_count, distinct_list, first, \
                         latest, most_frequent, groups_at_least, mean_of_earliest, changes, \
                         ratio, difference, range, compare";

impl Aggregation {
    /// Whether it reads a property (`Some(true)`: it must; `Some(false)`: it may; `None`: it
    /// takes none).
    pub fn property(&self) -> Option<bool> {
        match self {
            Aggregation::Count => Some(false),
            Aggregation::GroupsAtLeast(_) | Aggregation::Derived(_) => None,
            _ => Some(true),
        }
    }

    /// Whether it needs a grouping property.
    pub fn needs_group(&self) -> bool {
        matches!(
            self,
            Aggregation::GroupsAtLeast(_) | Aggregation::MeanOfEarliest
        )
    }

    /// Whether it needs numbers.
    pub fn numeric(&self) -> bool {
        matches!(
            self,
            Aggregation::Sum | Aggregation::Mean | Aggregation::MeanOfEarliest
        )
    }

    /// The state it reads (`with_property`: the feature names a property), or `None` for a
    /// derived value. Features of a window whose states are equal, over the same columns and
    /// filter, share one.
    pub fn state(&self, with_property: bool) -> Option<State> {
        Some(match self {
            Aggregation::Count => State::Count { with_property },
            Aggregation::Sum | Aggregation::Mean => State::Sum,
            Aggregation::Min | Aggregation::Max => State::Extremes,
            Aggregation::DistinctCount
            | Aggregation::DistinctList
            | Aggregation::MostFrequent
            | Aggregation::GroupsAtLeast(_) => State::Distinct,
            Aggregation::First { every_event } => State::Ordered {
                latest: false,
                every_event: *every_event,
            },
            Aggregation::Latest { every_event } => State::Ordered {
                latest: true,
                every_event: *every_event,
            },
            Aggregation::MeanOfEarliest => State::Earliest,
            Aggregation::Changes => State::Changes,
            Aggregation::Derived(_) => return None,
        })
    }

    /// Its value from the state it reads.
    pub fn read(&self, state: &Accumulator) -> Option<Value> {
        match (self, state) {
            (Aggregation::Count, Accumulator::Count(a)) => a.value(),
            (Aggregation::Sum, Accumulator::Sum(a)) => a.value(),
            (Aggregation::Mean, Accumulator::Sum(a)) => a.mean(),
            (Aggregation::Min, Accumulator::Extremes(a)) => a.min(),
            (Aggregation::Max, Accumulator::Extremes(a)) => a.max(),
            (Aggregation::DistinctCount, Accumulator::Distinct(a)) => a.value(),
            (Aggregation::DistinctList, Accumulator::Distinct(a)) => a.list(),
            (Aggregation::MostFrequent, Accumulator::Distinct(a)) => a.most_frequent(),
            (Aggregation::GroupsAtLeast(n), Accumulator::Distinct(a)) => a.at_least(*n),
            (Aggregation::First { .. } | Aggregation::Latest { .. }, Accumulator::Ordered(a)) => {
                a.value()
            }
            (Aggregation::MeanOfEarliest, Accumulator::Earliest(a)) => a.value(),
            (Aggregation::Changes, Accumulator::Changes(a)) => a.value(),
            _ => None,
        }
    }

    /// Whether its state counts the feature's group property rather than its property.
    pub fn counts_groups(&self) -> bool {
        matches!(self, Aggregation::GroupsAtLeast(_))
    }
}

/// The kinds of state features keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// A count of records (with the property).
    Count {
        /// Only records with the property count.
        with_property: bool,
    },
    /// A sum and how many numbers it has: `sum`, `mean`.
    Sum,
    /// The values in order: `min`, `max`.
    Extremes,
    /// The distinct values and their counts: `distinct_count`, `distinct_list`,
    /// `most_frequent`, and over the group property `groups_at_least`.
    Distinct,
    /// The first or latest record: `first`, `latest`.
    Ordered {
        /// The latest, else the first.
        latest: bool,
        /// The record itself, with or without a value.
        every_event: bool,
    },
    /// Per group its earliest value: `mean_of_earliest`.
    Earliest,
    /// The changes between consecutive values: `changes`.
    Changes,
}

impl State {
    /// Fresh state; `removals` says whether records leave (a rolling window) or only arrive (a
    /// session).
    pub fn accumulator(self, removals: bool) -> Accumulator {
        match self {
            State::Count { with_property } => Accumulator::Count(count::Count::new(with_property)),
            State::Sum => Accumulator::Sum(sum::Sum::default()),
            State::Extremes => Accumulator::Extremes(extreme::Extremes::default()),
            State::Distinct => Accumulator::Distinct(distinct::Distinct::default()),
            State::Ordered {
                latest,
                every_event,
            } => Accumulator::Ordered(ordered::Ordered::new(latest, every_event, removals)),
            State::Earliest => Accumulator::Earliest(groups::Earliest::default()),
            State::Changes => Accumulator::Changes(changes::Changes::default()),
        }
    }
}

/// Incremental state of one aggregation over one window.
pub trait Accumulate {
    /// A record enters, with its value of the feature's property and of its group property.
    fn insert(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>);
    /// A record that entered leaves.
    fn remove(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>);
    /// The aggregate of the records inside; `None` for no value.
    fn value(&self) -> Option<Value>;
}

/// The state of any aggregation.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Accumulator {
    /// See [`State::Count`].
    Count(count::Count),
    /// See [`State::Sum`].
    Sum(sum::Sum),
    /// See [`State::Extremes`].
    Extremes(extreme::Extremes),
    /// See [`State::Distinct`].
    Distinct(distinct::Distinct),
    /// See [`State::Ordered`].
    Ordered(ordered::Ordered),
    /// See [`State::Earliest`].
    Earliest(groups::Earliest),
    /// See [`State::Changes`].
    Changes(changes::Changes),
}

/// Calls `$method` of the state inside an [`Accumulator`], by a match rather than through a
/// `dyn Accumulate`: it runs per record and window for every state of a lane.
macro_rules! each_state {
    ($accumulator:expr, $a:ident => $call:expr) => {
        match $accumulator {
            Accumulator::Count($a) => $call,
            Accumulator::Sum($a) => $call,
            Accumulator::Extremes($a) => $call,
            Accumulator::Distinct($a) => $call,
            Accumulator::Ordered($a) => $call,
            Accumulator::Earliest($a) => $call,
            Accumulator::Changes($a) => $call,
        }
    };
}

impl Accumulator {
    /// A record enters.
    pub fn insert(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>) {
        each_state!(self, a => a.insert(order, value, group))
    }

    /// A record leaves.
    pub fn remove(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>) {
        each_state!(self, a => a.remove(order, value, group))
    }

    /// Joins the state of records that all come after this one's (two sessions a late record
    /// bridges). States of different kinds are left as they are: they never meet.
    pub fn append(&mut self, later: Accumulator) {
        match (self, later) {
            (Accumulator::Count(a), Accumulator::Count(b)) => a.append(b),
            (Accumulator::Sum(a), Accumulator::Sum(b)) => a.append(&b),
            (Accumulator::Extremes(a), Accumulator::Extremes(b)) => a.append(b),
            (Accumulator::Distinct(a), Accumulator::Distinct(b)) => a.append(b),
            (Accumulator::Ordered(a), Accumulator::Ordered(b)) => a.append(b),
            (Accumulator::Earliest(a), Accumulator::Earliest(b)) => a.append(b),
            (Accumulator::Changes(a), Accumulator::Changes(b)) => a.append(b),
            _ => debug_assert!(false, "states of two kinds joined"),
        }
    }

    /// Makes a distinct count also count the values with at least `n` records.
    pub fn watch(&mut self, n: u64) {
        if let Accumulator::Distinct(a) = self {
            a.watch(n);
        }
    }
}

/// Values by hash, for the aggregations that need no order among their keys.
pub type ItemMap<V> = HashMap<Item, V, FastHash>;

/// Counts `key` up (`up`) or down in `map`, removing it at zero.
fn count_in(map: &mut ItemMap<u64>, key: &Item, up: bool) {
    if up {
        match map.get_mut(key) {
            Some(count) => *count += 1,
            None => {
                map.insert(key.clone(), 1);
            }
        }
    } else if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(key);
        }
    }
}

/// Counts `key` up (`up`) or down in `map`, removing it at zero.
fn adjust<K: Ord + Clone>(map: &mut std::collections::BTreeMap<K, u64>, key: &K, up: bool) {
    if up {
        *map.entry(key.clone()).or_default() += 1;
    } else if let Some(count) = map.get_mut(key) {
        *count = count.saturating_sub(1);
        if *count == 0 {
            map.remove(key);
        }
    }
}

/// A number's value, for the numeric aggregations.
fn number(value: Option<&Item>) -> Option<Number> {
    value.and_then(Item::number)
}

#[cfg(test)]
mod tests {
    //! Every accumulator against a from-scratch computation over the records inside, after each
    //! of many random inserts and removals (ties in time, repeated values, records without a
    //! value).

    use super::*;
    use crate::catalogue::value::{Quantity, Shared};
    use crate::event::Price;
    use std::collections::{BTreeMap, BTreeSet};

    type Inside = BTreeMap<Order, (Option<Item>, Option<Item>)>;

    fn scratch(aggregation: &Aggregation, inside: &Inside) -> Option<Value> {
        let values: Vec<&Item> = inside.values().filter_map(|(v, _)| v.as_ref()).collect();
        let numbers: Vec<Number> = values.iter().filter_map(|v| v.number()).collect();
        let sum = |ns: &[Number]| {
            ns.iter().fold(Number::int(0), |acc, n| {
                acc.minus(Number::int(0).minus(*n).expect("fits"))
                    .expect("fits")
            })
        };
        let distinct: BTreeSet<&Item> = values.iter().copied().collect();
        Some(match aggregation {
            Aggregation::Count => Value::count(values.len()),
            Aggregation::Sum => Value::Number(sum(&numbers)),
            Aggregation::Mean => {
                Value::Number(sum(&numbers).divided_by(Number::int(numbers.len() as i128))?)
            }
            Aggregation::Min => Value::of(values.iter().min()?),
            Aggregation::Max => Value::of(values.iter().max()?),
            Aggregation::DistinctCount => Value::count(distinct.len()),
            Aggregation::DistinctList => {
                let mut items: Vec<std::rc::Rc<str>> =
                    distinct.iter().map(|v| v.render().into()).collect();
                items.sort();
                items.dedup();
                Value::List(items)
            }
            Aggregation::MostFrequent => {
                let count = |v: &Item| values.iter().filter(|w| **w == v).count();
                let top = distinct.iter().map(|v| count(v)).max()?;
                Value::of(distinct.iter().find(|v| count(v) == top)?)
            }
            Aggregation::First { .. } => Value::of(values.first()?),
            Aggregation::Latest { .. } => Value::of(values.last()?),
            Aggregation::GroupsAtLeast(n) => {
                let mut groups: BTreeMap<&Item, u64> = BTreeMap::new();
                for g in inside.values().filter_map(|(_, g)| g.as_ref()) {
                    *groups.entry(g).or_default() += 1;
                }
                Value::count(groups.values().filter(|&&c| c >= *n).count())
            }
            Aggregation::MeanOfEarliest => {
                let mut earliest: BTreeMap<&Item, Option<Number>> = BTreeMap::new();
                for (v, g) in inside.values() {
                    if let Some(g) = g {
                        earliest
                            .entry(g)
                            .or_insert(v.as_ref().and_then(Item::number));
                    }
                }
                let firsts: Vec<Number> = earliest.values().flatten().copied().collect();
                Value::Number(sum(&firsts).divided_by(Number::int(firsts.len() as i128))?)
            }
            Aggregation::Changes => {
                Value::count(values.windows(2).filter(|w| w[0] != w[1]).count())
            }
            Aggregation::Derived(_) => return None,
        })
    }

    const AGGREGATIONS: [Aggregation; 13] = [
        Aggregation::Count,
        Aggregation::Sum,
        Aggregation::Mean,
        Aggregation::Min,
        Aggregation::Max,
        Aggregation::DistinctCount,
        Aggregation::DistinctList,
        Aggregation::MostFrequent,
        Aggregation::First { every_event: false },
        Aggregation::Latest { every_event: false },
        Aggregation::GroupsAtLeast(2),
        Aggregation::MeanOfEarliest,
        Aggregation::Changes,
    ];

    /// A fresh state of `aggregation` (over a property and a group).
    fn fresh(aggregation: &Aggregation, removals: bool) -> Accumulator {
        let mut acc = aggregation
            .state(true)
            .expect("a state")
            .accumulator(removals);
        if let Aggregation::GroupsAtLeast(n) = aggregation {
            acc.watch(*n);
        }
        acc
    }

    /// Feeds a record to a state, as a lane does: a state of groups counts the group property.
    fn feed(
        acc: &mut Accumulator,
        aggregation: &Aggregation,
        order: Order,
        record: &(Option<Item>, Option<Item>),
    ) {
        let (value, group) = record;
        if aggregation.counts_groups() {
            acc.insert(order, group.as_ref(), None);
        } else {
            acc.insert(order, value.as_ref(), group.as_ref());
        }
    }

    /// The states of two sessions that a late record bridges, joined, equal the state of all
    /// their records, whatever the order the records came in and wherever the split is; and so
    /// does a state back from a checkpoint.
    #[test]
    fn joined_states_equal_the_state_of_all_records() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for aggregation in &AGGREGATIONS {
            for round in 0..60 {
                let mut all = Inside::new();
                for _ in 0..next(40) {
                    let order = (next(50), u128::from(next(3) as u8));
                    let value = match next(4) {
                        0 => None,
                        n => Some(Input::Number(Quantity::price(Price(n as i64 * 250_000)))),
                    };
                    let group = Some(Input::Text(Shared::from(format!("g{}", next(4)).as_str())));
                    all.insert(order, (value, group));
                }
                let split = (next(52), 0u128);
                let (mut earlier, mut later) =
                    (fresh(aggregation, false), fresh(aggregation, false));
                // Records of each side in an order of their own: reversed or as they sort.
                let mut records: Vec<_> = all.iter().collect();
                if round % 2 == 1 {
                    records.reverse();
                }
                for (order, record) in records {
                    let side = if *order < split {
                        &mut earlier
                    } else {
                        &mut later
                    };
                    feed(side, aggregation, *order, record);
                }
                earlier.append(later);
                let expected = scratch(aggregation, &all);
                assert_eq!(
                    aggregation.read(&earlier),
                    expected,
                    "{aggregation:?}, round {round}"
                );
                let saved = bincode::serialize(&earlier).expect("a state encodes");
                let restored: Accumulator = bincode::deserialize(&saved).expect("and decodes");
                assert_eq!(
                    aggregation.read(&restored),
                    expected,
                    "{aggregation:?} restored"
                );
            }
        }
    }

    #[test]
    fn accumulators_equal_a_computation_from_scratch() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for (aggregation, removals) in AGGREGATIONS.iter().flat_map(|a| [(a, true), (a, false)]) {
            let mut acc = fresh(aggregation, removals);
            let mut inside = Inside::new();
            for step in 0..3_000 {
                let order = (next(40), u128::from(next(3) as u8));
                if inside.contains_key(&order) && !removals {
                    continue;
                }
                // A state of groups counts the group property.
                let feed = |value: &Option<Item>, group: &Option<Item>| {
                    if aggregation.counts_groups() {
                        (group.clone(), None)
                    } else {
                        (value.clone(), group.clone())
                    }
                };
                if let Some((value, group)) = inside.remove(&order) {
                    let (v, g) = feed(&value, &group);
                    acc.remove(order, v.as_ref(), g.as_ref());
                } else {
                    let value = match next(4) {
                        0 => None,
                        n => Some(Input::Number(Quantity::price(Price(n as i64 * 250_000)))),
                    };
                    let group = Some(Input::Text(Shared::from(format!("g{}", next(4)).as_str())));
                    let (v, g) = feed(&value, &group);
                    acc.insert(order, v.as_ref(), g.as_ref());
                    inside.insert(order, (value, group));
                }
                assert_eq!(
                    aggregation.read(&acc),
                    scratch(aggregation, &inside),
                    "{aggregation:?} (removals {removals}) after step {step}"
                );
            }
        }
    }
}
