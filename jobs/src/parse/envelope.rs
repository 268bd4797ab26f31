//! The enriched JSON columns: `contexts` / `derived_contexts` (a `contexts` envelope of
//! self-describing entities) and `unstruct_event` (an `unstruct_event` envelope of one
//! self-describing event).
//!
//! One pass of the [`scan`](super::scan) scanner per column: each entity's `schema` is read first
//! (Snowplow always writes it first), so its `data` is either read straight into the body the job
//! needs or skipped (validated, not kept). A `data` that comes before its `schema` is legal JSON,
//! so it is kept as text and read once the schema is known.

use super::entities::{
    is_schema, ActionData, Body, CartData, CheckoutStepData, ClientSessionData, Entities, Entity,
    Kept, Leaf, ProductData, PromotionData, TransactionData, YauaaData, SNOWPLOW,
};
use super::error::{ParseError, Reason};
use super::scan::{self, JStr, ScanError, Scanner};
use crate::fields::{EntityFields, EntityKind, NO_FIELDS};

/// Reads the body of `entity` (an object) into the struct the job reads, keeping only the keys it
/// uses, and the fields of `fields` it has, as raw text.
pub(crate) fn body<'a>(
    entity: Entity,
    sc: &mut Scanner<'a>,
    fields: &EntityFields,
) -> scan::Result<(Body<'a>, Kept<'a>)> {
    let kind = entity.kind().filter(|&kind| fields.wants(kind));
    let mut kept = Kept::new();
    macro_rules! read {
        ($variant:ident $(, $ty:ident { $($key:literal => $field:ident),* })?) => {{
            $(let mut data = $ty::default();)?
            sc.object(|sc, key| {
                let decoded;
                let name = match key.plain() {
                    Some(name) => name,
                    None => {
                        decoded = key.decode()?;
                        &*decoded
                    }
                };
                match name {
                    $($($key => data.$field = Some(Leaf(sc.value()?)),)*)?
                    _ => match kind.and_then(|kind| fields.slot(kind, name)) {
                        Some(slot) => kept.push((slot, Leaf(sc.value()?))),
                        None => sc.skip_value()?,
                    },
                }
                Ok(())
            })?;
            // The type is named only so that the optional part repeats with it.
            Body::$variant$(({ let data: $ty = data; data }))?
        }};
    }
    let body = match entity {
        Entity::Ecommerce(EntityKind::Product) => {
            read!(Product, ProductData {
                "id" => id, "name" => name, "category" => category, "brand" => brand,
                "variant" => variant, "price" => price
            })
        }
        Entity::Ecommerce(EntityKind::Cart) => {
            read!(Cart, CartData { "total_value" => total_value })
        }
        Entity::Ecommerce(EntityKind::Transaction) => {
            read!(Transaction, TransactionData { "revenue" => revenue })
        }
        Entity::Ecommerce(EntityKind::CheckoutStep) => {
            read!(CheckoutStep, CheckoutStepData { "step" => step })
        }
        Entity::Ecommerce(EntityKind::Promotion) => {
            read!(Promotion, PromotionData { "id" => id, "name" => name })
        }
        Entity::ClientSession => {
            read!(ClientSession, ClientSessionData { "sessionId" => session_id })
        }
        Entity::Yauaa => read!(Yauaa, YauaaData { "deviceClass" => device_class }),
        Entity::Action => read!(Action, ActionData { "type" => kind, "name" => name }),
        Entity::Ecommerce(_) => read!(Other),
    };
    Ok((body, kept))
}

fn missing(sc_end: usize, what: &'static str) -> ScanError {
    ScanError { at: sc_end, what }
}

/// An entity body with its kept fields.
type Read<'a> = (Body<'a>, Kept<'a>);

/// Reads one self-describing JSON (`{"schema": .., "data": ..}`); `None` when its schema is not
/// one the job reads.
fn item<'a>(sc: &mut Scanner<'a>, fields: &EntityFields) -> scan::Result<Option<Read<'a>>> {
    // Outer None: no schema seen yet; Some(None): a schema the job does not read.
    let mut entity: Option<Option<Entity>> = None;
    let mut read: Option<Read<'a>> = None;
    let mut early_data: Option<&'a str> = None;
    let mut has_data = false;
    sc.object(|sc, key| {
        if key.is("schema") {
            let schema = Entity::of_schema(&sc.string()?.decode()?);
            // An entity the event model has no field of is read only when a field of it is kept.
            entity = Some(schema.filter(|e| match e {
                Entity::Ecommerce(kind) => kind.has_named_fields() || fields.wants(*kind),
                _ => true,
            }));
        } else if key.is("data") {
            has_data = true;
            match entity {
                Some(Some(e)) => read = Some(body(e, sc, fields)?),
                Some(None) => sc.skip_value()?,
                None => early_data = Some(sc.value()?),
            }
        } else {
            sc.skip_value()?;
        }
        Ok(())
    })?;
    let Some(entity) = entity else {
        return Err(missing(0, "missing field `schema`"));
    };
    if !has_data {
        return Err(missing(0, "missing field `data`"));
    }
    match (entity, early_data) {
        (Some(e), Some(text)) => body(e, &mut Scanner::new(text), fields).map(Some),
        _ => Ok(read),
    }
}

/// Runs `read` over a whole column, requiring nothing but whitespace after it.
fn read_column<'a, T>(
    json: &'a str,
    column: &'static str,
    read: impl FnOnce(&mut Scanner<'a>) -> scan::Result<T>,
) -> Result<T, ParseError> {
    let mut sc = Scanner::new(json);
    read(&mut sc)
        .and_then(|value| sc.end().map(|()| value))
        .map_err(|e| {
            ParseError::new(
                column,
                Reason::InvalidJson {
                    detail: e.to_string(),
                },
            )
        })
}

fn check_envelope(
    schema: Option<JStr<'_>>,
    name: &str,
    column: &'static str,
) -> Result<(), ParseError> {
    let invalid = |detail: &str| {
        ParseError::new(
            column,
            Reason::InvalidJson {
                detail: detail.to_owned(),
            },
        )
    };
    let schema = schema.ok_or_else(|| invalid("missing field `schema`"))?;
    let schema = schema.decode().map_err(|e| invalid(&e.to_string()))?;
    if is_schema(&schema, SNOWPLOW, name) {
        Ok(())
    } else {
        Err(ParseError::new(
            column,
            Reason::UnexpectedSchema {
                schema: schema.into_owned(),
            },
        ))
    }
}

/// Reads an enriched `contexts` or `derived_contexts` column (a `contexts` model-1 envelope)
/// into `entities`.
pub(crate) fn read_contexts(
    json: &str,
    column: &'static str,
    entities: &mut Entities,
    fields: &EntityFields,
) -> Result<(), ParseError> {
    // Bodies are added as they are read (no list to allocate); the first error in a body's values
    // is kept while the rest of the column is still checked, so broken JSON is reported first.
    let mut value_error = None;
    let (schema, has_data) = read_column(json, column, |sc| {
        let mut schema = None;
        let mut has_data = false;
        sc.object(|sc, key| {
            if key.is("schema") {
                schema = Some(sc.string()?);
            } else if key.is("data") {
                has_data = true;
                sc.array(|sc| {
                    if let Some((body, kept)) = item(sc, fields)? {
                        if value_error.is_none() {
                            value_error = entities.add_body(&body, &kept, fields).err();
                        }
                    }
                    Ok(())
                })?;
            } else {
                sc.skip_value()?;
            }
            Ok(())
        })?;
        Ok((schema, has_data))
    })?;
    check_envelope(schema, "contexts", column)?;
    if !has_data {
        return Err(ParseError::new(
            column,
            Reason::InvalidJson {
                detail: "missing field `data`".to_owned(),
            },
        ));
    }
    value_error.map_or(Ok(()), Err)
}

/// Reads an enriched `unstruct_event` column (an `unstruct_event` model-1 envelope); returns the
/// ecommerce action if the event is one.
pub(crate) fn read_unstruct<'a>(
    json: &'a str,
    column: &'static str,
) -> Result<Option<ActionData<'a>>, ParseError> {
    let (schema, data) = read_column(json, column, |sc| {
        let mut schema = None;
        let mut data = None;
        sc.object(|sc, key| {
            if key.is("schema") {
                schema = Some(sc.string()?);
            } else if key.is("data") {
                data = Some(item(sc, &NO_FIELDS)?);
            } else {
                sc.skip_value()?;
            }
            Ok(())
        })?;
        Ok((schema, data))
    })?;
    check_envelope(schema, "unstruct_event", column)?;
    match data {
        None => Err(ParseError::new(
            column,
            Reason::InvalidJson {
                detail: "missing field `data`".to_owned(),
            },
        )),
        Some(Some((Body::Action(action), _))) => Ok(Some(action)),
        Some(_) => Ok(None),
    }
}

/// Reads the bodies of `entity` in `json` (one object, an array of them, or `null`) into
/// `entities` with their kept fields: how the encodings that carry entities outside of a
/// `contexts` envelope read an entity whose fields a catalogue keeps. Broken JSON is an
/// `InvalidJson` of `field`.
pub(crate) fn read_bodies(
    json: &str,
    field: &'static str,
    entity: Entity,
    entities: &mut Entities,
    fields: &EntityFields,
) -> Result<(), ParseError> {
    let mut value_error = None;
    let mut add = |sc: &mut Scanner<'_>| -> scan::Result<()> {
        let (body, kept) = body(entity, sc, fields)?;
        if value_error.is_none() {
            value_error = entities.add_body(&body, &kept, fields).err();
        }
        Ok(())
    };
    read_column(json, field, |sc| {
        match json.trim_start().as_bytes().first() {
            Some(b'[') => sc.array(|sc| add(sc)),
            Some(b'n') => sc.skip_value(),
            _ => add(sc),
        }
    })?;
    value_error.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Price;

    #[test]
    fn data_before_schema_is_still_read() {
        let json = r#"{"data":[{"data":{"id":"P1","price":3},"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0"}],"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"}"#;
        let mut entities = Entities::default();
        read_contexts(json, "contexts", &mut entities, &NO_FIELDS).unwrap();
        assert_eq!(entities.products.len(), 1);
        assert_eq!(entities.products[0].price, Some(Price(3_000_000)));
        let json = r#"{"data":{"data":{"type":"add_to_cart"},"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/jsonschema/1-0-2"},"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0"}"#;
        assert!(read_unstruct(json, "unstruct_event").unwrap().is_some());
    }

    #[test]
    fn shape_errors() {
        let mut entities = Entities::default();
        for json in [
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0"}"#,
            r#"{"data":[]}"#,
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:x/y/jsonschema/1-0-0"}]}"#,
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"data":{}}]}"#,
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/cart/jsonschema/1-0-0","data":[5]}]}"#,
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":{}}"#,
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[5]}"#,
            r#"{"schema":5,"data":[]}"#,
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[]}x"#,
            "[]",
        ] {
            let err = read_contexts(json, "contexts", &mut entities, &NO_FIELDS).unwrap_err();
            assert!(
                matches!(err.reason, Reason::InvalidJson { .. }),
                "{json}: {err}"
            );
        }
    }

    #[test]
    fn leaves_keep_their_json_text() {
        let json = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0","data":{"name":"x","id":"A\"1","price":"12.50","category":null}}]}"#;
        let mut entities = Entities::default();
        read_contexts(json, "contexts", &mut entities, &NO_FIELDS).unwrap();
        assert_eq!(entities.products[0].id, "A\"1");
        assert_eq!(entities.products[0].price, Some(Price(12_500_000)));
        assert_eq!(entities.products[0].category, None);
    }
}
