//! Self-describing JSON shared by the three encodings: Iglu schema matching, the entity bodies the
//! job reads, and lenient leaf values.
//!
//! Leaves are kept as borrowed JSON text ([`Leaf`]) while the document is scanned and only decoded
//! (with the field named in any error) once we know we need them; entity bodies are only decoded
//! when their schema matches. Nothing here builds a `serde_json::Value` tree.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::value::RawValue;

use super::error::{ParseError, Reason};
use crate::event::{Price, Product, Promotion};
use crate::fields::{
    EntityField, EntityFields, EntityKind, FieldType, FieldValue, Slot, ENTITY_KINDS,
};

/// The JSON text of one value, decoded later if needed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Leaf<'a>(pub &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Leaf<'a>, D::Error> {
        <&'de RawValue>::deserialize(deserializer).map(|raw| Leaf(raw.get()))
    }
}

/// A JSON leaf whose decoding is deferred; `None` for a missing key (or, from serde, `null`).
pub(crate) type Raw<'a> = Option<Leaf<'a>>;

/// A JSON string borrowed from the input when it has no escapes, owned otherwise.
pub(crate) struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Str<'a>, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor)
    }
}

/// A string leaf; `null` and `""` are `None` (SPEC: empty string = null).
pub(crate) fn text<'a>(
    raw: Raw<'a>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, ParseError> {
    let Some(Leaf(s)) = raw else { return Ok(None) };
    match s.as_bytes().first() {
        Some(b'"') => {
            let inner = s.get(1..s.len().saturating_sub(1)).unwrap_or("");
            // Leaves are short, where a plain loop beats a call to memchr.
            let value = if !inner.bytes().any(|b| b == b'\\') {
                Cow::Borrowed(inner)
            } else {
                Cow::Owned(
                    serde_json::from_str::<String>(s).map_err(|e| ParseError::json(field, e))?,
                )
            };
            Ok((!value.is_empty()).then_some(value))
        }
        Some(b'n') => Ok(None),
        _ => Err(ParseError::new(field, Reason::NotAString)),
    }
}

/// An owned string leaf, for the fields that end up in the event.
pub(crate) fn owned(raw: Raw<'_>, field: &'static str) -> Result<Option<String>, ParseError> {
    Ok(text(raw, field)?.map(Cow::into_owned))
}

/// An identifier leaf: trackers send product ids as strings, but a JSON number is an id too.
fn ident(raw: Raw<'_>, field: &'static str) -> Result<Option<String>, ParseError> {
    match raw {
        Some(Leaf(s)) if s.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
            Ok(Some(s.to_owned()))
        }
        _ => owned(raw, field),
    }
}

/// A number leaf. Numbers may come as JSON numbers or as strings holding one (some trackers
/// stringify prices); `null` and `""` are `None`; anything else is `InvalidNumber`.
pub(crate) fn number(raw: Raw<'_>, field: &'static str) -> Result<Option<f64>, ParseError> {
    let Some(Leaf(s)) = raw else { return Ok(None) };
    let text = match s.as_bytes().first() {
        Some(b'"') => match text(raw, field)? {
            Some(t) => t,
            None => return Ok(None),
        },
        Some(b'n') => return Ok(None),
        _ => Cow::Borrowed(s),
    };
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(ParseError::new(field, Reason::InvalidNumber)),
    }
}

/// A money leaf, in micro-units.
pub(crate) fn price(raw: Raw<'_>, field: &'static str) -> Result<Option<Price>, ParseError> {
    match number(raw, field)? {
        None => Ok(None),
        Some(v) => Price::from_f64(v)
            .map(Some)
            .ok_or(ParseError::new(field, Reason::InvalidNumber)),
    }
}

/// A non-negative integer leaf (checkout step numbers); `2.0` is accepted, `2.5` is not.
pub(crate) fn small_uint(raw: Raw<'_>, field: &'static str) -> Result<Option<u32>, ParseError> {
    match number(raw, field)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&v) => Ok(Some(v as u32)),
        Some(_) => Err(ParseError::new(field, Reason::InvalidNumber)),
    }
}

/// Whether an Iglu URI `iglu:<vendor>/<name>/jsonschema/<model>-<revision>-<addition>` names
/// `vendor/name` at model 1. Any revision and addition is accepted: within a model SchemaVer
/// changes are backward compatible, and Snowplow JSON keys carry only the model, so accepting
/// exactly model 1 keeps the TSV and JSON encodings in agreement.
pub(crate) fn is_schema(uri: &str, vendor: &str, name: &str) -> bool {
    let Some(rest) = uri.strip_prefix("iglu:") else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(vendor) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('/') else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(name) else {
        return false;
    };
    let Some(version) = rest.strip_prefix("/jsonschema/") else {
        return false;
    };
    // `1-<revision>-<addition>`, both non-empty runs of digits.
    let Some(version) = version.strip_prefix("1-") else {
        return false;
    };
    let version = version.as_bytes();
    match version.iter().position(|&b| b == b'-') {
        Some(dash) => is_digits(&version[..dash]) && is_digits(&version[dash + 1..]),
        None => false,
    }
}

fn is_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

const ECOMMERCE: &str = "com.snowplowanalytics.snowplow.ecommerce";
pub(crate) const SNOWPLOW: &str = "com.snowplowanalytics.snowplow";

/// The entities the job reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entity {
    /// An ecommerce entity (`product`, `cart`, ...).
    Ecommerce(EntityKind),
    ClientSession,
    Yauaa,
    /// The ecommerce action, a self-describing event rather than an entity.
    Action,
}
impl Entity {
    /// Which entity an Iglu URI names, if the job reads it.
    pub(crate) fn of_schema(uri: &str) -> Option<Entity> {
        // Cheap prefilter: almost every entity of a typical event (web_page, ua_parser, ...) is
        // dismissed on its vendor before the version is looked at.
        let tail = uri.strip_prefix("iglu:")?;
        if tail.starts_with(ECOMMERCE) {
            if tail.as_bytes().get(ECOMMERCE.len() + 1) == Some(&b's') {
                return is_schema(uri, ECOMMERCE, "snowplow_ecommerce_action")
                    .then_some(Entity::Action);
            }
            ENTITY_KINDS
                .into_iter()
                .find(|(name, _)| is_schema(uri, ECOMMERCE, name))
                .map(|(_, kind)| Entity::Ecommerce(kind))
        } else if tail.starts_with("com.snowplowanalytics.snowplow/client_session/") {
            is_schema(uri, SNOWPLOW, "client_session").then_some(Entity::ClientSession)
        } else if tail.starts_with("nl.basjes/yauaa_context/") {
            is_schema(uri, "nl.basjes", "yauaa_context").then_some(Entity::Yauaa)
        } else {
            None
        }
    }
}

impl Entity {
    /// The ecommerce schema whose fields a catalogue can keep, if this is one.
    pub(crate) fn kind(self) -> Option<EntityKind> {
        match self {
            Entity::Ecommerce(kind) => Some(kind),
            Entity::ClientSession | Entity::Yauaa | Entity::Action => None,
        }
    }
}

/// The kept fields of one entity body ([`crate::fields`]), as raw leaves.
pub(crate) type Kept<'a> = Vec<(Slot, Leaf<'a>)>;

/// A kept field's value, read as its type; `None` for `null` and `""`.
fn kept_value(leaf: Leaf<'_>, field: &EntityField) -> Result<Option<FieldValue>, ParseError> {
    let raw = Some(leaf);
    let literal = |s: &str| matches!(s.as_bytes().first(), Some(b't' | b'f' | b'-' | b'0'..=b'9'));
    match field.kind {
        FieldType::Text if literal(leaf.0) => Ok(Some(FieldValue::Text(leaf.0.to_owned()))),
        FieldType::Text => Ok(owned(raw, field.name)?.map(FieldValue::Text)),
        FieldType::Number => Ok(price(raw, field.name)?.map(FieldValue::Number)),
        FieldType::Bool => {
            let value = match leaf.0 {
                "true" => return Ok(Some(FieldValue::Bool(true))),
                "false" => return Ok(Some(FieldValue::Bool(false))),
                _ => text(raw, field.name)
                    .map_err(|_| ParseError::new(field.name, Reason::NotABoolean))?,
            };
            match value.as_deref() {
                None => Ok(None),
                Some("true") => Ok(Some(FieldValue::Bool(true))),
                Some("false") => Ok(Some(FieldValue::Bool(false))),
                Some(_) => Err(ParseError::new(field.name, Reason::NotABoolean)),
            }
        }
    }
}

/// Body of `com.snowplowanalytics.snowplow.ecommerce/product`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ProductData<'a> {
    #[serde(borrow, default)]
    pub(crate) id: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) name: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) category: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) brand: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) variant: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) price: Raw<'a>,
}

impl ProductData<'_> {
    /// The product, or `None` when it has no id: the flink-live-shopper transform writes
    /// `"product": {}` for actions without a product, which is not an error.
    pub(crate) fn to_product(&self) -> Result<Option<Product>, ParseError> {
        let Some(id) = ident(self.id, "product.id")? else {
            return Ok(None);
        };
        Ok(Some(Product {
            id,
            name: owned(self.name, "product.name")?,
            category: owned(self.category, "product.category")?,
            brand: owned(self.brand, "product.brand")?,
            variant: owned(self.variant, "product.variant")?,
            price: price(self.price, "product.price")?,
        }))
    }
}

/// Body of `com.snowplowanalytics.snowplow.ecommerce/cart`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct CartData<'a> {
    #[serde(borrow, default)]
    pub(crate) total_value: Raw<'a>,
}

/// Body of `com.snowplowanalytics.snowplow.ecommerce/transaction`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct TransactionData<'a> {
    #[serde(borrow, default)]
    pub(crate) revenue: Raw<'a>,
}

/// Body of `com.snowplowanalytics.snowplow.ecommerce/checkout_step`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct CheckoutStepData<'a> {
    #[serde(borrow, default)]
    pub(crate) step: Raw<'a>,
}

/// Body of `com.snowplowanalytics.snowplow.ecommerce/promotion`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct PromotionData<'a> {
    #[serde(borrow, default)]
    pub(crate) id: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) name: Raw<'a>,
}

impl PromotionData<'_> {
    /// The promotion, or `None` when it has no id: as for products, an entity that names no
    /// promotion says nothing a feature could use, which is not a reason to lose the event.
    pub(crate) fn to_promotion(&self) -> Result<Option<Promotion>, ParseError> {
        let Some(id) = ident(self.id, "promotion.id")? else {
            return Ok(None);
        };
        Ok(Some(Promotion {
            id,
            name: owned(self.name, "promotion.name")?,
        }))
    }
}

/// Body of `com.snowplowanalytics.snowplow/client_session`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ClientSessionData<'a> {
    #[serde(borrow, default, rename = "sessionId")]
    pub(crate) session_id: Raw<'a>,
}

/// Body of `nl.basjes/yauaa_context`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct YauaaData<'a> {
    #[serde(borrow, default, rename = "deviceClass")]
    pub(crate) device_class: Raw<'a>,
}

/// Body of `com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action`.
#[derive(serde::Deserialize, Default)]
pub(crate) struct ActionData<'a> {
    #[serde(borrow, default, rename = "type")]
    pub(crate) kind: Raw<'a>,
    #[serde(borrow, default)]
    pub(crate) name: Raw<'a>,
}

/// A struct that must be a JSON object. serde's derived structs also accept arrays (fields by
/// position), which would let `[1]` pass for a product with id 1.
pub(crate) struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Obj<T>, D::Error> {
        struct ObjVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        deserializer.deserialize_map(ObjVisitor(std::marker::PhantomData))
    }
}

/// An entity body of a kind the job reads, decoded in the same pass as its envelope.
pub(crate) enum Body<'a> {
    Product(ProductData<'a>),
    Cart(CartData<'a>),
    Transaction(TransactionData<'a>),
    CheckoutStep(CheckoutStepData<'a>),
    Promotion(PromotionData<'a>),
    ClientSession(ClientSessionData<'a>),
    Yauaa(YauaaData<'a>),
    Action(ActionData<'a>),
    /// An entity read only for its kept fields.
    Other,
}

/// What the entities of one event contribute. Where an entity that carries a single value
/// (cart, transaction, ...) appears more than once, the first one with a value wins.
#[derive(Default, Debug)]
pub(crate) struct Entities {
    pub products: Vec<Product>,
    pub cart_total: Option<Price>,
    pub revenue: Option<Price>,
    pub checkout_step: Option<u32>,
    pub promotion: Option<Promotion>,
    pub session_id: Option<String>,
    pub device_class: Option<String>,
    /// The kept fields ([`crate::fields`]), by slot.
    pub fields: Vec<(Slot, FieldValue)>,
}

impl Entities {
    /// Adds a product entity; whether it is the event's first product, the one whose kept fields
    /// count.
    pub(crate) fn add_product(&mut self, data: &ProductData<'_>) -> Result<bool, ParseError> {
        match data.to_product()? {
            Some(product) => {
                self.products.push(product);
                Ok(self.products.len() == 1)
            }
            None => Ok(false),
        }
    }

    pub(crate) fn add_cart(&mut self, data: &CartData<'_>) -> Result<(), ParseError> {
        let value = price(data.total_value, "cart.total_value")?;
        self.cart_total = self.cart_total.or(value);
        Ok(())
    }

    pub(crate) fn add_transaction(&mut self, data: &TransactionData<'_>) -> Result<(), ParseError> {
        let value = price(data.revenue, "transaction.revenue")?;
        self.revenue = self.revenue.or(value);
        Ok(())
    }

    pub(crate) fn add_checkout_step(
        &mut self,
        data: &CheckoutStepData<'_>,
    ) -> Result<(), ParseError> {
        let value = small_uint(data.step, "checkout_step.step")?;
        self.checkout_step = self.checkout_step.or(value);
        Ok(())
    }

    /// Adds a promotion entity; whether it is the event's promotion, the one whose kept fields
    /// count.
    pub(crate) fn add_promotion(&mut self, data: &PromotionData<'_>) -> Result<bool, ParseError> {
        // Later entities are still checked, so that a broken one is a bad row wherever it is.
        let promotion = data.to_promotion()?;
        if self.promotion.is_none() && promotion.is_some() {
            self.promotion = promotion;
            return Ok(true);
        }
        Ok(false)
    }

    pub(crate) fn add_client_session(
        &mut self,
        data: &ClientSessionData<'_>,
    ) -> Result<(), ParseError> {
        if self.session_id.is_none() {
            self.session_id = owned(data.session_id, "client_session.sessionId")?;
        }
        Ok(())
    }

    pub(crate) fn add_yauaa(&mut self, data: &YauaaData<'_>) -> Result<(), ParseError> {
        if self.device_class.is_none() {
            self.device_class = owned(data.device_class, "yauaa_context.deviceClass")?;
        }
        Ok(())
    }

    /// Adds an entity body decoded while the envelope was read, with its kept fields.
    pub(crate) fn add_body(
        &mut self,
        body: &Body<'_>,
        kept: &[(Slot, Leaf<'_>)],
        fields: &EntityFields,
    ) -> Result<(), ParseError> {
        let counts = match body {
            Body::Product(d) => self.add_product(d)?,
            Body::Promotion(d) => self.add_promotion(d)?,
            Body::Cart(d) => self.add_cart(d).map(|()| true)?,
            Body::Transaction(d) => self.add_transaction(d).map(|()| true)?,
            Body::CheckoutStep(d) => self.add_checkout_step(d).map(|()| true)?,
            Body::ClientSession(d) => self.add_client_session(d).map(|()| true)?,
            Body::Yauaa(d) => self.add_yauaa(d).map(|()| true)?,
            Body::Action(_) | Body::Other => true,
        };
        self.add_kept(kept, fields, counts)
    }

    /// Adds the kept fields of one entity: each is checked, and kept when the entity `counts`
    /// (the first product, the promotion; of the other entities the first one that has the
    /// field).
    pub(crate) fn add_kept(
        &mut self,
        kept: &[(Slot, Leaf<'_>)],
        fields: &EntityFields,
        counts: bool,
    ) -> Result<(), ParseError> {
        for &(slot, leaf) in kept {
            let Some(field) = fields.get(slot) else {
                continue;
            };
            let value = kept_value(leaf, field)?;
            if let (true, Some(value)) = (counts, value) {
                if !self.fields.iter().any(|(s, _)| *s == slot) {
                    self.fields.push((slot, value));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::NO_FIELDS;

    fn raw(json: &str) -> Leaf<'_> {
        Leaf(json)
    }

    #[test]
    fn schema_versions() {
        let p = "com.snowplowanalytics.snowplow.ecommerce";
        assert!(is_schema(
            "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0",
            p,
            "product"
        ));
        assert!(is_schema(
            "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-12",
            p,
            "product"
        ));
        assert!(!is_schema(
            "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/2-0-0",
            p,
            "product"
        ));
        assert!(!is_schema(
            "iglu:com.snowplowanalytics.snowplow.ecommerce/products/jsonschema/1-0-0",
            p,
            "product"
        ));
        assert!(!is_schema(
            "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0",
            p,
            "product"
        ));
        assert!(!is_schema(
            "com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0",
            p,
            "product"
        ));
        assert_eq!(
            Entity::of_schema(
                "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2"
            ),
            Some(Entity::ClientSession)
        );
        assert_eq!(
            Entity::of_schema("iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0"),
            None
        );
        assert_eq!(
            Entity::of_schema("iglu:nl.basjes/yauaa_context/jsonschema/1-0-4"),
            Some(Entity::Yauaa)
        );
    }

    #[test]
    fn leaves() {
        assert_eq!(number(Some(raw("200")), "f").unwrap(), Some(200.0));
        assert_eq!(number(Some(raw("42.99")), "f").unwrap(), Some(42.99));
        assert_eq!(number(Some(raw("\" 12.5 \"")), "f").unwrap(), Some(12.5));
        assert_eq!(number(Some(raw("\"\"")), "f").unwrap(), None);
        assert_eq!(number(Some(raw("null")), "f").unwrap(), None);
        for bad in ["true", "\"abc\"", "\"NaN\"", "{}", "[1]"] {
            assert_eq!(
                number(Some(raw(bad)), "f").unwrap_err().reason,
                Reason::InvalidNumber,
                "{bad}"
            );
        }
        assert_eq!(
            price(Some(raw("1e300")), "f").unwrap_err().reason,
            Reason::InvalidNumber
        );
        assert_eq!(small_uint(Some(raw("2.0")), "f").unwrap(), Some(2));
        assert!(small_uint(Some(raw("2.5")), "f").is_err());
        assert!(small_uint(Some(raw("-1")), "f").is_err());
        assert_eq!(
            text(Some(raw("\"a\\\"b\"")), "f").unwrap().as_deref(),
            Some("a\"b")
        );
        assert_eq!(text(Some(raw("\"\"")), "f").unwrap(), None);
        assert_eq!(
            text(Some(raw("5")), "f").unwrap_err().reason,
            Reason::NotAString
        );
        assert_eq!(ident(Some(raw("17")), "f").unwrap().as_deref(), Some("17"));
    }

    #[test]
    fn escaped_schema_uris_are_read() {
        let json = r#"{"schema":"iglu:com.snowplowanalytics.snowplow\/contexts\/jsonschema\/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce\/cart\/jsonschema\/1-0-0","data":{"total_value":"9.5"}}]}"#;
        let mut entities = Entities::default();
        super::super::envelope::read_contexts(json, "contexts", &mut entities, &NO_FIELDS).unwrap();
        assert_eq!(entities.cart_total, Some(Price(9_500_000)));
    }

    #[test]
    fn wrong_envelope_is_rejected() {
        let json = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":[]}"#;
        let err = super::super::envelope::read_contexts(
            json,
            "contexts",
            &mut Entities::default(),
            &NO_FIELDS,
        )
        .unwrap_err();
        assert!(matches!(err.reason, Reason::UnexpectedSchema { .. }));
    }
}
