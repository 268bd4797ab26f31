//! The typed shopper event: what parsing produces and the lanes consume.

use serde::{Deserialize, Serialize};

/// Event time: milliseconds since the Unix epoch, UTC.
pub type Millis = u64;

/// A money amount in millionths of the currency unit, so that sums and means are exact.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Price(pub i64);

impl Price {
    /// Micro-units per currency unit.
    pub const SCALE: i64 = 1_000_000;

    /// Converts a JSON number (integer or decimal) to a price, rounding to the nearest micro-unit.
    /// Returns `None` for values that are not finite or do not fit.
    pub fn from_f64(value: f64) -> Option<Price> {
        let scaled = (value * Self::SCALE as f64).round();
        if scaled.is_finite() && scaled.abs() < 9.0e18 {
            Some(Price(scaled as i64))
        } else {
            None
        }
    }
}

/// What happened, as SPEC section 1 derives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// `event=page_view`.
    PageView,
    /// Ecommerce action `product_view`.
    ProductView,
    /// Ecommerce action `list_view`.
    ListView,
    /// Ecommerce action `list_click`.
    ListClick,
    /// Ecommerce action `add_to_cart`.
    AddToCart,
    /// Ecommerce action `remove_from_cart`.
    RemoveFromCart,
    /// Ecommerce action `checkout_step`.
    CheckoutStep,
    /// Ecommerce action `transaction`.
    Transaction,
    /// Ecommerce action `refund`.
    Refund,
    /// Ecommerce action `promo_view`.
    PromoView,
    /// Ecommerce action `promo_click`.
    PromoClick,
    /// Ecommerce action `trns_error`.
    TransactionError,
    /// Any other event: the raw `event` field, or an unknown ecommerce action type.
    Other(String),
}

/// Every kind but [`EventKind::Other`].
pub static KNOWN_KINDS: [EventKind; 12] = [
    EventKind::PageView,
    EventKind::ProductView,
    EventKind::ListView,
    EventKind::ListClick,
    EventKind::AddToCart,
    EventKind::RemoveFromCart,
    EventKind::CheckoutStep,
    EventKind::Transaction,
    EventKind::Refund,
    EventKind::PromoView,
    EventKind::PromoClick,
    EventKind::TransactionError,
];

impl EventKind {
    /// Maps an ecommerce action `type` (or `page_view`) to its kind.
    pub fn from_action(action: &str) -> EventKind {
        KNOWN_KINDS
            .iter()
            .find(|kind| kind.as_str() == action)
            .cloned()
            .unwrap_or_else(|| EventKind::Other(action.to_string()))
    }

    /// The event type name as SPEC section 1 spells it.
    pub fn as_str(&self) -> &str {
        match self {
            EventKind::PageView => "page_view",
            EventKind::ProductView => "product_view",
            EventKind::ListView => "list_view",
            EventKind::ListClick => "list_click",
            EventKind::AddToCart => "add_to_cart",
            EventKind::RemoveFromCart => "remove_from_cart",
            EventKind::CheckoutStep => "checkout_step",
            EventKind::Transaction => "transaction",
            EventKind::Refund => "refund",
            EventKind::PromoView => "promo_view",
            EventKind::PromoClick => "promo_click",
            EventKind::TransactionError => "trns_error",
            EventKind::Other(name) => name,
        }
    }
}

/// A product entity (`com.snowplowanalytics.snowplow.ecommerce/product`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Product {
    /// Product id (`id`).
    pub id: String,
    /// Product name (`name`), if given.
    pub name: Option<String>,
    /// Product category (`category`), if given.
    pub category: Option<String>,
    /// Product brand (`brand`), if given.
    pub brand: Option<String>,
    /// Product variant (`variant`), if given.
    pub variant: Option<String>,
    /// Product price (`price`), if given.
    pub price: Option<Price>,
}

/// A promotion entity (`com.snowplowanalytics.snowplow.ecommerce/promotion`): the banner or
/// offer that a `promo_view` showed or a `promo_click` followed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Promotion {
    /// Promotion id (`id`).
    pub id: String,
    /// Promotion name (`name`), if given.
    pub name: Option<String>,
}

/// The value of an entity field beyond the ones named here, kept because a catalogue reads it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FieldValue {
    /// A text field.
    Text(String),
    /// A number field, in millionths.
    Number(Price),
    /// A boolean field.
    Bool(bool),
}

/// The position of a kept entity field in the parser's table of them: how events and catalogues
/// refer to it.
pub type Slot = u16;

/// One shopper event with the fields the lanes need, derived per SPEC section 1.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShopperEvent {
    /// Event time: `derived_tstamp`, else `collector_tstamp` (flink JSON: `timestamp`).
    pub time: Millis,
    /// `event_id` as a 128-bit number; orders like the lowercase UUID text.
    pub event_id: u128,
    /// `user_id`, else `domain_userid`, else `network_userid`.
    pub user: String,
    /// `client_session.sessionId`, else `domain_sessionid`.
    pub session: Option<String>,
    /// The event type.
    pub kind: EventKind,
    /// Product entities, in the order the event carries them.
    pub products: Vec<Product>,
    /// The ecommerce action's `name` (the list name of list views and clicks).
    pub list_name: Option<String>,
    /// `total_value` of the cart entity.
    pub cart_total: Option<Price>,
    /// `revenue` of the transaction entity.
    pub revenue: Option<Price>,
    /// `step` of the checkout_step entity.
    pub checkout_step: Option<u32>,
    /// The promotion entity (of `promo_view` and `promo_click`); the first one with an id.
    pub promotion: Option<Promotion>,
    /// Whether the page URL carries a search (path `/search`, or a `q`, `query` or `search` parameter).
    pub is_search: bool,
    /// The page URL (`page_url`), if non-empty.
    pub page_url: Option<String>,
    /// `platform` (`web`, `mob`, ...).
    pub platform: Option<String>,
    /// `mkt_campaign`.
    pub campaign: Option<String>,
    /// Device class: YAUAA `deviceClass`, else derived from the user agent.
    pub device_class: Option<String>,
    /// `geo_country`.
    pub country: Option<String>,
    /// `geo_region`.
    pub region: Option<String>,
    /// The entity fields a catalogue reads beyond these, by slot; empty
    /// unless the parser was asked to keep some.
    pub fields: Vec<(Slot, FieldValue)>,
}

/// Formats a 128-bit event id back as a lowercase hyphenated UUID.
pub fn format_event_id(id: u128) -> String {
    let hex = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
