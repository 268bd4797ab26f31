//! Snowplow JSON, as Snowbridge's `spEnrichedToJson` (the Snowplow analytics SDK) writes it: a
//! flat object keyed by enriched field names, timestamps in ISO-8601, entities flattened (from
//! both `contexts` and `derived_contexts`) into arrays of entity bodies under
//! `contexts_<vendor>_<name>_<model>`, the self-describing event's body under
//! `unstruct_event_<vendor>_<name>_<model>`. Only model 1 keys are read, as for the TSV.

use std::borrow::Cow;

use serde::de::MapAccess;
use serde::Deserialize;

use super::at::At;
use super::derive;
use super::device::classify_user_agent;
use super::entities::{
    owned, text, ActionData, CartData, CheckoutStepData, ClientSessionData, Entities, Entity, Leaf,
    Obj, ProductData, PromotionData, Raw, TransactionData, YauaaData,
};
use super::envelope;
use super::error::ParseError;
use super::url::is_search;
use crate::event::{Millis, ShopperEvent};
use crate::fields::{EntityFields, EntityKind};

const PRODUCT: &str = "contexts_com_snowplowanalytics_snowplow_ecommerce_product_1";
const CART: &str = "contexts_com_snowplowanalytics_snowplow_ecommerce_cart_1";
const TRANSACTION: &str = "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1";
const CHECKOUT_STEP: &str = "contexts_com_snowplowanalytics_snowplow_ecommerce_checkout_step_1";
const PROMOTION: &str = "contexts_com_snowplowanalytics_snowplow_ecommerce_promotion_1";
const CLIENT_SESSION: &str = "contexts_com_snowplowanalytics_snowplow_client_session_1";
const YAUAA: &str = "contexts_nl_basjes_yauaa_context_1";
/// The key of each ecommerce entity whose fields a catalogue can keep.
const ENTITY_KEYS: [(&str, EntityKind); 9] = [
    (PRODUCT, EntityKind::Product),
    (CART, EntityKind::Cart),
    (TRANSACTION, EntityKind::Transaction),
    (
        "contexts_com_snowplowanalytics_snowplow_ecommerce_refund_1",
        EntityKind::Refund,
    ),
    (CHECKOUT_STEP, EntityKind::CheckoutStep),
    (PROMOTION, EntityKind::Promotion),
    (
        "contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_error_1",
        EntityKind::TransactionError,
    ),
    (
        "contexts_com_snowplowanalytics_snowplow_ecommerce_user_1",
        EntityKind::User,
    ),
    (
        "contexts_com_snowplowanalytics_snowplow_ecommerce_page_1",
        EntityKind::Page,
    ),
];
const ACTION: &str =
    "unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1";

/// The keys of a Snowplow JSON event that the job reads.
#[derive(Default)]
pub(crate) struct SnowplowJson<'a> {
    present: bool,
    event_id: Raw<'a>,
    event: Raw<'a>,
    derived_tstamp: Raw<'a>,
    collector_tstamp: Raw<'a>,
    user_id: Raw<'a>,
    domain_userid: Raw<'a>,
    network_userid: Raw<'a>,
    domain_sessionid: Raw<'a>,
    platform: Raw<'a>,
    mkt_campaign: Raw<'a>,
    geo_country: Raw<'a>,
    geo_region: Raw<'a>,
    page_url: Raw<'a>,
    useragent: Raw<'a>,
    products: Vec<ProductData<'a>>,
    carts: Vec<CartData<'a>>,
    transactions: Vec<TransactionData<'a>>,
    checkout_steps: Vec<CheckoutStepData<'a>>,
    promotions: Vec<PromotionData<'a>>,
    client_sessions: Vec<ClientSessionData<'a>>,
    yauaa: Vec<YauaaData<'a>>,
    /// The entity arrays with kept fields, as text: their key, their entity and their JSON.
    kept: Vec<(&'static str, EntityKind, Leaf<'a>)>,
    action: Raw<'a>,
}

/// Reads an entity array (`null` = none) into `slot`.
fn entity_array<'de, A, T>(
    map: &mut A,
    at: &At,
    key: &'static str,
    slot: &mut Vec<T>,
) -> Result<bool, A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    at.set(key);
    *slot = map
        .next_value::<Option<Vec<Obj<T>>>>()?
        .map_or_else(Vec::new, |v| v.into_iter().map(|o| o.0).collect());
    Ok(true)
}

impl<'de> SnowplowJson<'de> {
    /// Reads the value of `key` if it is one of ours; false leaves the value unread.
    pub(crate) fn take<A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        at: &At,
        fields: &EntityFields,
    ) -> Result<bool, A::Error> {
        if !fields.is_empty() {
            let kept = ENTITY_KEYS.iter().find(|(k, _)| *k == key);
            if let Some(&(key, kind)) = kept.filter(|(_, kind)| fields.wants(*kind)) {
                at.set(key);
                self.kept.push((key, kind, map.next_value()?));
                return Ok(true);
            }
        }
        let (name, slot) = match key {
            "event_id" => ("event_id", &mut self.event_id),
            "event" => ("event", &mut self.event),
            "derived_tstamp" => ("derived_tstamp", &mut self.derived_tstamp),
            "collector_tstamp" => ("collector_tstamp", &mut self.collector_tstamp),
            "user_id" => ("user_id", &mut self.user_id),
            "domain_userid" => ("domain_userid", &mut self.domain_userid),
            "network_userid" => ("network_userid", &mut self.network_userid),
            "domain_sessionid" => ("domain_sessionid", &mut self.domain_sessionid),
            "platform" => ("platform", &mut self.platform),
            "mkt_campaign" => ("mkt_campaign", &mut self.mkt_campaign),
            "geo_country" => ("geo_country", &mut self.geo_country),
            "geo_region" => ("geo_region", &mut self.geo_region),
            "page_url" => ("page_url", &mut self.page_url),
            "useragent" => ("useragent", &mut self.useragent),
            ACTION => (ACTION, &mut self.action),
            _ => {
                return match key {
                    PRODUCT => entity_array(map, at, PRODUCT, &mut self.products),
                    CART => entity_array(map, at, CART, &mut self.carts),
                    TRANSACTION => entity_array(map, at, TRANSACTION, &mut self.transactions),
                    CHECKOUT_STEP => entity_array(map, at, CHECKOUT_STEP, &mut self.checkout_steps),
                    PROMOTION => entity_array(map, at, PROMOTION, &mut self.promotions),
                    CLIENT_SESSION => {
                        entity_array(map, at, CLIENT_SESSION, &mut self.client_sessions)
                    }
                    YAUAA => entity_array(map, at, YAUAA, &mut self.yauaa),
                    _ => Ok(false),
                };
            }
        };
        at.set(name);
        *slot = map.next_value()?;
        self.present = true;
        Ok(true)
    }

    /// Whether any Snowplow enriched key was seen.
    pub(crate) fn is_present(&self) -> bool {
        self.present
    }

    /// Derives the event (SPEC section 1); its time must not be later than `latest`.
    pub(crate) fn build(
        self,
        latest: Millis,
        fields: &EntityFields,
    ) -> Result<ShopperEvent, ParseError> {
        let event_id = derive::event_id(text(self.event_id, "event_id")?.as_deref(), "event_id")?;
        let time = derive::event_time(
            &[
                (
                    text(self.derived_tstamp, "derived_tstamp")?.as_deref(),
                    "derived_tstamp",
                ),
                (
                    text(self.collector_tstamp, "collector_tstamp")?.as_deref(),
                    "collector_tstamp",
                ),
            ],
            latest,
        )?;
        let user = derive::user_key(
            [
                text(self.user_id, "user_id")?.as_deref(),
                text(self.domain_userid, "domain_userid")?.as_deref(),
                text(self.network_userid, "network_userid")?.as_deref(),
            ],
            "user_id",
        )?;

        let mut entities = Entities::default();
        for p in &self.products {
            entities.add_product(p)?;
        }
        for c in &self.carts {
            entities.add_cart(c)?;
        }
        for t in &self.transactions {
            entities.add_transaction(t)?;
        }
        for s in &self.checkout_steps {
            entities.add_checkout_step(s)?;
        }
        for p in &self.promotions {
            entities.add_promotion(p)?;
        }
        for s in &self.client_sessions {
            entities.add_client_session(s)?;
        }
        for y in &self.yauaa {
            entities.add_yauaa(y)?;
        }
        for &(key, kind, Leaf(json)) in &self.kept {
            envelope::read_bodies(json, key, Entity::Ecommerce(kind), &mut entities, fields)?;
        }

        let action = match self.action {
            None => None,
            // The analytics SDK writes the body as an object; tolerate a one-element array, as
            // the flink-live-shopper transform does.
            Some(Leaf(raw)) if raw.starts_with('[') => {
                serde_json::from_str::<Vec<Obj<ActionData<'_>>>>(raw)
                    .map_err(|e| ParseError::json(ACTION, e))?
                    .into_iter()
                    .next()
                    .map(|o| o.0)
            }
            Some(Leaf(raw)) => Some(
                serde_json::from_str::<Obj<ActionData<'_>>>(raw)
                    .map_err(|e| ParseError::json(ACTION, e))?
                    .0,
            ),
        };
        let (kind, list_name) = derive::kind(
            text(self.event, "event")?.as_deref(),
            action.as_ref(),
            ACTION,
        )?;

        let session = match entities.session_id.take() {
            Some(id) => Some(id),
            None => owned(self.domain_sessionid, "domain_sessionid")?,
        };
        let device_class = match entities.device_class.take() {
            Some(class) => Some(class),
            None => {
                text(self.useragent, "useragent")?.map(|ua| classify_user_agent(&ua).to_owned())
            }
        };

        let page_url = text(self.page_url, "page_url")?;
        Ok(ShopperEvent {
            time,
            event_id,
            user,
            session,
            kind,
            products: entities.products,
            list_name,
            cart_total: entities.cart_total,
            revenue: entities.revenue,
            checkout_step: entities.checkout_step,
            promotion: entities.promotion,
            is_search: page_url.as_deref().is_some_and(is_search),
            page_url: page_url.map(Cow::into_owned),
            platform: owned(self.platform, "platform")?,
            campaign: owned(self.mkt_campaign, "mkt_campaign")?,
            device_class,
            country: owned(self.geo_country, "geo_country")?,
            region: owned(self.geo_region, "geo_region")?,
            fields: entities.fields,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::event::{EventKind, Promotion};
    use crate::parse::{parse_event, Limits, ParseError, Reason};

    /// A `product_view` with `products` (JSON array text) under the product key and `page_url`.
    fn product_view(
        products: &str,
        page_url: &str,
    ) -> Result<crate::event::ShopperEvent, ParseError> {
        let json = format!(
            r#"{{"event_id":"2a2e92cb-d65b-4978-bf65-498850bd8c08","event":"unstruct","collector_tstamp":"2024-08-14T15:27:51.686Z","domain_userid":"d1","page_url":"{page_url}","contexts_com_snowplowanalytics_snowplow_ecommerce_product_1":{products},"unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1":{{"type":"product_view"}}}}"#
        );
        parse_event(json.as_bytes(), &Limits::default())
    }

    #[test]
    fn product_fields_and_page_url() {
        let event = product_view(
            r#"[{"id":"P1","name":"Flex Runner","category":"Shoes","brand":"SP","variant":"red/42"}]"#,
            "https://shop.example/search?q=run",
        )
        .unwrap();
        assert_eq!(event.kind, EventKind::ProductView);
        let product = &event.products[0];
        assert_eq!(product.name.as_deref(), Some("Flex Runner"));
        assert_eq!(product.brand.as_deref(), Some("SP"));
        assert_eq!(product.variant.as_deref(), Some("red/42"));
        assert_eq!(
            event.page_url.as_deref(),
            Some("https://shop.example/search?q=run")
        );
        assert!(event.is_search);
        assert_eq!(product_view(r#"[{"id":"P1"}]"#, "").unwrap().page_url, None);
        for (body, field) in [
            (r#"[{"id":"P1","name":1}]"#, "product.name"),
            (r#"[{"id":"P1","brand":[]}]"#, "product.brand"),
            (r#"[{"id":"P1","variant":true}]"#, "product.variant"),
        ] {
            assert_eq!(
                product_view(body, "").map(|e| e.products),
                Err(ParseError::new(field, Reason::NotAString)),
                "{body}"
            );
        }
    }

    /// A `promo_view` with `promotions` (JSON array text) under the promotion key, if given.
    fn promo_view(promotions: Option<&str>) -> Result<crate::event::ShopperEvent, ParseError> {
        let entities = promotions
            .map(|p| {
                format!(r#","contexts_com_snowplowanalytics_snowplow_ecommerce_promotion_1":{p}"#)
            })
            .unwrap_or_default();
        let json = format!(
            r#"{{"event_id":"2a2e92cb-d65b-4978-bf65-498850bd8c08","event":"unstruct","collector_tstamp":"2024-08-14T15:27:51.686Z","domain_userid":"d1"{entities},"unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1":{{"type":"promo_view"}}}}"#
        );
        parse_event(json.as_bytes(), &Limits::default())
    }

    fn promotion_of(promotions: Option<&str>) -> Result<Option<Promotion>, ParseError> {
        promo_view(promotions).map(|e| e.promotion)
    }

    fn promotion(id: &str, name: Option<&str>) -> Option<Promotion> {
        Some(Promotion {
            id: id.to_owned(),
            name: name.map(str::to_owned),
        })
    }

    #[test]
    fn promotions() {
        let event = promo_view(Some(
            r#"[{"id":"promo-1","name":"Spring sale banner","creative_id":"c1","slot":3}]"#,
        ))
        .unwrap();
        assert_eq!(event.kind, EventKind::PromoView);
        assert_eq!(
            event.promotion,
            promotion("promo-1", Some("Spring sale banner"))
        );
        assert_eq!(promotion_of(None), Ok(None));
        assert_eq!(promotion_of(Some("null")), Ok(None));
        assert_eq!(promotion_of(Some("[]")), Ok(None));
        // Without an id it names no promotion; the first one with an id wins.
        assert_eq!(promotion_of(Some(r#"[{"name":"x"}]"#)), Ok(None));
        assert_eq!(promotion_of(Some(r#"[{"id":null,"name":"x"}]"#)), Ok(None));
        assert_eq!(
            promotion_of(Some(
                r#"[{"id":""},{"id":"promo-2","name":"B"},{"id":"promo-3"}]"#
            )),
            Ok(promotion("promo-2", Some("B")))
        );
        for bad in [r#"[{"id":false}]"#, r#"[{"id":{}}]"#] {
            assert_eq!(
                promotion_of(Some(bad)),
                Err(ParseError::new("promotion.id", Reason::NotAString)),
                "{bad}"
            );
        }
    }
}
