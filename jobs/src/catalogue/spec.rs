//! The catalogue file as written: the TOML tables, before they are checked.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The whole file: `[lanes.<name>]` tables, and a `[fields]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogueFile {
    /// The lanes by name.
    pub lanes: BTreeMap<String, LaneEntry>,
    /// The types of entity fields beyond the named properties (`"product.quantity" =
    /// "number"`); an undeclared one is text.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}

/// One lane as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneEntry {
    /// Whether the job computes the lane (an example lane can ship switched off).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `user` (rolling windows) or `session` (session windows).
    pub key: String,
    /// The event types the lane takes.
    pub events: Vec<String>,
    /// Properties an event must have to take part (a name, or a name per event type).
    #[serde(default)]
    pub require: Vec<PropertyEntry>,
    /// Criteria on event properties every event of the lane meets.
    #[serde(default, rename = "where")]
    pub criteria: BTreeMap<String, toml::Value>,
    /// Rolling windows, e.g. `["5m", "1h"]` (user lanes).
    pub windows: Option<Vec<String>>,
    /// The largest gap within a session (session lanes).
    pub gap: Option<String>,
    /// The features, in the order the documentation lists them.
    pub features: Vec<FeatureEntry>,
}

/// A property as written: one name, or a name per event type.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum PropertyEntry {
    /// The same property for every event.
    One(String),
    /// A property per event type; other events have no value.
    ByEvent(BTreeMap<String, String>),
}

/// One feature as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureEntry {
    /// The `<feature>` part of its Redis key.
    pub name: String,
    /// What it computes: `count`, `sum`, `mean`, ... (see [`super::Aggregation`]).
    pub aggregation: String,
    /// The property it aggregates, where the aggregation needs one.
    pub property: Option<PropertyEntry>,
    /// The property that groups records, for the grouped aggregations.
    pub group: Option<String>,
    /// For `groups_at_least`: how many records a group needs.
    pub at_least: Option<u64>,
    /// Only these event types count.
    pub events: Option<Vec<String>>,
    /// Only events that meet these criteria count.
    #[serde(default, rename = "where")]
    pub criteria: BTreeMap<String, toml::Value>,
    /// For derived values: the features of the same lane and window they are computed from.
    pub of: Option<Vec<String>>,
    /// For `compare`: `=`, `!=`, `<`, `<=`, `>` or `>=`.
    pub op: Option<String>,
    /// For `compare`: the constant compared with.
    pub than: Option<toml::Value>,
    /// For `ratio`: the value when the denominator is zero (absent when not given).
    pub when_zero: Option<toml::Value>,
    /// For `first` and `latest`: take the first or latest event itself, and no value when it
    /// lacks the property (by default, the first or latest event that has it).
    #[serde(default)]
    pub every_event: bool,
    /// Whether it is written to the store (an intermediate value of a derived one need not be).
    #[serde(default = "yes")]
    pub output: bool,
}

fn yes() -> bool {
    true
}
