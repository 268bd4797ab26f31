//! A lane's records and the state of its features over one window.

use std::sync::Arc;

use operators::symbols::Symbols;
use operators::Order;

use super::aggregation::{Accumulator, Aggregation, State};
use super::value::{Input, Item, Value};
use super::Lane;

/// One event as a lane holds it: the values of the lane's columns, and which of its features'
/// filters it passes (bit `i` for feature `i`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Record {
    /// Per column of the lane, the event's value.
    pub values: Vec<Option<Input>>,
    /// The features whose filter the event passes.
    pub passes: u64,
}

impl Record {
    /// The record as window state holds it, its text shared through `symbols`.
    pub fn store(&self, symbols: &mut Symbols) -> Stored {
        let values = self
            .values
            .iter()
            .map(|v| v.as_ref().map(|v| v.share(symbols)))
            .collect();
        Stored {
            values,
            passes: self.passes,
        }
    }
}

/// A [`Record`] as window state holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Per column of the lane, the event's value.
    pub values: Box<[Option<Item>]>,
    /// The features whose filter the event passes.
    pub passes: u64,
}

impl Stored {
    /// The record it was stored from.
    pub fn unstore(&self) -> Record {
        Record {
            values: self
                .values
                .iter()
                .map(|v| v.as_ref().map(Item::unshare))
                .collect(),
            passes: self.passes,
        }
    }
}

/// Features of a lane whose values [`Accumulators::values`] keeps off the heap.
pub const INLINE_FEATURES: usize = 16;

/// Every feature's value of a lane over one window, in the lane's order.
pub type Values = smallvec::SmallVec<[Option<Value>; INLINE_FEATURES]>;

/// Which states a lane's features keep and which each reads: the same for every window and
/// session of the lane, so computed once and shared rather than held by each. Features that read
/// the same state (e.g. `min` and `max` of one property, `distinct_count` and `most_frequent` of
/// another, with the same filter) share it.
#[derive(Debug)]
pub struct Plan {
    lane: Arc<Lane>,
    states: Vec<Kept>,
    /// Per feature, the index of the state it reads; `None` for derived values.
    reads: Vec<Option<usize>>,
    /// Whether records leave the state (a rolling window) or only arrive (a session).
    removals: bool,
}

/// One kept state and what feeds it.
#[derive(Debug)]
struct Kept {
    kind: State,
    /// The feature whose filter bit says which records enter it.
    feature: usize,
    /// The columns it is given as value and group.
    column: Option<usize>,
    group: Option<usize>,
    /// The thresholds of `groups_at_least` features that read it.
    watched: Vec<u64>,
}

/// What makes two features' states one: the same kind over the same columns and filter.
fn shares(lane: &Lane, a: usize, b: usize, kind: State) -> bool {
    let (fa, fb) = (&lane.features[a], &lane.features[b]);
    fa.aggregation.state(fa.column.is_some()) == Some(kind)
        && fa.filter == fb.filter
        && inputs(fa) == inputs(fb)
}

/// The columns a feature's state is given as value and group.
fn inputs(feature: &super::Feature) -> (Option<usize>, Option<usize>) {
    if feature.aggregation.counts_groups() {
        (feature.group, None)
    } else {
        (feature.column, feature.group)
    }
}

impl Plan {
    /// The states of `lane`'s features; `removals` says whether records leave them (a rolling
    /// window) or only arrive (a session).
    pub fn new(lane: Arc<Lane>, removals: bool) -> Plan {
        let mut states: Vec<Kept> = Vec::new();
        let mut reads = Vec::with_capacity(lane.features.len());
        for (i, feature) in lane.features.iter().enumerate() {
            let Some(kind) = feature.aggregation.state(feature.column.is_some()) else {
                reads.push(None);
                continue;
            };
            let at = match states
                .iter()
                .position(|k| shares(&lane, k.feature, i, kind))
            {
                Some(at) => at,
                None => {
                    let (column, group) = inputs(feature);
                    states.push(Kept {
                        kind,
                        feature: i,
                        column,
                        group,
                        watched: Vec::new(),
                    });
                    states.len() - 1
                }
            };
            if let Aggregation::GroupsAtLeast(n) = feature.aggregation {
                states[at].watched.push(n);
            }
            reads.push(Some(at));
        }
        Plan {
            lane,
            states,
            reads,
            removals,
        }
    }

    /// The lane it is the plan of.
    pub fn lane(&self) -> &Lane {
        &self.lane
    }
}

/// The state of every feature of a lane over one window, laid out by the lane's [`Plan`].
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Accumulators {
    states: Box<[Accumulator]>,
}

impl Accumulators {
    /// Empty state for the features of `plan`.
    pub fn new(plan: &Plan) -> Accumulators {
        let states = plan.states.iter().map(|kept| {
            let mut state = kept.kind.accumulator(plan.removals);
            for &n in &kept.watched {
                state.watch(n);
            }
            state
        });
        Accumulators {
            states: states.collect(),
        }
    }

    fn each(
        &mut self,
        plan: &Plan,
        record: &Stored,
        mut apply: impl FnMut(&mut Accumulator, Option<&Item>, Option<&Item>),
    ) {
        let column = |c: Option<usize>| c.and_then(|c| record.values.get(c)?.as_ref());
        for (state, kept) in self.states.iter_mut().zip(&plan.states) {
            if record.passes & (1 << kept.feature) != 0 {
                apply(state, column(kept.column), column(kept.group));
            }
        }
    }

    /// A record enters the window.
    pub fn insert(&mut self, plan: &Plan, order: Order, record: &Stored) {
        self.each(plan, record, |acc, value, group| {
            acc.insert(order, value, group)
        });
    }

    /// A record leaves the window.
    pub fn remove(&mut self, plan: &Plan, order: Order, record: &Stored) {
        self.each(plan, record, |acc, value, group| {
            acc.remove(order, value, group)
        });
    }

    /// Joins the state of records that all come after these (two sessions a late record
    /// bridges).
    pub fn append(&mut self, later: Accumulators) {
        for (state, more) in self.states.iter_mut().zip(later.states) {
            state.append(more);
        }
    }

    /// Every feature's value, in the lane's order (derived ones computed from those before).
    /// On the stack for lanes of up to [`INLINE_FEATURES`] features, as every emission of a
    /// changed window reads them.
    pub fn values(&self, plan: &Plan) -> Values {
        let mut values = Values::with_capacity(plan.reads.len());
        for (read, feature) in plan.reads.iter().zip(&plan.lane.features) {
            let value = match (read, &feature.aggregation) {
                (Some(at), aggregation) => aggregation.read(&self.states[*at]),
                (None, Aggregation::Derived(derived)) => derived.value(&values),
                (None, _) => None,
            };
            values.push(value);
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Catalogue;

    #[test]
    fn features_that_read_the_same_state_share_it() {
        let catalogue = Catalogue::builtin().expect("the shipped catalogue");
        let product = catalogue.lane("product").expect("the product lane");
        let plan = Plan::new(Arc::new(product.clone()), true);
        // distinct products and products viewed twice count the same products; min and max
        // are one set of prices; the range is derived.
        let kinds: Vec<&str> = product.features.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(plan.states.len(), 4, "{kinds:?}");
        assert_eq!(Accumulators::new(&plan).states.len(), 4);
        let reads = |name: &str| {
            let at = product.features.iter().position(|f| f.name == name);
            at.and_then(|at| plan.reads[at])
        };
        assert_eq!(reads("product_view_count"), reads("return_view_count"));
        assert_eq!(reads("min_viewed_price"), reads("max_viewed_price"));
        assert_ne!(reads("product_views"), reads("product_view_count"));
        let category = catalogue.lane("category").expect("the category lane");
        let plan = Plan::new(Arc::new(category.clone()), true);
        assert_eq!(
            plan.states.len(),
            2,
            "top and unique categories share one count"
        );
    }
}
