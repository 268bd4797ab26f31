//! Event properties by name: what a catalogue's lanes, features and filters can read of an event.

use std::borrow::Cow;

use crate::event::{Price, ShopperEvent};
use crate::fields::{field_of, EntityKind, FieldType, FieldValue, Slot};

use super::value::{Input, Quantity};

/// A property of a shopper event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// The event type, as SPEC section 1 spells it (`product_view`, ...).
    Event,
    /// The event time in milliseconds since the Unix epoch.
    Time,
    /// The user key.
    User,
    /// The session key.
    Session,
    /// `id` of the event's first product entity.
    ProductId,
    /// `name` of the first product entity.
    ProductName,
    /// `category` of the first product entity.
    ProductCategory,
    /// `brand` of the first product entity.
    ProductBrand,
    /// `variant` of the first product entity.
    ProductVariant,
    /// `price` of the first product entity.
    ProductPrice,
    /// The ecommerce action's `name` (the list name of list views and clicks).
    ListName,
    /// `total_value` of the cart entity.
    CartTotal,
    /// `revenue` of the transaction entity.
    Revenue,
    /// `step` of the checkout_step entity.
    CheckoutStep,
    /// `id` of the promotion entity (promo_view, promo_click).
    PromotionId,
    /// `name` of the promotion entity.
    PromotionName,
    /// Whether the page URL is a search (path `/search`, or a `q`, `query` or `search` parameter).
    IsSearch,
    /// The page URL (`page_url`).
    PageUrl,
    /// `mkt_campaign`.
    Campaign,
    /// The device class (YAUAA `deviceClass`, else from the user agent).
    DeviceClass,
    /// `platform`.
    Platform,
    /// `geo_country`.
    Country,
    /// `geo_region`.
    Region,
    /// `<geo_country>/<geo_region>`, for events with a country.
    Location,
    /// Any other field of an ecommerce entity, kept by the parser for the catalogue.
    Field(FieldRef),
}

/// A field of an ecommerce entity beyond the named properties (`product.quantity`): where the
/// parser keeps it, and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRef {
    /// Its slot in the fields the parser keeps ([`crate::fields::EntityFields`]).
    pub slot: Slot,
    /// The entity it belongs to.
    pub entity: EntityKind,
    /// Its key in the entity.
    pub key: &'static str,
    /// What it holds.
    pub kind: FieldType,
    /// `<entity>.<key>`.
    pub name: &'static str,
}

/// Every property with its name in catalogue files, in the order messages list them.
pub const PROPERTIES: [(&str, Property); 24] = [
    ("event", Property::Event),
    ("time", Property::Time),
    ("user", Property::User),
    ("session", Property::Session),
    ("product.id", Property::ProductId),
    ("product.name", Property::ProductName),
    ("product.category", Property::ProductCategory),
    ("product.brand", Property::ProductBrand),
    ("product.variant", Property::ProductVariant),
    ("product.price", Property::ProductPrice),
    ("list_name", Property::ListName),
    ("cart.total_value", Property::CartTotal),
    ("transaction.revenue", Property::Revenue),
    ("checkout_step.step", Property::CheckoutStep),
    ("promotion.id", Property::PromotionId),
    ("promotion.name", Property::PromotionName),
    ("page.is_search", Property::IsSearch),
    ("page.url", Property::PageUrl),
    ("mkt_campaign", Property::Campaign),
    ("device_class", Property::DeviceClass),
    ("platform", Property::Platform),
    ("geo_country", Property::Country),
    ("geo_region", Property::Region),
    ("location", Property::Location),
];

impl Property {
    /// The property called `name`.
    pub fn named(name: &str) -> Option<Property> {
        PROPERTIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, property)| property)
    }

    /// Its name in catalogue files.
    pub fn name(self) -> &'static str {
        if let Property::Field(field) = self {
            return field.name;
        }
        PROPERTIES
            .iter()
            .find(|(_, p)| *p == self)
            .map_or("?", |&(name, _)| name)
    }

    /// The names of every property, for messages.
    pub fn names() -> String {
        let names: Vec<&str> = PROPERTIES.iter().map(|(name, _)| *name).collect();
        names.join(", ")
    }

    /// Whether the property holds text (and so takes text in a filter).
    pub fn is_text(self) -> bool {
        match self {
            Property::Field(field) => field.kind == FieldType::Text,
            _ => !matches!(
                self,
                Property::Time
                    | Property::ProductPrice
                    | Property::CartTotal
                    | Property::Revenue
                    | Property::CheckoutStep
                    | Property::IsSearch
            ),
        }
    }

    /// Whether the property holds a number (and so can be summed and averaged).
    pub fn is_number(self) -> bool {
        match self {
            Property::Field(field) => field.kind == FieldType::Number,
            _ => !self.is_text() && self != Property::IsSearch,
        }
    }

    /// The property's value in `event`, if it has one.
    pub fn of(self, event: &ShopperEvent) -> Option<Input> {
        Some(match self.peek(event)? {
            Input::Bool(b) => Input::Bool(b),
            Input::Number(n) => Input::Number(n),
            Input::Text(t) => Input::Text(t.into_owned()),
        })
    }

    /// The property's value in `event`, borrowing its text where the event holds it as it is.
    pub fn peek(self, event: &ShopperEvent) -> Option<Input<Cow<'_, str>>> {
        fn text(s: &Option<String>) -> Option<Input<Cow<'_, str>>> {
            s.as_deref().map(|s| Input::Text(Cow::Borrowed(s)))
        }
        let price = |p: Option<Price>| p.map(|p| Input::Number(Quantity::price(p)));
        let product = event.products.first();
        match self {
            Property::Event => Some(Input::Text(Cow::Borrowed(event.kind.as_str()))),
            Property::Time => Some(Input::Number(Quantity::int(event.time as i64))),
            Property::User => Some(Input::Text(Cow::Borrowed(&event.user))),
            Property::Session => text(&event.session),
            Property::ProductId => product.map(|p| Input::Text(Cow::Borrowed(p.id.as_str()))),
            Property::ProductName => product.and_then(|p| text(&p.name)),
            Property::ProductCategory => product.and_then(|p| text(&p.category)),
            Property::ProductBrand => product.and_then(|p| text(&p.brand)),
            Property::ProductVariant => product.and_then(|p| text(&p.variant)),
            Property::ProductPrice => price(product.and_then(|p| p.price)),
            Property::ListName => text(&event.list_name),
            Property::CartTotal => price(event.cart_total),
            Property::Revenue => price(event.revenue),
            Property::CheckoutStep => event
                .checkout_step
                .map(|s| Input::Number(Quantity::int(s.into()))),
            Property::PromotionId => event
                .promotion
                .as_ref()
                .map(|p| Input::Text(Cow::Borrowed(p.id.as_str()))),
            Property::PromotionName => event.promotion.as_ref().and_then(|p| text(&p.name)),
            Property::IsSearch => Some(Input::Bool(event.is_search)),
            Property::PageUrl => text(&event.page_url),
            Property::Campaign => text(&event.campaign),
            Property::DeviceClass => text(&event.device_class),
            Property::Platform => text(&event.platform),
            Property::Country => text(&event.country),
            Property::Region => text(&event.region),
            Property::Location => event.country.as_ref().map(|country| {
                let region = event.region.as_deref().unwrap_or("");
                Input::Text(Cow::Owned(format!("{country}/{region}")))
            }),
            Property::Field(field) => match field_of(event, field.slot)? {
                FieldValue::Text(t) => Some(Input::Text(Cow::Borrowed(t.as_str()))),
                FieldValue::Number(n) => Some(Input::Number(Quantity::price(*n))),
                FieldValue::Bool(b) => Some(Input::Bool(*b)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Product};

    fn event() -> ShopperEvent {
        let product = |id: &str, name: &str| Product {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            category: None,
            brand: Some(format!("brand of {id}")),
            variant: Some(format!("variant of {id}")),
            price: None,
        };
        ShopperEvent {
            time: 1,
            event_id: 2,
            user: "u".to_owned(),
            session: None,
            kind: EventKind::ProductView,
            // Only the first product entity counts.
            products: vec![product("P1", "Runner"), product("P2", "Walker")],
            list_name: None,
            cart_total: None,
            revenue: None,
            checkout_step: None,
            promotion: None,
            is_search: false,
            page_url: Some("https://shop.example/product/P1".to_owned()),
            platform: None,
            campaign: None,
            device_class: None,
            country: None,
            region: None,
            fields: Vec::new(),
        }
    }

    #[test]
    fn product_fields_and_page_url() {
        let e = event();
        for (name, value) in [
            ("product.name", "Runner"),
            ("product.brand", "brand of P1"),
            ("product.variant", "variant of P1"),
            ("page.url", "https://shop.example/product/P1"),
        ] {
            let property = Property::named(name).expect(name);
            assert_eq!(property.name(), name);
            assert!(property.is_text(), "{name}");
            assert!(
                matches!(property.peek(&e), Some(Input::Text(Cow::Borrowed(t))) if t == value),
                "{name}"
            );
            assert_eq!(
                property.of(&e),
                Some(Input::Text(value.to_owned())),
                "{name}"
            );
        }
        let bare = ShopperEvent {
            products: vec![],
            page_url: None,
            ..e
        };
        for name in [
            "product.name",
            "product.brand",
            "product.variant",
            "page.url",
        ] {
            assert_eq!(
                Property::named(name).and_then(|p| p.of(&bare)),
                None,
                "{name}"
            );
        }
    }
}
