//! The JSON bodies shared by all encodings: entity `data` objects, the self-describing event's
//! `data`, and the page URL pieces. The encodings differ only in how they wrap these.

use super::catalog::{self, Catalog, CAMPAIGNS, SEARCH_TERMS};
use super::shop::{Event, Item, Kind, ListName, Page};
use super::write::{push_json_str, push_money, push_u64, push_u64_padded, push_uuid, Clock};

pub(crate) const ECOM: &str = "com.snowplowanalytics.snowplow.ecommerce";
pub(crate) const PRODUCT_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0";
pub(crate) const CART_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow.ecommerce/cart/jsonschema/1-0-0";
pub(crate) const CHECKOUT_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow.ecommerce/checkout_step/jsonschema/1-0-0";
pub(crate) const TRANSACTION_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow.ecommerce/transaction/jsonschema/1-0-0";
pub(crate) const PROMOTION_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow.ecommerce/promotion/jsonschema/1-0-0";
pub(crate) const WEB_PAGE_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/web_page/jsonschema/1-0-0";
pub(crate) const CLIENT_SESSION_SCHEMA: &str =
    "iglu:com.snowplowanalytics.snowplow/client_session/jsonschema/1-0-2";
pub(crate) const YAUAA_SCHEMA: &str = "iglu:nl.basjes/yauaa_context/jsonschema/1-0-4";

pub(crate) const HOST: &str = "shop.example.com";

/// The self-describing event of an event: `(vendor, name, version)`; `None` for page views and
/// structured events.
pub(crate) fn unstruct_schema(ev: &Event) -> Option<(&'static str, &'static str, &'static str)> {
    match ev.kind {
        Kind::PageView | Kind::Struct => None,
        Kind::ScreenView => Some(("com.snowplowanalytics.mobile", "screen_view", "1-0-0")),
        Kind::LinkClick => Some(("com.snowplowanalytics.snowplow", "link_click", "1-0-1")),
        _ => Some((
            ECOM,
            "snowplow_ecommerce_action",
            if ev.action_v100 { "1-0-0" } else { "1-0-2" },
        )),
    }
}

/// `(event, event_vendor, event_name, event_version)` as Enrich fills them.
pub(crate) fn event_names(ev: &Event) -> (&'static str, &'static str, &'static str, &'static str) {
    match ev.kind {
        Kind::PageView => (
            "page_view",
            "com.snowplowanalytics.snowplow",
            "page_view",
            "1-0-0",
        ),
        Kind::Struct => ("struct", "com.google.analytics", "event", "1-0-0"),
        _ => match unstruct_schema(ev) {
            Some((vendor, name, version)) => ("unstruct", vendor, name, version),
            None => ("unstruct", "", "", ""),
        },
    }
}

/// Appends `iglu:<vendor>/<name>/jsonschema/<version>`.
pub(crate) fn push_iglu(buf: &mut Vec<u8>, vendor: &str, name: &str, version: &str) {
    buf.extend_from_slice(b"iglu:");
    buf.extend_from_slice(vendor.as_bytes());
    buf.push(b'/');
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"/jsonschema/");
    buf.extend_from_slice(version.as_bytes());
}

/// The list name as written in the action's `name`.
pub(crate) fn list_name(catalog: &Catalog, list: ListName) -> &str {
    match list {
        ListName::Category(c) => &catalog.categories[c as usize].name,
        ListName::Search => catalog::SEARCH_RESULTS,
        ListName::Merch(m) => catalog::LISTS[m as usize % catalog::LISTS.len()],
    }
}

/// The self-describing event's `data` object.
pub(crate) fn push_unstruct_data(buf: &mut Vec<u8>, catalog: &Catalog, ev: &Event) {
    match ev.kind {
        Kind::ScreenView => {
            buf.extend_from_slice(b"{\"name\":");
            push_json_str(buf, screen_name(ev.page));
            buf.extend_from_slice(b",\"id\":\"");
            push_uuid(buf, ev.page_view_id);
            buf.extend_from_slice(b"\"}");
        }
        Kind::LinkClick => {
            buf.extend_from_slice(b"{\"targetUrl\":");
            push_json_str(buf, catalog::LINK_TARGETS[ev.variant as usize]);
            buf.push(b'}');
        }
        _ => {
            buf.extend_from_slice(b"{\"type\":\"");
            buf.extend_from_slice(ev.kind.action().unwrap_or("unknown").as_bytes());
            buf.push(b'"');
            if matches!(ev.kind, Kind::ListView | Kind::ListClick) {
                buf.extend_from_slice(b",\"name\":");
                push_json_str(buf, list_name(catalog, ev.list));
            }
            buf.push(b'}');
        }
    }
}

fn screen_name(page: Page) -> &'static str {
    match page {
        Page::Home => "Home",
        Page::Category(_) => "Category",
        Page::Search(_) => "Search",
        Page::Product(_) => "Product",
        Page::Cart => "Cart",
        Page::Checkout => "Checkout",
    }
}

/// A product entity's `data`: quantities for cart lines, positions for lists.
pub(crate) fn push_product(buf: &mut Vec<u8>, catalog: &Catalog, ev: &Event, item: &Item) {
    let product = &catalog.products[item.product as usize];
    buf.extend_from_slice(&product.json_open);
    match ev.kind {
        Kind::AddToCart | Kind::RemoveFromCart | Kind::Transaction => {
            buf.extend_from_slice(b",\"quantity\":");
            push_u64(buf, item.quantity as u64);
        }
        Kind::ListView | Kind::ListClick => {
            buf.extend_from_slice(b",\"position\":");
            push_u64(buf, item.position as u64);
        }
        _ => {}
    }
    buf.push(b'}');
}

/// Whether the event carries a cart entity.
pub(crate) fn has_cart(ev: &Event) -> bool {
    matches!(
        ev.kind,
        Kind::AddToCart | Kind::RemoveFromCart | Kind::CheckoutStep
    )
}

pub(crate) fn push_cart(buf: &mut Vec<u8>, ev: &Event) {
    buf.extend_from_slice(b"{\"total_value\":");
    push_money(buf, ev.cart_total);
    buf.extend_from_slice(b",\"currency\":\"USD\"}");
}

pub(crate) fn push_checkout_step(buf: &mut Vec<u8>, ev: &Event) {
    buf.extend_from_slice(b"{\"step\":");
    push_u64(buf, ev.step as u64);
    match ev.step {
        1 => buf.extend_from_slice(b",\"account_type\":\"guest\""),
        2 => buf
            .extend_from_slice(b",\"delivery_method\":\"standard\",\"delivery_provider\":\"ups\""),
        _ => {
            buf.extend_from_slice(b",\"payment_method\":");
            push_json_str(buf, catalog::PAYMENT_METHODS[ev.payment as usize]);
        }
    }
    buf.push(b'}');
}

/// Whether the event carries a promotion entity.
pub(crate) fn has_promotion(ev: &Event) -> bool {
    matches!(ev.kind, Kind::PromoView | Kind::PromoClick)
}

/// A promotion entity's `data`, as the JavaScript tracker's ecommerce plugin writes it.
pub(crate) fn push_promotion(buf: &mut Vec<u8>, ev: &Event) {
    let index = ev.promo as usize % catalog::PROMOTIONS.len();
    let (id, name, kind) = catalog::PROMOTIONS[index];
    buf.extend_from_slice(b"{\"id\":");
    push_json_str(buf, id);
    buf.extend_from_slice(b",\"name\":");
    push_json_str(buf, name);
    buf.extend_from_slice(b",\"type\":");
    push_json_str(buf, kind);
    buf.extend_from_slice(b",\"position\":");
    push_u64(buf, index as u64 % 3 + 1);
    buf.extend_from_slice(b",\"creative_id\":\"creative-");
    push_u64_padded(buf, index as u64 + 1, 2);
    buf.extend_from_slice(b"\"}");
}

pub(crate) fn push_transaction(buf: &mut Vec<u8>, ev: &Event) {
    buf.extend_from_slice(b"{\"transaction_id\":\"T");
    push_u64_padded(buf, ev.order, 8);
    buf.extend_from_slice(b"\",\"revenue\":");
    push_money(buf, ev.cart_total);
    buf.extend_from_slice(b",\"currency\":\"USD\",\"payment_method\":");
    push_json_str(buf, catalog::PAYMENT_METHODS[ev.payment as usize]);
    buf.extend_from_slice(b",\"total_quantity\":");
    let quantity: u64 = ev.items().iter().map(|i| i.quantity as u64).sum();
    push_u64(buf, quantity);
    buf.push(b'}');
}

pub(crate) fn push_web_page(buf: &mut Vec<u8>, ev: &Event) {
    buf.extend_from_slice(b"{\"id\":\"");
    push_uuid(buf, ev.page_view_id);
    buf.extend_from_slice(b"\"}");
}

/// The client_session entity as the JavaScript tracker writes it.
pub(crate) fn push_client_session(buf: &mut Vec<u8>, clock: &mut Clock, ev: &Event) {
    buf.extend_from_slice(b"{\"userId\":\"");
    push_uuid(buf, ev.duid);
    buf.extend_from_slice(b"\",\"sessionId\":\"");
    push_uuid(buf, ev.session_id);
    buf.extend_from_slice(b"\",\"sessionIndex\":");
    push_u64(buf, ev.session_index as u64);
    buf.extend_from_slice(b",\"previousSessionId\":");
    if ev.previous_session == 0 {
        buf.extend_from_slice(b"null");
    } else {
        buf.push(b'"');
        push_uuid(buf, ev.previous_session);
        buf.push(b'"');
    }
    buf.extend_from_slice(if ev.is_app() {
        b",\"storageMechanism\":\"SQLITE\",\"firstEventId\":\""
    } else {
        b",\"storageMechanism\":\"COOKIE_1\",\"firstEventId\":\""
    });
    push_uuid(buf, ev.first_event_id);
    buf.extend_from_slice(b"\",\"firstEventTimestamp\":\"");
    clock.push_iso(buf, ev.first_event_time);
    buf.extend_from_slice(b"\",\"eventIndex\":");
    push_u64(buf, ev.event_index as u64);
    buf.push(b'}');
}

/// The page's URL path.
pub(crate) fn push_path(buf: &mut Vec<u8>, catalog: &Catalog, page: Page) {
    match page {
        Page::Home => buf.push(b'/'),
        Page::Category(c) => {
            buf.extend_from_slice(b"/c/");
            buf.extend_from_slice(catalog.categories[c as usize].slug.as_bytes());
        }
        Page::Search(_) => buf.extend_from_slice(b"/search"),
        Page::Product(p) => {
            buf.extend_from_slice(b"/p/");
            buf.extend_from_slice(catalog.products[p as usize].id.as_bytes());
        }
        Page::Cart => buf.extend_from_slice(b"/cart"),
        Page::Checkout => buf.extend_from_slice(b"/checkout"),
    }
}

/// The page's URL query (search term, campaign parameters); nothing when it has none.
pub(crate) fn push_query(buf: &mut Vec<u8>, ev: &Event) {
    let mut first = true;
    if let Page::Search(term) = ev.page {
        buf.extend_from_slice(b"q=");
        catalog::push_query_value(buf, SEARCH_TERMS[term as usize]);
        first = false;
    }
    if let Some(c) = ev.campaign {
        let (source, medium, campaign, term, content) = CAMPAIGNS[c as usize];
        for (key, value) in [
            ("utm_source", source),
            ("utm_medium", medium),
            ("utm_campaign", campaign),
            ("utm_term", term),
            ("utm_content", content),
        ] {
            if value.is_empty() {
                continue;
            }
            if !first {
                buf.push(b'&');
            }
            first = false;
            buf.extend_from_slice(key.as_bytes());
            buf.push(b'=');
            catalog::push_query_value(buf, value);
        }
    }
}

/// Whether the page URL has a query string.
pub(crate) fn has_query(ev: &Event) -> bool {
    matches!(ev.page, Page::Search(_)) || ev.campaign.is_some()
}

/// The full page URL.
pub(crate) fn push_url(buf: &mut Vec<u8>, catalog: &Catalog, ev: &Event) {
    buf.extend_from_slice(b"https://");
    buf.extend_from_slice(HOST.as_bytes());
    push_path(buf, catalog, ev.page);
    if has_query(ev) {
        buf.push(b'?');
        push_query(buf, ev);
    }
}

/// The page title (raw text, may hold `"` and non-ASCII; never a tab or newline).
pub(crate) fn push_title(buf: &mut Vec<u8>, catalog: &Catalog, page: Page) {
    match page {
        Page::Home => {}
        Page::Category(c) => buf.extend_from_slice(catalog.categories[c as usize].name.as_bytes()),
        Page::Search(t) => {
            buf.extend_from_slice(b"Search: ");
            buf.extend_from_slice(SEARCH_TERMS[t as usize].as_bytes());
        }
        Page::Product(p) => buf.extend_from_slice(catalog.products[p as usize].name.as_bytes()),
        Page::Cart => buf.extend_from_slice(b"Your cart"),
        Page::Checkout => buf.extend_from_slice(b"Checkout"),
    }
    if page != Page::Home {
        buf.extend_from_slice(b" | ");
    }
    buf.extend_from_slice(b"Live Shop");
}

/// The referrer of a campaign landing page.
pub(crate) fn referrer(ev: &Event) -> Option<(&'static str, &'static str)> {
    if ev.event_index != 1 {
        return None;
    }
    let (source, ..) = CAMPAIGNS[ev.campaign? as usize];
    match source {
        "google" => Some(("https://www.google.com/", "www.google.com")),
        "bing" => Some(("https://www.bing.com/", "www.bing.com")),
        "facebook" => Some(("https://www.facebook.com/", "www.facebook.com")),
        "instagram" => Some(("https://l.instagram.com/", "l.instagram.com")),
        _ => None,
    }
}

/// `(utm_source, utm_medium, utm_campaign, utm_term, utm_content)` of the event's page.
pub(crate) fn marketing(
    ev: &Event,
) -> Option<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
)> {
    ev.campaign.map(|c| CAMPAIGNS[c as usize])
}

/// The JSON string of an `f64`-typed struct-event value, if the variant has one.
pub(crate) fn struct_value(ev: &Event) -> Option<&'static str> {
    match ev.variant {
        3 => Some("30"),
        1 => Some("0.75"),
        _ => None,
    }
}
