//! Checks a catalogue file as written and builds the lanes; every mistake is named with its
//! lane, its feature and what is allowed.

use std::collections::BTreeMap;

use operators::time::parse_duration;

use super::aggregation::derived::{Derived, Op};
use super::aggregation::{Aggregation, NAMES};
use super::filter::{Criterion, Filter, Test};
use super::property::{FieldRef, Property};
use super::spec::{FeatureEntry, LaneEntry, PropertyEntry};
use super::value::{Input, Quantity};
use super::{CatalogueError, Column, Feature, Lane, LaneKey, Windowing};
use crate::event::{EventKind, KNOWN_KINDS};
use crate::fields::{EntityFields, EntityKind, FieldType, Slot, ENTITY_KINDS};

/// Whether a lane or feature can name the event type `name`.
fn known_event(name: &str) -> bool {
    KNOWN_KINDS.iter().any(|kind| kind.as_str() == name)
}

/// The event types a lane or feature can name, for messages.
fn known_events() -> String {
    let names: Vec<&str> = KNOWN_KINDS.iter().map(EventKind::as_str).collect();
    names.join(", ")
}

/// Features a lane can have: the bit mask of filters is a `u64`.
const MAX_FEATURES: usize = 64;

type Result<T> = std::result::Result<T, CatalogueError>;

fn fail<T>(message: String) -> Result<T> {
    Err(CatalogueError(message))
}

/// Builds lane `name` from its table.
pub fn lane(name: String, entry: LaneEntry, fields: &mut FieldTable) -> Result<Lane> {
    let at = format!("lane `{name}`");
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if name.is_empty() || !name.chars().all(plain) {
        return fail(format!(
            "{at}: a lane name has only letters, digits, `_` and `-`"
        ));
    }
    let key = match entry.key.as_str() {
        "user" => LaneKey::User,
        "session" => LaneKey::Session,
        other => return fail(format!("{at}: key `{other}`; allowed: user, session")),
    };
    if entry.events.is_empty() {
        return fail(format!(
            "{at}: `events` is empty; name at least one event type"
        ));
    }
    let events = event_types(&entry.events, &at)?;
    let criteria = criteria(&entry.criteria, &at, fields)?;
    let windowing = windowing(key, entry.windows.as_deref(), entry.gap.as_deref(), &at)?;
    if entry.features.is_empty() {
        return fail(format!("{at}: no features"));
    }
    if entry.features.len() > MAX_FEATURES {
        return fail(format!("{at}: more than {MAX_FEATURES} features"));
    }
    let mut lane = Lane {
        name,
        enabled: entry.enabled,
        key,
        events,
        require: Vec::new(),
        criteria,
        windowing,
        features: Vec::new(),
        columns: Vec::new(),
    };
    for required in &entry.require {
        let sources = sources(&lane, required, &at, fields)?;
        lane.require.push(Column { sources });
    }
    for feature in &entry.features {
        let built = self::feature(&mut lane, feature, fields)?;
        lane.features.push(built);
    }
    Ok(lane)
}

fn event_types(names: &[String], at: &str) -> Result<Vec<EventKind>> {
    names
        .iter()
        .map(|name| {
            if known_event(name) {
                Ok(EventKind::from_action(name))
            } else {
                fail(format!(
                    "{at}: unknown event type `{name}`; allowed: {}",
                    known_events()
                ))
            }
        })
        .collect()
}

/// Event types as a message lists them.
fn listed(kinds: &[EventKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(EventKind::as_str).collect();
    names.join(", ")
}

fn property(name: &str, at: &str, fields: &mut FieldTable) -> Result<Property> {
    if let Some(property) = Property::named(name) {
        return Ok(property);
    }
    match fields.field(name) {
        Some(field) => field.map(Property::Field),
        None => fail(format!(
            "{at}: unknown property `{name}`; allowed: {}, or `<entity>.<field>` for any other \
             field of an ecommerce entity ({})",
            Property::names(),
            entity_names()
        )),
    }
}

/// The ecommerce entities whose fields a catalogue can read, for messages.
fn entity_names() -> String {
    let names: Vec<&str> = ENTITY_KINDS.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// The entity fields a catalogue reads beyond the named properties: the types its `[fields]`
/// table declares, and where the parser keeps each one.
#[derive(Debug, Default)]
pub struct FieldTable {
    declared: BTreeMap<String, FieldType>,
    kept: EntityFields,
}

impl FieldTable {
    /// The table of a catalogue whose `[fields]` table is `declared` (name to type).
    pub fn declared(declared: &BTreeMap<String, String>) -> Result<FieldTable> {
        let mut table = FieldTable::default();
        for (name, kind) in declared {
            let at = format!("`[fields]`, `{name}`");
            if Property::named(name).is_some() {
                return fail(format!(
                    "{at}: a named property, whose type is fixed; declare only other fields of \
                     the ecommerce entities"
                ));
            }
            if split(name).is_none() {
                return fail(format!(
                    "{at}: not `<entity>.<field>` of an ecommerce entity ({})",
                    entity_names()
                ));
            }
            let Some(kind) = FieldType::named(kind) else {
                return fail(format!("{at}: type `{kind}`; allowed: text, number, bool"));
            };
            table.declared.insert(name.clone(), kind);
        }
        Ok(table)
    }

    /// The field called `name`: `None` when it names no entity field; an error when the
    /// parser cannot keep one more.
    fn field(&mut self, name: &str) -> Option<Result<FieldRef>> {
        let (entity, key) = split(name)?;
        let kind = self.declared.get(name).copied().unwrap_or(FieldType::Text);
        let Some(slot) = self.kept.add(entity, key, kind) else {
            return Some(fail(format!(
                "`{name}`: a catalogue reads at most {} entity fields",
                Slot::MAX
            )));
        };
        let field = self.kept.get(slot)?;
        Some(Ok(FieldRef {
            slot,
            entity,
            key: field.key,
            kind,
            name: field.name,
        }))
    }
}

/// `<entity>.<field>` of an ecommerce entity, split.
fn split(name: &str) -> Option<(EntityKind, &str)> {
    let (entity, key) = name.split_once('.')?;
    let entity = EntityKind::named(entity)?;
    (!key.is_empty()).then_some((entity, key))
}

fn windowing(
    key: LaneKey,
    windows: Option<&[String]>,
    gap: Option<&str>,
    at: &str,
) -> Result<Windowing> {
    let duration = |text: &str, what: &str| match parse_duration(text) {
        Some(ms) if ms > 0 => Ok(ms),
        _ => fail(format!(
            "{at}: {what} `{text}` is not a duration; write a whole number and a unit, like \
             \"5m\", \"1h\" or \"24h\""
        )),
    };
    match (key, windows, gap) {
        (LaneKey::User, Some(windows), None) => {
            if windows.is_empty() {
                return fail(format!("{at}: `windows` is empty"));
            }
            let mut out: Vec<(String, u64)> = Vec::new();
            for w in windows {
                if out.iter().any(|(name, _)| name == w) {
                    return fail(format!("{at}: window `{w}` is listed twice"));
                }
                out.push((w.clone(), duration(w, "window")?));
            }
            Ok(Windowing::Rolling(out))
        }
        (LaneKey::Session, None, Some(gap)) => Ok(Windowing::Session {
            gap: duration(gap, "gap")?,
        }),
        (LaneKey::User, _, _) => fail(format!(
            "{at}: a user lane has `windows` (like [\"5m\", \"1h\"]) and no `gap`"
        )),
        (LaneKey::Session, _, _) => fail(format!(
            "{at}: a session lane has a `gap` (like \"30m\") and no `windows`"
        )),
    }
}

/// A constant of a filter or comparison, typed as `property` holds it.
fn constant(value: &toml::Value, text: bool, at: &str) -> Result<Input> {
    match value {
        toml::Value::String(s) if text => Ok(Input::Text(s.clone())),
        toml::Value::Integer(i) if !text => Ok(Input::Number(Quantity::int(*i))),
        toml::Value::Float(f) if !text => {
            let micro = crate::event::Price::from_f64(*f);
            match micro {
                Some(p) => Ok(Input::Number(Quantity::price(p))),
                None => fail(format!("{at}: {f} is not a usable number")),
            }
        }
        toml::Value::Boolean(b) => Ok(Input::Bool(*b)),
        other => fail(format!(
            "{at}: `{other}` is not a {}",
            if text { "text in quotes" } else { "number" }
        )),
    }
}

fn criteria(
    table: &BTreeMap<String, toml::Value>,
    at: &str,
    fields: &mut FieldTable,
) -> Result<Vec<Criterion>> {
    let mut out = Vec::new();
    for (name, value) in table {
        // `<event type> = { <property> = ... }`: criteria on events of that type only.
        if let (true, toml::Value::Table(inner)) = (known_event(name), value) {
            let inner: BTreeMap<String, toml::Value> = inner.clone().into_iter().collect();
            for mut criterion in criteria(&inner, &format!("{at}, on `{name}` events"), fields)? {
                criterion.on = Some(EventKind::from_action(name));
                out.push(criterion);
            }
            continue;
        }
        let property = property(name, at, fields)?;
        let at = format!("{at}, criterion on `{name}`");
        let text = property.is_text();
        let test = match value {
            toml::Value::Array(values) => Test::OneOf(
                values
                    .iter()
                    .map(|v| constant(v, text, &at))
                    .collect::<Result<Vec<_>>>()?,
            ),
            toml::Value::Table(t) => match (t.get("set"), t.len()) {
                (Some(toml::Value::Boolean(set)), 1) => Test::IsSet(*set),
                _ => {
                    return fail(format!(
                        "{at}: a table criterion is `{{ set = true }}` or `{{ set = false }}`"
                    ))
                }
            },
            single => Test::OneOf(vec![constant(single, text, &at)?]),
        };
        out.push(Criterion {
            on: None,
            property,
            test,
        });
    }
    Ok(out)
}

/// The column index of `sources` in the lane, adding it if it is new.
fn column(lane: &mut Lane, sources: Vec<(Option<EventKind>, Property)>) -> usize {
    let column = Column { sources };
    match lane.columns.iter().position(|c| *c == column) {
        Some(i) => i,
        None => {
            lane.columns.push(column);
            lane.columns.len() - 1
        }
    }
}

fn property_column(
    lane: &mut Lane,
    entry: &PropertyEntry,
    at: &str,
    fields: &mut FieldTable,
) -> Result<usize> {
    let sources = sources(lane, entry, at, fields)?;
    Ok(column(lane, sources))
}

/// The properties `entry` reads, per event type.
fn sources(
    lane: &Lane,
    entry: &PropertyEntry,
    at: &str,
    fields: &mut FieldTable,
) -> Result<Vec<(Option<EventKind>, Property)>> {
    Ok(match entry {
        PropertyEntry::One(name) => vec![(None, property(name, at, fields)?)],
        PropertyEntry::ByEvent(by_event) => {
            let mut sources = Vec::new();
            for (event, name) in by_event {
                let kind = EventKind::from_action(event);
                if !lane.events.contains(&kind) {
                    return fail(format!(
                        "{at}: property for event type `{event}`, which the lane does not take \
                         (it takes {})",
                        listed(&lane.events)
                    ));
                }
                sources.push((Some(kind), property(name, at, fields)?));
            }
            sources
        }
    })
}

fn feature(lane: &mut Lane, entry: &FeatureEntry, fields: &mut FieldTable) -> Result<Feature> {
    let at = format!("lane `{}`, feature `{}`", lane.name, entry.name);
    if entry.name.is_empty() || entry.name.contains([':', ' ']) {
        return fail(format!(
            "{at}: a feature name is not empty and has no `:` or space"
        ));
    }
    if lane.features.iter().any(|f| f.name == entry.name) {
        return fail(format!("{at}: two features of the lane have this name"));
    }
    let aggregation = aggregation(lane, entry, &at)?;
    let read = match (&entry.property, aggregation.property()) {
        (Some(p), Some(_)) => Some(property_column(lane, p, &at, fields)?),
        (None, Some(true)) => {
            return fail(format!(
                "{at}: `{}` needs a `property`; allowed: {}",
                entry.aggregation,
                Property::names()
            ))
        }
        (Some(_), None) => {
            return fail(format!("{at}: `{}` takes no `property`", entry.aggregation))
        }
        (None, _) => None,
    };
    if let (Some(column), true) = (read, aggregation.numeric()) {
        numbers_only(&lane.columns[column], &entry.aggregation, &at)?;
    }
    let group = match (&entry.group, aggregation.needs_group()) {
        (Some(g), true) => Some(column(lane, vec![(None, property(g, &at, fields)?)])),
        (None, true) => return fail(format!("{at}: `{}` needs a `group`", entry.aggregation)),
        (Some(_), false) => return fail(format!("{at}: `{}` takes no `group`", entry.aggregation)),
        (None, false) => None,
    };
    let filter = filter(lane, entry, &at, fields)?;
    Ok(Feature {
        name: entry.name.clone(),
        aggregation,
        column: read,
        group,
        filter,
        output: entry.output,
    })
}

/// Fails unless every property of `column` holds numbers, for an `aggregation` that needs them.
fn numbers_only(column: &Column, aggregation: &str, at: &str) -> Result<()> {
    let Some(&(_, property)) = column.sources.iter().find(|(_, p)| !p.is_number()) else {
        return Ok(());
    };
    let name = property.name();
    match property {
        Property::Field(_) => fail(format!(
            "{at}: `{aggregation}` needs numbers, and `{name}` is read as {}; declare it as a \
             number in the catalogue's `[fields]` table: `\"{name}\" = \"number\"`",
            if property.is_text() {
                "text"
            } else {
                "true or false"
            }
        )),
        _ => fail(format!(
            "{at}: `{aggregation}` needs numbers, and `{name}` is not a number"
        )),
    }
}

fn filter(lane: &Lane, entry: &FeatureEntry, at: &str, fields: &mut FieldTable) -> Result<Filter> {
    let events = match &entry.events {
        Some(events) => {
            let events = event_types(events, at)?;
            if let Some(e) = events.iter().find(|e| !lane.events.contains(e)) {
                return fail(format!(
                    "{at}: event type `{}` is not one the lane takes ({})",
                    e.as_str(),
                    listed(&lane.events)
                ));
            }
            Some(events)
        }
        None => None,
    };
    Ok(Filter {
        events,
        criteria: criteria(&entry.criteria, at, fields)?,
    })
}

fn aggregation(lane: &Lane, entry: &FeatureEntry, at: &str) -> Result<Aggregation> {
    let plain = match entry.aggregation.as_str() {
        "count" => Some(Aggregation::Count),
        "sum" => Some(Aggregation::Sum),
        "min" => Some(Aggregation::Min),
        "max" => Some(Aggregation::Max),
        "mean" => Some(Aggregation::Mean),
        "distinct_count" => Some(Aggregation::DistinctCount),
        "distinct_list" => Some(Aggregation::DistinctList),
        "first" => Some(Aggregation::First {
            every_event: entry.every_event,
        }),
        "latest" => Some(Aggregation::Latest {
            every_event: entry.every_event,
        }),
        "most_frequent" => Some(Aggregation::MostFrequent),
        "mean_of_earliest" => Some(Aggregation::MeanOfEarliest),
        "changes" if lane.key == LaneKey::Session => Some(Aggregation::Changes),
        "changes" => {
            return fail(format!(
                "{at}: `changes` counts changes between consecutive events of a session; it \
                 needs a session lane"
            ))
        }
        "groups_at_least" => match entry.at_least {
            Some(n) if n >= 1 => Some(Aggregation::GroupsAtLeast(n)),
            _ => {
                return fail(format!(
                    "{at}: `groups_at_least` needs `at_least`, a whole number of at least 1"
                ))
            }
        },
        _ => None,
    };
    if let Some(plain) = plain {
        if entry.of.is_some() {
            return fail(format!("{at}: `{}` takes no `of`", entry.aggregation));
        }
        return Ok(plain);
    }
    derived(lane, entry, at).map(Aggregation::Derived)
}

fn derived(lane: &Lane, entry: &FeatureEntry, at: &str) -> Result<Derived> {
    let arity = match entry.aggregation.as_str() {
        "ratio" | "difference" | "range" => 2,
        "compare" => 1,
        other => {
            return fail(format!(
                "{at}: unknown aggregation `{other}`; allowed: {NAMES}"
            ))
        }
    };
    let of = entry.of.as_deref().unwrap_or_default();
    if of.len() != arity {
        return fail(format!(
            "{at}: `{}` needs `of` with {arity} feature name(s) of the same lane",
            entry.aggregation
        ));
    }
    let mut inputs = Vec::new();
    for name in of {
        match lane.features.iter().position(|f| &f.name == name) {
            Some(i) => inputs.push(i),
            None => {
                let earlier: Vec<&str> = lane.features.iter().map(|f| f.name.as_str()).collect();
                return fail(format!(
                    "{at}: `of` names `{name}`, which is not a feature listed before it in the \
                     lane (those are: {})",
                    earlier.join(", ")
                ));
            }
        }
    }
    Ok(match entry.aggregation.as_str() {
        "ratio" => Derived::Ratio {
            of: (inputs[0], inputs[1]),
            when_zero: match &entry.when_zero {
                Some(v) => constant(v, false, at)?.number(),
                None => None,
            },
        },
        "difference" => Derived::Difference(inputs[0], inputs[1]),
        "range" => Derived::Range(inputs[0], inputs[1]),
        _ => {
            let op = entry.op.as_deref().and_then(Op::parse);
            let (Some(op), Some(than)) = (op, entry.than.as_ref()) else {
                return fail(format!(
                    "{at}: `compare` needs `op` (=, !=, <, <=, >, >=) and `than` (a constant)"
                ));
            };
            let text = matches!(than, toml::Value::String(_));
            Derived::Compare {
                of: inputs[0],
                op,
                than: constant(than, text, at)?,
            }
        }
    })
}
