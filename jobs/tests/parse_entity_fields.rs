//! Entity fields beyond the event model's (`product.quantity`, `user.is_guest`, ...): kept only
//! when asked for, read alike in the three encodings, typed as declared, and a bad row naming the
//! field when one does not hold its type.

use jobs::event::{Price, ShopperEvent};
use jobs::fields::{EntityFields, EntityKind, FieldType, FieldValue, Slot, NO_FIELDS};
use jobs::parse::{parse_event, parse_event_keeping, Limits, ParseError, Reason, FIELD_NAMES};

const ECOMMERCE: &str = "iglu:com.snowplowanalytics.snowplow.ecommerce";

/// An `add_to_cart` with these product entity bodies and cart body, and (where the encoding has
/// contexts) these other ecommerce entities by schema name.
struct Event<'a> {
    products: &'a [&'a str],
    cart: Option<&'a str>,
    others: &'a [(&'a str, &'a str)],
}

impl Event<'_> {
    fn tsv(&self) -> String {
        let mut columns = vec![String::new(); FIELD_NAMES.len()];
        let mut set = |name: &str, value: String| {
            let i = FIELD_NAMES.iter().position(|n| *n == name).expect(name);
            columns[i] = value;
        };
        set("event", "unstruct".into());
        set("event_id", "2a2e92cb-d65b-4978-bf65-498850bd8c08".into());
        set("collector_tstamp", "2024-08-14 15:27:51.686".into());
        set("domain_userid", "d1".into());
        set(
            "unstruct_event",
            format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{{"schema":"{ECOMMERCE}/snowplow_ecommerce_action/jsonschema/1-0-2","data":{{"type":"add_to_cart"}}}}}}"#
            ),
        );
        let entity = |name: &str, body: &str| {
            format!(r#"{{"schema":"{ECOMMERCE}/{name}/jsonschema/1-0-0","data":{body}}}"#)
        };
        let mut entities: Vec<String> =
            self.products.iter().map(|p| entity("product", p)).collect();
        entities.extend(self.cart.map(|c| entity("cart", c)));
        entities.extend(self.others.iter().map(|(name, body)| entity(name, body)));
        set(
            "contexts",
            format!(
                r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{}]}}"#,
                entities.join(",")
            ),
        );
        columns.join("\t")
    }

    fn snowplow_json(&self) -> String {
        let key =
            |name: &str| format!("contexts_com_snowplowanalytics_snowplow_ecommerce_{name}_1");
        let mut json = String::from(
            r#"{"event_id":"2a2e92cb-d65b-4978-bf65-498850bd8c08","event":"unstruct","collector_tstamp":"2024-08-14T15:27:51.686Z","domain_userid":"d1","unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1":{"type":"add_to_cart"}"#,
        );
        json.push_str(&format!(
            r#","{}":[{}]"#,
            key("product"),
            self.products.join(",")
        ));
        if let Some(cart) = self.cart {
            json.push_str(&format!(r#","{}":[{cart}]"#, key("cart")));
        }
        for (name, body) in self.others {
            json.push_str(&format!(r#","{}":[{body}]"#, key(name)));
        }
        json.push('}');
        json
    }

    /// flink-live-shopper JSON; it carries no ecommerce user or page entity.
    fn flink_json(&self) -> String {
        let cart = self
            .cart
            .map(|c| format!(r#","cart":{c}"#))
            .unwrap_or_default();
        format!(
            r#"{{"id":"2a2e92cb-d65b-4978-bf65-498850bd8c08","type":"add_to_cart","timestamp":"2024-08-14T15:27:51.686Z","payload":{{"products":[{}]{cart}}},"enrich":{{"user":{{"domain_userid":"d1"}}}}}}"#,
            self.products.join(",")
        )
    }

    /// The event in each encoding that carries its entities, by name.
    fn encodings(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("TSV", self.tsv()), ("Snowplow JSON", self.snowplow_json())];
        if self.others.is_empty() {
            out.push(("flink-live-shopper JSON", self.flink_json()));
        }
        out
    }

    /// Parses the event in every encoding keeping `fields`; they must all agree.
    fn parse(&self, fields: &EntityFields) -> Result<ShopperEvent, ParseError> {
        let mut results = self.encodings().into_iter().map(|(name, text)| {
            (
                name,
                parse_event_keeping(text.as_bytes(), &Limits::default(), fields),
            )
        });
        let (_, first) = results.next().expect("an encoding");
        for (name, result) in results {
            match (&first, &result) {
                (Ok(a), Ok(b)) => assert_eq!(a.fields, b.fields, "{name} differs from TSV"),
                (Err(a), Err(b)) => assert_eq!(a, b, "{name} differs from TSV"),
                _ => panic!("{name}: {result:?}, TSV: {first:?}"),
            }
        }
        first
    }
}

struct Kept {
    fields: EntityFields,
    stock: Slot,
    size: Slot,
    on_sale: Slot,
    colour: Slot,
    missing: Slot,
    currency: Slot,
}

fn kept() -> Kept {
    let mut fields = EntityFields::default();
    let mut add = |entity, key, kind| fields.add(entity, key, kind).expect("a slot");
    let stock = add(EntityKind::Product, "stock", FieldType::Number);
    let size = add(EntityKind::Product, "size", FieldType::Text);
    let on_sale = add(EntityKind::Product, "on_sale", FieldType::Bool);
    let colour = add(EntityKind::Product, "colour", FieldType::Text);
    let missing = add(EntityKind::Product, "missing", FieldType::Text);
    let currency = add(EntityKind::Cart, "currency", FieldType::Text);
    Kept {
        fields,
        stock,
        size,
        on_sale,
        colour,
        missing,
        currency,
    }
}

fn value(event: &ShopperEvent, slot: Slot) -> Option<&FieldValue> {
    jobs::fields::field_of(event, slot)
}

fn text(s: &str) -> Option<FieldValue> {
    Some(FieldValue::Text(s.to_owned()))
}

#[test]
fn kept_fields_are_read_alike_in_every_encoding() {
    let k = kept();
    let event = Event {
        // The first product without an id names no product; its fields do not count, nor do
        // those of the second product.
        products: &[
            r#"{"colour":"green"}"#,
            r#"{"id":"P1","stock":"12.5","size":42,"on_sale":true,"colour":"red","price":9}"#,
            r#"{"id":"P2","stock":3,"colour":"blue","missing":"here"}"#,
        ],
        cart: Some(r#"{"total_value":9,"currency":"USD"}"#),
        others: &[],
    }
    .parse(&k.fields)
    .expect("a good event");
    assert_eq!(event.products[0].id, "P1");
    assert_eq!(
        value(&event, k.stock),
        Some(&FieldValue::Number(Price(12_500_000)))
    );
    assert_eq!(value(&event, k.size), text("42").as_ref());
    assert_eq!(value(&event, k.on_sale), Some(&FieldValue::Bool(true)));
    assert_eq!(value(&event, k.colour), text("red").as_ref());
    assert_eq!(value(&event, k.missing), None);
    assert_eq!(value(&event, k.currency), text("USD").as_ref());
    assert_eq!(event.fields.len(), 5);
}

#[test]
fn null_and_empty_fields_are_not_set() {
    let k = kept();
    let event = Event {
        products: &[r#"{"id":"P1","stock":null,"size":"","on_sale":"false","colour":null}"#],
        cart: Some(r#"{"currency":""}"#),
        others: &[],
    }
    .parse(&k.fields)
    .expect("a good event");
    assert_eq!(event.fields, vec![(k.on_sale, FieldValue::Bool(false))]);
}

#[test]
fn a_field_that_does_not_hold_its_type_is_a_bad_row_naming_it() {
    let k = kept();
    for (product, field, reason) in [
        (
            r#"{"id":"P1","stock":"a dozen"}"#,
            "product.stock",
            Reason::InvalidNumber,
        ),
        (
            r#"{"id":"P1","stock":true}"#,
            "product.stock",
            Reason::InvalidNumber,
        ),
        (
            r#"{"id":"P1","on_sale":"yes"}"#,
            "product.on_sale",
            Reason::NotABoolean,
        ),
        (
            r#"{"id":"P1","on_sale":1}"#,
            "product.on_sale",
            Reason::NotABoolean,
        ),
        (
            r#"{"id":"P1","colour":{"r":1}}"#,
            "product.colour",
            Reason::NotAString,
        ),
        (
            r#"{"id":"P1","size":[42]}"#,
            "product.size",
            Reason::NotAString,
        ),
    ] {
        let bad = Event {
            products: &[product],
            cart: None,
            others: &[],
        };
        assert_eq!(
            bad.parse(&k.fields),
            Err(ParseError::new(field, reason.clone())),
            "{product}"
        );
        // A later product is checked too, as the named fields are.
        let later = Event {
            products: &[r#"{"id":"P0"}"#, product],
            cart: None,
            others: &[],
        };
        assert_eq!(
            later.parse(&k.fields),
            Err(ParseError::new(field, reason)),
            "{product}"
        );
        // A field no catalogue reads is not looked at.
        for (name, text) in bad.encodings() {
            let event = parse_event(text.as_bytes(), &Limits::default());
            assert!(
                event.is_ok_and(|e| e.fields.is_empty()),
                "{name}: {product}"
            );
        }
    }
}

#[test]
fn entities_without_named_fields_are_read_for_their_kept_fields() {
    let mut fields = EntityFields::default();
    let guest = fields
        .add(EntityKind::User, "is_guest", FieldType::Bool)
        .expect("a slot");
    let page = fields
        .add(EntityKind::Page, "type", FieldType::Text)
        .expect("a slot");
    let event = Event {
        products: &[r#"{"id":"P1"}"#],
        cart: None,
        others: &[
            (
                "user",
                r#"{"id":"U1","is_guest":true,"email":"a@b.example"}"#,
            ),
            ("page", r#"{"type":"product","language":"en"}"#),
        ],
    };
    let parsed = event.parse(&fields).expect("a good event");
    assert_eq!(
        parsed.fields,
        vec![
            (guest, FieldValue::Bool(true)),
            (page, FieldValue::Text("product".into()))
        ]
    );
    // Without them kept, the entities are skipped.
    for (name, text) in event.encodings() {
        let parsed = parse_event_keeping(text.as_bytes(), &Limits::default(), &NO_FIELDS);
        assert!(parsed.is_ok_and(|e| e.fields.is_empty()), "{name}");
    }
}
