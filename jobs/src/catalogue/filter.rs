//! Filters on events: which event types, and criteria on their properties.

use crate::event::{EventKind, ShopperEvent};

use super::property::Property;
use super::value::Input;

/// What a criterion asks of a property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Test {
    /// The property has one of these values (one value: equals it).
    OneOf(Vec<Input>),
    /// The property is set (`true`) or not set (`false`).
    IsSet(bool),
}

/// A criterion on one property of an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Criterion {
    /// The event type it applies to; events of other types meet it (`None`: every event).
    pub on: Option<EventKind>,
    /// The property looked at.
    pub property: Property,
    /// What it must hold.
    pub test: Test,
}

impl Criterion {
    /// Whether `event` meets it.
    pub fn holds(&self, event: &ShopperEvent) -> bool {
        if self.on.as_ref().is_some_and(|on| *on != event.kind) {
            return true;
        }
        let value = self.property.peek(event);
        match &self.test {
            Test::IsSet(set) => value.is_some() == *set,
            Test::OneOf(values) => value.is_some_and(|v| values.iter().any(|w| v.same(w))),
        }
    }
}

/// Which records of a lane a feature counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only these event types (`None`: every event of the lane).
    pub events: Option<Vec<EventKind>>,
    /// Criteria every counted event meets.
    pub criteria: Vec<Criterion>,
}

impl Filter {
    /// Whether `event` counts.
    pub fn passes(&self, event: &ShopperEvent) -> bool {
        self.events
            .as_ref()
            .is_none_or(|events| events.contains(&event.kind))
            && self.criteria.iter().all(|c| c.holds(event))
    }
}
