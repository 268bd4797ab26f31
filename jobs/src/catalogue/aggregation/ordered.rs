//! `first` and `latest`: the property of the first or latest record by (event time, event id).

use operators::Order;

use super::sorted::Sorted;
use super::{Accumulate, Item, Value};

/// The records that can be first or latest: in a window that records leave, every one in order
/// (only those with a value, unless every record counts); where records only arrive (a
/// session), the best one so far.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Ordered {
    every_event: bool,
    latest: bool,
    records: Records,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Records {
    All(Sorted<Option<Item>>),
    Best(Option<(Order, Option<Item>)>),
}

impl Ordered {
    /// Empty; `latest` takes the latest record, else the first; `every_event` the record itself,
    /// with or without a value; `removals` says whether records leave.
    pub fn new(latest: bool, every_event: bool, removals: bool) -> Ordered {
        let records = if removals {
            Records::All(Sorted::default())
        } else {
            Records::Best(None)
        };
        Ordered {
            every_event,
            latest,
            records,
        }
    }
}

impl Ordered {
    /// Joins the records of `later`, which all come after these.
    pub fn append(&mut self, later: Ordered) {
        match (&mut self.records, later.records) {
            (Records::All(records), Records::All(more)) => records.append(more),
            (Records::Best(best), Records::Best(Some(more))) if self.latest || best.is_none() => {
                *best = Some(more);
            }
            _ => {}
        }
    }
}

impl Accumulate for Ordered {
    fn insert(&mut self, order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if !self.every_event && value.is_none() {
            return;
        }
        match &mut self.records {
            Records::All(records) => {
                records.insert(order, value.cloned());
            }
            Records::Best(best) => {
                let better = best.as_ref().is_none_or(|(at, _)| {
                    if self.latest {
                        order >= *at
                    } else {
                        order <= *at
                    }
                });
                if better {
                    *best = Some((order, value.cloned()));
                }
            }
        }
    }

    fn remove(&mut self, order: Order, _value: Option<&Item>, _group: Option<&Item>) {
        match &mut self.records {
            Records::All(records) => {
                records.remove(order);
            }
            Records::Best(_) => {
                debug_assert!(
                    false,
                    "a record left state made for records that only arrive"
                )
            }
        }
    }

    /// The first or latest record's value.
    fn value(&self) -> Option<Value> {
        let value = match &self.records {
            Records::All(records) if self.latest => records.last()?,
            Records::All(records) => records.first()?,
            Records::Best(best) => &best.as_ref()?.1,
        };
        value.as_ref().map(Value::of)
    }
}
