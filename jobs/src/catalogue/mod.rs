//! The feature catalogue: lanes and features as data (`config/features.toml`).
//!
//! A lane names the events it takes, its key (user: rolling windows; session: session windows)
//! and its features; a feature names an [`Aggregation`], the event property it reads, an
//! optional filter and grouping, or for a derived value the features of the same lane it is
//! computed from. [`Catalogue::parse`] checks all of it and says, for a mistake, which lane,
//! which feature and what is allowed.

pub mod aggregation;
mod check;
pub mod filter;
pub mod format;
pub mod lane;
pub mod property;
pub mod runtime;
pub mod spec;
pub mod value;

pub use aggregation::Aggregation;
pub use filter::{Criterion, Filter, Test};
pub use lane::{Accumulators, Plan, Record, Stored};
pub use property::{FieldRef, Property};
pub use value::{Input, Item, Number, Quantity, Value};

use operators::Millis;

use crate::event::EventKind;
use crate::fields::EntityFields;

/// The catalogue that ships with the job: SPEC section 3's features and the example lanes.
pub const DEFAULT_CATALOGUE: &str = include_str!("../../../config/features.toml");

/// A mistake in a catalogue file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueError(pub String);

impl std::fmt::Display for CatalogueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "features catalogue: {}", self.0)
    }
}

impl std::error::Error for CatalogueError {}

/// What a lane is keyed by, which decides its windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LaneKey {
    /// The user key: rolling windows.
    User,
    /// The session key: session windows.
    Session,
}

/// A lane's windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Windowing {
    /// Rolling windows: each one's name (the key suffix, e.g. `5m`) and length.
    Rolling(Vec<(String, Millis)>),
    /// Session windows closing `gap` after a session's last event.
    Session {
        /// The largest gap within one session.
        gap: Millis,
    },
}

/// Where a feature's input comes from: a property, or one property per event type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// Per event type (`None`: every event), the property read.
    pub sources: Vec<(Option<EventKind>, Property)>,
}

impl Column {
    /// The property the column reads of `event`, if any.
    fn property(&self, event: &crate::event::ShopperEvent) -> Option<Property> {
        self.sources
            .iter()
            .find(|(on, _)| on.as_ref().is_none_or(|on| *on == event.kind))
            .map(|(_, property)| *property)
    }

    /// The column's value for `event`.
    pub fn of(&self, event: &crate::event::ShopperEvent) -> Option<Input> {
        self.property(event)?.of(event)
    }

    /// Whether `event` has a value in the column.
    pub fn has(&self, event: &crate::event::ShopperEvent) -> bool {
        self.property(event)
            .is_some_and(|property| property.peek(event).is_some())
    }
}

/// One feature of a lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Feature {
    /// The `<feature>` part of the key.
    pub name: String,
    /// What it computes.
    pub aggregation: Aggregation,
    /// The column it aggregates, if any.
    pub column: Option<usize>,
    /// The column that groups records, if any.
    pub group: Option<usize>,
    /// Which records count.
    pub filter: Filter,
    /// Whether it is written to the store.
    pub output: bool,
}

/// One lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lane {
    /// Its name (`product`, `cart`, ...).
    pub name: String,
    /// Whether the job computes it.
    pub enabled: bool,
    /// Its key.
    pub key: LaneKey,
    /// The event types it takes.
    pub events: Vec<EventKind>,
    /// Properties an event must have to take part.
    pub require: Vec<Column>,
    /// Criteria every event of the lane meets.
    pub criteria: Vec<Criterion>,
    /// Its windows.
    pub windowing: Windowing,
    /// Its features, in the catalogue's order.
    pub features: Vec<Feature>,
    /// The inputs its records carry, shared by the features that read the same.
    pub columns: Vec<Column>,
}

/// A checked catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalogue {
    /// The lanes, by name.
    pub lanes: Vec<Lane>,
}

impl Catalogue {
    /// Reads and checks a catalogue file's text.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let file: spec::CatalogueFile =
            toml::from_str(text).map_err(|e| CatalogueError(e.to_string()))?;
        let mut fields = check::FieldTable::declared(&file.fields)?;
        let lanes = file
            .lanes
            .into_iter()
            .map(|(name, entry)| check::lane(name, entry, &mut fields))
            .collect::<Result<Vec<_>, _>>()?;
        let catalogue = Catalogue { lanes };
        catalogue.check_keys()?;
        Ok(catalogue)
    }

    /// Fails when two lanes would write the same store key: the same feature (and window) in
    /// two lanes of one key kind.
    fn check_keys(&self) -> Result<(), CatalogueError> {
        let mut written: std::collections::BTreeMap<String, &str> = Default::default();
        for lane in &self.lanes {
            let suffixes: Vec<String> = match &lane.windowing {
                Windowing::Rolling(windows) => {
                    windows.iter().map(|(name, _)| format!("_{name}")).collect()
                }
                Windowing::Session { .. } => vec![String::new()],
            };
            for feature in lane.features.iter().filter(|f| f.output) {
                for suffix in &suffixes {
                    let key = match lane.key {
                        LaneKey::User => format!("user:<id>:{}{suffix}", feature.name),
                        LaneKey::Session => format!("session:<id>:{}", feature.name),
                    };
                    if let Some(other) = written.insert(key.clone(), &lane.name) {
                        return Err(CatalogueError(format!(
                            "lane `{}`, feature `{}`: lane `{other}` also writes `{key}`;                              rename one of them",
                            lane.name, feature.name
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// The catalogue that ships with the job.
    pub fn builtin() -> Result<Catalogue, CatalogueError> {
        Catalogue::parse(DEFAULT_CATALOGUE)
    }

    /// The lane called `name`.
    pub fn lane(&self, name: &str) -> Option<&Lane> {
        self.lanes.iter().find(|lane| lane.name == name)
    }
}

/// The entity fields that `lanes` read, for the parser to keep, with the lanes' slots renumbered
/// to match: a field only a lane left out of the job reads is not parsed at all.
pub fn kept_fields<'a>(lanes: impl IntoIterator<Item = &'a mut Lane>) -> EntityFields {
    let mut kept = EntityFields::default();
    for lane in lanes {
        for property in lane.properties_mut() {
            if let Property::Field(field) = property {
                // The catalogue already gave each field one type, so adding cannot fail.
                if let Some(slot) = kept.add(field.entity, field.key, field.kind) {
                    field.slot = slot;
                }
            }
        }
    }
    kept
}

impl Lane {
    /// Every property the lane reads: its columns, its requirements and its criteria.
    fn properties_mut(&mut self) -> impl Iterator<Item = &mut Property> {
        let columns = self.columns.iter_mut().chain(self.require.iter_mut());
        let sources = columns.flat_map(|c| c.sources.iter_mut().map(|(_, p)| p));
        let filters = self.features.iter_mut().map(|f| &mut f.filter.criteria);
        let criteria = self.criteria.iter_mut().chain(filters.flatten());
        sources.chain(criteria.map(|c| &mut c.property))
    }

    /// Whether `event` belongs to the lane.
    pub fn takes(&self, event: &crate::event::ShopperEvent) -> bool {
        let keyed = match self.key {
            LaneKey::User => true,
            LaneKey::Session => event.session.is_some(),
        };
        keyed
            && self.events.contains(&event.kind)
            && self.require.iter().all(|c| c.has(event))
            && self.criteria.iter().all(|c| c.holds(event))
    }

    /// Makes checkout steps of `step` count as orders: the lane takes them too, and wherever it
    /// reads a transaction's revenue it reads such a step's cart total instead (the
    /// configuration's `lanes.purchase.checkout_step`, for shops that send no transactions).
    pub fn count_checkout_step_as_order(&mut self, step: u32) {
        const STEP: EventKind = EventKind::CheckoutStep;
        if !self.events.contains(&STEP) {
            self.events.push(STEP);
        }
        self.criteria.push(Criterion {
            on: Some(STEP),
            property: Property::CheckoutStep,
            test: Test::OneOf(vec![Input::Number(Quantity::int(step.into()))]),
        });
        for column in &mut self.columns {
            let reads_revenue = column.sources.iter().any(|(on, property)| {
                *property == Property::Revenue
                    && on.as_ref().is_none_or(|on| *on == EventKind::Transaction)
            });
            if reads_revenue {
                column.sources.insert(0, (Some(STEP), Property::CartTotal));
            }
        }
        for feature in &mut self.features {
            if let Some(events) = &mut feature.filter.events {
                if events.contains(&EventKind::Transaction) && !events.contains(&STEP) {
                    events.push(STEP);
                }
            }
        }
    }

    /// The lane's record of `event`, if it belongs to the lane.
    pub fn record(&self, event: &crate::event::ShopperEvent) -> Option<Record> {
        if !self.takes(event) {
            return None;
        }
        let values = self.columns.iter().map(|c| c.of(event)).collect();
        let mut passes = 0u64;
        for (i, feature) in self.features.iter().enumerate() {
            if feature.filter.passes(event) {
                passes |= 1 << i;
            }
        }
        Some(Record { values, passes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::FieldType;

    const TEXT: &str = r#"
[fields]
"product.quantity" = "number"

[lanes.off]
enabled = false
key = "user"
events = ["add_to_cart"]
windows = ["5m"]
features = [{ name = "sizes", aggregation = "distinct_count", property = "product.size" }]

[lanes.on]
key = "user"
events = ["add_to_cart"]
windows = ["5m"]
where = { "cart.currency" = "USD" }
features = [
  { name = "units", aggregation = "sum", property = "product.quantity" },
  { name = "gifts", aggregation = "count", where = { "product.gift" = "yes" } },
]
"#;

    /// Only the fields of the lanes the job computes are parsed, and their slots follow.
    #[test]
    fn the_kept_fields_are_those_of_the_lanes_computed() {
        let mut catalogue = Catalogue::parse(TEXT).expect("a valid catalogue");
        let kept = kept_fields(catalogue.lanes.iter_mut().filter(|l| l.enabled));
        let names: Vec<(&str, FieldType)> = kept.iter().map(|f| (f.name, f.kind)).collect();
        assert_eq!(
            names,
            [
                ("product.quantity", FieldType::Number),
                ("cart.currency", FieldType::Text),
                ("product.gift", FieldType::Text),
            ]
        );
        let lane = catalogue.lane("on").expect("lane on");
        let mut slots = Vec::new();
        let mut lane = lane.clone();
        for property in lane.properties_mut() {
            if let Property::Field(field) = property {
                assert_eq!(kept.get(field.slot).map(|f| f.name), Some(field.name));
                slots.push(field.slot);
            }
        }
        slots.sort_unstable();
        assert_eq!(slots, [0, 1, 2]);
    }
}
