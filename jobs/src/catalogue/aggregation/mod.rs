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
use std::hash::BuildHasherDefault;

use operators::changes::Fnv;
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

    /// A fresh accumulator (`with_property`: the feature names a property; `removals`: records
    /// leave, as they do a rolling window but not a session), or `None` for a derived value.
    pub fn accumulator(&self, with_property: bool, removals: bool) -> Option<Accumulator> {
        Some(match self {
            Aggregation::Count => Accumulator::Count(count::Count::new(with_property)),
            Aggregation::Sum => Accumulator::Sum(sum::Sum::default()),
            Aggregation::Mean => Accumulator::Mean(sum::Sum::default()),
            Aggregation::Min => Accumulator::Min(extreme::Extremes::default()),
            Aggregation::Max => Accumulator::Max(extreme::Extremes::default()),
            Aggregation::DistinctCount => Accumulator::DistinctCount(distinct::Distinct::default()),
            Aggregation::DistinctList => Accumulator::DistinctList(distinct::Distinct::default()),
            Aggregation::MostFrequent => Accumulator::MostFrequent(distinct::Distinct::default()),
            Aggregation::First { every_event } => {
                Accumulator::First(ordered::Ordered::new(false, *every_event, removals))
            }
            Aggregation::Latest { every_event } => {
                Accumulator::Latest(ordered::Ordered::new(true, *every_event, removals))
            }
            Aggregation::GroupsAtLeast(n) => Accumulator::GroupsAtLeast(groups::Groups::new(*n)),
            Aggregation::MeanOfEarliest => Accumulator::MeanOfEarliest(groups::Earliest::default()),
            Aggregation::Changes => Accumulator::Changes(changes::Changes::default()),
            Aggregation::Derived(_) => return None,
        })
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
#[derive(Clone, Debug)]
pub enum Accumulator {
    /// See [`Aggregation::Count`].
    Count(count::Count),
    /// See [`Aggregation::Sum`].
    Sum(sum::Sum),
    /// See [`Aggregation::Mean`].
    Mean(sum::Sum),
    /// See [`Aggregation::Min`].
    Min(extreme::Extremes),
    /// See [`Aggregation::Max`].
    Max(extreme::Extremes),
    /// See [`Aggregation::DistinctCount`].
    DistinctCount(distinct::Distinct),
    /// See [`Aggregation::DistinctList`].
    DistinctList(distinct::Distinct),
    /// See [`Aggregation::MostFrequent`].
    MostFrequent(distinct::Distinct),
    /// See [`Aggregation::First`].
    First(ordered::Ordered),
    /// See [`Aggregation::Latest`].
    Latest(ordered::Ordered),
    /// See [`Aggregation::GroupsAtLeast`].
    GroupsAtLeast(groups::Groups),
    /// See [`Aggregation::MeanOfEarliest`].
    MeanOfEarliest(groups::Earliest),
    /// See [`Aggregation::Changes`].
    Changes(changes::Changes),
}

impl Accumulator {
    fn inner(&mut self) -> &mut dyn Accumulate {
        match self {
            Accumulator::Count(a) => a,
            Accumulator::Sum(a) | Accumulator::Mean(a) => a,
            Accumulator::Min(a) | Accumulator::Max(a) => a,
            Accumulator::DistinctCount(a)
            | Accumulator::DistinctList(a)
            | Accumulator::MostFrequent(a) => a,
            Accumulator::First(a) | Accumulator::Latest(a) => a,
            Accumulator::GroupsAtLeast(a) => a,
            Accumulator::MeanOfEarliest(a) => a,
            Accumulator::Changes(a) => a,
        }
    }

    /// A record enters.
    pub fn insert(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>) {
        self.inner().insert(order, value, group)
    }

    /// A record leaves.
    pub fn remove(&mut self, order: Order, value: Option<&Item>, group: Option<&Item>) {
        self.inner().remove(order, value, group)
    }

    /// The current value.
    pub fn value(&self) -> Option<Value> {
        match self {
            Accumulator::Count(a) => a.value(),
            Accumulator::Sum(a) => a.value(),
            Accumulator::Mean(a) => a.mean(),
            Accumulator::Min(a) => a.min(),
            Accumulator::Max(a) => a.max(),
            Accumulator::DistinctCount(a) => a.value(),
            Accumulator::DistinctList(a) => a.list(),
            Accumulator::MostFrequent(a) => a.most_frequent(),
            Accumulator::First(a) => a.value(),
            Accumulator::Latest(a) => a.value(),
            Accumulator::GroupsAtLeast(a) => a.value(),
            Accumulator::MeanOfEarliest(a) => a.value(),
            Accumulator::Changes(a) => a.value(),
        }
    }
}

/// Values by hash, for the aggregations that need no order among their keys.
pub type ItemMap<V> = HashMap<Item, V, BuildHasherDefault<Fnv>>;

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

    #[test]
    fn accumulators_equal_a_computation_from_scratch() {
        let aggregations = [
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
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for (aggregation, removals) in aggregations.iter().flat_map(|a| [(a, true), (a, false)]) {
            let mut acc = aggregation
                .accumulator(true, removals)
                .expect("an accumulator");
            let mut inside = Inside::new();
            for step in 0..3_000 {
                let order = (next(40), u128::from(next(3) as u8));
                if inside.contains_key(&order) && !removals {
                    continue;
                }
                if let Some((value, group)) = inside.remove(&order) {
                    acc.remove(order, value.as_ref(), group.as_ref());
                } else {
                    let value = match next(4) {
                        0 => None,
                        n => Some(Input::Number(Quantity::price(Price(n as i64 * 250_000)))),
                    };
                    let group = Some(Input::Text(Shared::from(format!("g{}", next(4)).as_str())));
                    acc.insert(order, value.as_ref(), group.as_ref());
                    inside.insert(order, (value, group));
                }
                assert_eq!(
                    acc.value(),
                    scratch(aggregation, &inside),
                    "{aggregation:?} (removals {removals}) after step {step}"
                );
            }
        }
    }
}
