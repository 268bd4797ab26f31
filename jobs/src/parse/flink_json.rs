//! flink-live-shopper JSON: the shape its Snowbridge transform writes (`id`, `type`,
//! `timestamp`, `payload`, `enrich`, `session`), so that users of the Flink job can switch
//! without touching their pipeline. It carries no geo fields and no YAUAA entity.

use std::borrow::Cow;

use serde::de::{self, MapAccess};
use serde::Deserialize;

use super::at::At;
use super::derive;
use super::device::classify_user_agent;
use super::entities::{
    owned, text, CartData, CheckoutStepData, Entities, Entity, Leaf, Obj, ProductData,
    PromotionData, Raw, TransactionData,
};
use super::envelope;
use super::error::ParseError;
use super::url::is_search;
use crate::event::{EventKind, Millis, ShopperEvent};
use crate::fields::{EntityFields, EntityKind, FieldValue, Slot};

/// `payload`: which keys are set depends on the event type; `{}` stands for "none".
#[derive(Deserialize, Default)]
struct Payload<'a> {
    #[serde(borrow, default)]
    product: Option<Obj<ProductData<'a>>>,
    #[serde(borrow, default)]
    products: Option<Vec<Obj<ProductData<'a>>>>,
    #[serde(borrow, default)]
    list_name: Raw<'a>,
    #[serde(borrow, default)]
    cart: Option<Obj<CartData<'a>>>,
    #[serde(borrow, default)]
    checkout_step: Option<Obj<CheckoutStepData<'a>>>,
    #[serde(borrow, default)]
    promotion: Option<Obj<PromotionData<'a>>>,
    /// Not written by the reference transform; we read transactions from here (SPEC 1.3).
    #[serde(borrow, default)]
    transaction: Option<Obj<TransactionData<'a>>>,
    #[serde(borrow, default)]
    page_url: Raw<'a>,
}

/// The entities of `payload`, as text: how they are read when a catalogue keeps fields of them.
#[derive(Deserialize, Default)]
struct PayloadEntities<'a> {
    #[serde(borrow, default)]
    product: Option<Leaf<'a>>,
    #[serde(borrow, default)]
    products: Option<Leaf<'a>>,
    #[serde(borrow, default)]
    cart: Option<Leaf<'a>>,
    #[serde(borrow, default)]
    checkout_step: Option<Leaf<'a>>,
    #[serde(borrow, default)]
    promotion: Option<Leaf<'a>>,
    #[serde(borrow, default)]
    transaction: Option<Leaf<'a>>,
}

impl PayloadEntities<'_> {
    /// The kept fields of these entities, read as the typed payload reads its entities: the
    /// first product of `product` then `products`, the first promotion with an id.
    fn kept(&self, fields: &EntityFields) -> Result<Vec<(Slot, FieldValue)>, ParseError> {
        let mut entities = Entities::default();
        for (leaf, field, kind) in [
            (self.product, "payload.product", EntityKind::Product),
            (self.products, "payload.products", EntityKind::Product),
            (self.cart, "payload.cart", EntityKind::Cart),
            (
                self.checkout_step,
                "payload.checkout_step",
                EntityKind::CheckoutStep,
            ),
            (self.promotion, "payload.promotion", EntityKind::Promotion),
            (
                self.transaction,
                "payload.transaction",
                EntityKind::Transaction,
            ),
        ] {
            if let Some(Leaf(json)) = leaf {
                let entity = Entity::Ecommerce(kind);
                envelope::read_bodies(json, field, entity, &mut entities, fields)?;
            }
        }
        Ok(entities.fields)
    }
}

/// Whether a catalogue keeps fields of an entity that flink-live-shopper JSON carries.
fn keeps_payload_fields(fields: &EntityFields) -> bool {
    [
        EntityKind::Product,
        EntityKind::Cart,
        EntityKind::CheckoutStep,
        EntityKind::Promotion,
        EntityKind::Transaction,
    ]
    .into_iter()
    .any(|kind| fields.wants(kind))
}

#[derive(Deserialize, Default)]
struct Enrich<'a> {
    #[serde(borrow, default)]
    client: Option<Client<'a>>,
    #[serde(borrow, default)]
    user: Option<User<'a>>,
    /// `null` when the event had no `mkt_*` field.
    #[serde(borrow, default)]
    marketing: Option<Marketing<'a>>,
    #[serde(borrow, default)]
    platform: Raw<'a>,
}

#[derive(Deserialize, Default)]
struct Client<'a> {
    #[serde(borrow, default)]
    useragent: Raw<'a>,
    #[serde(borrow, default)]
    page: Option<Page<'a>>,
}

#[derive(Deserialize, Default)]
struct Page<'a> {
    #[serde(borrow, default)]
    page_url: Raw<'a>,
}

#[derive(Deserialize, Default)]
struct User<'a> {
    #[serde(borrow, default)]
    user_id: Raw<'a>,
    #[serde(borrow, default)]
    domain_userid: Raw<'a>,
    #[serde(borrow, default)]
    network_userid: Raw<'a>,
}

#[derive(Deserialize, Default)]
struct Marketing<'a> {
    #[serde(borrow, default)]
    mkt_campaign: Raw<'a>,
}

/// The client_session entity, or `{"domain_sessionid", "domain_sessionidx"}` without one.
#[derive(Deserialize, Default)]
struct Session<'a> {
    #[serde(borrow, default, rename = "sessionId")]
    session_id: Raw<'a>,
    #[serde(borrow, default)]
    domain_sessionid: Raw<'a>,
}

/// The top-level keys of a flink-live-shopper event.
#[derive(Default)]
pub(crate) struct FlinkJson<'a> {
    present: bool,
    id: Raw<'a>,
    kind: Raw<'a>,
    timestamp: Raw<'a>,
    payload: Option<Payload<'a>>,
    /// The payload's text, kept when a catalogue keeps fields of its entities.
    payload_text: Option<&'a str>,
    enrich: Option<Enrich<'a>>,
    session: Option<Session<'a>>,
}

impl<'de> FlinkJson<'de> {
    /// Reads the value of `key` if it is one of ours; false leaves the value unread.
    pub(crate) fn take<A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        at: &At,
        fields: &EntityFields,
    ) -> Result<bool, A::Error> {
        match key {
            "id" => {
                at.set("id");
                self.id = map.next_value()?;
            }
            "type" => {
                at.set("type");
                self.kind = map.next_value()?;
            }
            "timestamp" => {
                at.set("timestamp");
                self.timestamp = map.next_value()?;
            }
            "payload" if keeps_payload_fields(fields) => {
                at.set("payload");
                let text: Option<Leaf<'de>> = map.next_value()?;
                self.payload_text = text.map(|Leaf(text)| text);
                self.payload = match self.payload_text {
                    Some(text) => serde_json::from_str(text).map_err(de::Error::custom)?,
                    None => None,
                };
                self.present = true;
            }
            "payload" => {
                at.set("payload");
                self.payload = map.next_value()?;
                self.present = true;
            }
            "enrich" => {
                at.set("enrich");
                self.enrich = map.next_value()?;
                self.present = true;
            }
            "session" => {
                at.set("session");
                self.session = map.next_value()?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Whether the record has a `payload` or `enrich` key, which makes it this encoding.
    pub(crate) fn is_present(&self) -> bool {
        self.present
    }

    /// Derives the event (SPEC section 1); its time must not be later than `latest`.
    pub(crate) fn build(
        self,
        latest: Millis,
        fields: &EntityFields,
    ) -> Result<ShopperEvent, ParseError> {
        let event_id = derive::event_id(text(self.id, "id")?.as_deref(), "id")?;
        let time = derive::event_time(
            &[(text(self.timestamp, "timestamp")?.as_deref(), "timestamp")],
            latest,
        )?;
        let enrich = self.enrich.unwrap_or_default();
        let user = enrich.user.unwrap_or_default();
        let user = derive::user_key(
            [
                text(user.user_id, "enrich.user.user_id")?.as_deref(),
                text(user.domain_userid, "enrich.user.domain_userid")?.as_deref(),
                text(user.network_userid, "enrich.user.network_userid")?.as_deref(),
            ],
            "enrich.user",
        )?;
        let kind = match text(self.kind, "type")? {
            Some(kind) => EventKind::from_action(&kind),
            None => EventKind::Other("unknown".to_owned()),
        };

        let payload = self.payload.unwrap_or_default();
        let mut entities = Entities::default();
        if let Some(product) = &payload.product {
            entities.add_product(&product.0)?;
        }
        for product in payload.products.iter().flatten() {
            entities.add_product(&product.0)?;
        }
        if let Some(cart) = &payload.cart {
            entities.add_cart(&cart.0)?;
        }
        if let Some(step) = &payload.checkout_step {
            entities.add_checkout_step(&step.0)?;
        }
        if let Some(promotion) = &payload.promotion {
            entities.add_promotion(&promotion.0)?;
        }
        if let Some(transaction) = &payload.transaction {
            entities.add_transaction(&transaction.0)?;
        }
        if let Some(text) = self.payload_text {
            let raw: PayloadEntities<'_> =
                serde_json::from_str(text).map_err(|e| ParseError::json("payload", e))?;
            entities.fields = raw.kept(fields)?;
        }

        let session = self.session.unwrap_or_default();
        let session = match owned(session.session_id, "session.sessionId")? {
            Some(id) => Some(id),
            None => owned(session.domain_sessionid, "session.domain_sessionid")?,
        };

        let client = enrich.client.unwrap_or_default();
        // page_url is in the payload of page views only; every event has enrich.client.page.
        let page_url = match text(payload.page_url, "payload.page_url")? {
            Some(url) => Some(url),
            None => text(
                client.page.unwrap_or_default().page_url,
                "enrich.client.page.page_url",
            )?,
        };
        let device_class = text(client.useragent, "enrich.client.useragent")?
            .map(|ua| classify_user_agent(&ua).to_owned());

        Ok(ShopperEvent {
            time,
            event_id,
            user,
            session,
            kind,
            products: entities.products,
            list_name: owned(payload.list_name, "payload.list_name")?,
            cart_total: entities.cart_total,
            revenue: entities.revenue,
            checkout_step: entities.checkout_step,
            promotion: entities.promotion,
            is_search: page_url.as_deref().is_some_and(is_search),
            page_url: page_url.map(Cow::into_owned),
            platform: owned(enrich.platform, "enrich.platform")?,
            campaign: match enrich.marketing {
                Some(m) => owned(m.mkt_campaign, "enrich.marketing.mkt_campaign")?,
                None => None,
            },
            device_class,
            country: None,
            region: None,
            fields: entities.fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{EventKind, Promotion};
    use crate::parse::{parse_event, Limits, ParseError, Reason};

    /// A `promo_click` whose payload holds `promotion` (JSON text), if given.
    fn promo_click(promotion: Option<&str>) -> Result<crate::event::ShopperEvent, ParseError> {
        let payload = promotion
            .map(|p| format!(r#""promotion":{p}"#))
            .unwrap_or_default();
        let json = format!(
            r#"{{"id":"e9081481-82fb-4e7f-9771-82ce58dc22a3","type":"promo_click","timestamp":"2025-04-04T14:33:39.968Z","payload":{{{payload}}},"enrich":{{"user":{{"domain_userid":"d1"}},"marketing":null,"platform":"web"}},"session":{{"sessionId":"s1"}}}}"#
        );
        parse_event(json.as_bytes(), &Limits::default())
    }

    /// A `product_view` whose payload holds `payload` (the text inside its braces).
    fn product_view(payload: &str) -> Result<crate::event::ShopperEvent, ParseError> {
        let json = format!(
            r#"{{"id":"e9081481-82fb-4e7f-9771-82ce58dc22a3","type":"product_view","timestamp":"2025-04-04T14:33:39.968Z","payload":{{{payload}}},"enrich":{{"user":{{"domain_userid":"d1"}},"client":{{"page":{{"page_url":"http://shop.example/product/5"}}}}}}}}"#
        );
        parse_event(json.as_bytes(), &Limits::default())
    }

    #[test]
    fn product_fields_and_page_url() {
        let event = product_view(
            r#""product":{"id":"5","name":"SP Flex Runner 2","brand":"SP","variant":"blue"},"page_url":"http://shop.example/search?q=run""#,
        )
        .unwrap();
        let product = &event.products[0];
        assert_eq!(product.name.as_deref(), Some("SP Flex Runner 2"));
        assert_eq!(product.brand.as_deref(), Some("SP"));
        assert_eq!(product.variant.as_deref(), Some("blue"));
        assert_eq!(
            event.page_url.as_deref(),
            Some("http://shop.example/search?q=run")
        );
        assert!(event.is_search);
        // Without payload.page_url, the page of enrich.client is the page URL.
        let event = product_view(r#""products":[{"id":"5"},{"id":"6","name":"B"}]"#).unwrap();
        assert_eq!(event.products[1].name.as_deref(), Some("B"));
        assert_eq!(
            event.page_url.as_deref(),
            Some("http://shop.example/product/5")
        );
        for (payload, field) in [
            (r#""product":{"id":"5","name":2}"#, "product.name"),
            (r#""products":[{"id":"5","brand":{}}]"#, "product.brand"),
            (r#""product":{"id":"5","variant":false}"#, "product.variant"),
        ] {
            assert_eq!(
                product_view(payload).map(|e| e.products),
                Err(ParseError::new(field, Reason::NotAString)),
                "{payload}"
            );
        }
    }

    fn promotion_of(promotion: Option<&str>) -> Result<Option<Promotion>, ParseError> {
        promo_click(promotion).map(|e| e.promotion)
    }

    #[test]
    fn promotions() {
        let event = promo_click(Some(
            r#"{"id":"promo-1","name":"Spring sale banner","position":1,"type":"carousel"}"#,
        ))
        .unwrap();
        assert_eq!(event.kind, EventKind::PromoClick);
        assert_eq!(
            event.promotion,
            Some(Promotion {
                id: "promo-1".to_owned(),
                name: Some("Spring sale banner".to_owned()),
            })
        );
        assert_eq!(promotion_of(None), Ok(None));
        assert_eq!(promotion_of(Some("null")), Ok(None));
        // The transform writes `{}` for "none"; without an id it names no promotion.
        assert_eq!(promotion_of(Some("{}")), Ok(None));
        assert_eq!(promotion_of(Some(r#"{"id":"","name":"x"}"#)), Ok(None));
        assert_eq!(
            promotion_of(Some(r#"{"id":12}"#)),
            Ok(Some(Promotion {
                id: "12".to_owned(),
                name: None,
            }))
        );
        for bad in [r#"{"id":true}"#, r#"{"id":[1]}"#] {
            assert_eq!(
                promotion_of(Some(bad)),
                Err(ParseError::new("promotion.id", Reason::NotAString)),
                "{bad}"
            );
        }
    }
}
