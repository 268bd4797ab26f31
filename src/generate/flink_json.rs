//! The flink-live-shopper shape (SPEC section 1, encoding 3): what that project's Snowbridge
//! JavaScript transform makes of Snowbridge JSON. Fields the transform would leave `undefined`
//! are left out, as `JSON.stringify` does. Transactions carry `payload.transaction` and
//! `payload.products` (our extension; the reference transform writes no payload for them).

use super::catalog::{Catalog, DEVICES, GEOS, STRUCT_EVENTS};
use super::entities::{self as e, event_names};
use super::shop::{Event, Kind, SessionMode};
use super::snowplow_json::Obj;
use super::tsv::bad_timestamp;
use super::write::{push_ipv4, push_u64, push_uuid, Clock, TsStyle};
use super::Damage;

fn push_products(buf: &mut Vec<u8>, catalog: &Catalog, ev: &Event) {
    buf.push(b'[');
    for (i, item) in ev.items().iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        e::push_product(buf, catalog, ev, item);
    }
    buf.push(b']');
}

/// Appends one event in the flink-live-shopper shape (single line, no newline).
pub(crate) fn encode(
    buf: &mut Vec<u8>,
    clock: &mut Clock,
    catalog: &Catalog,
    ev: &Event,
    damage: Damage,
) {
    let device = &DEVICES[ev.device as usize];
    let geo = &GEOS[ev.geo as usize];
    let web = device.app.is_none();
    let (event, vendor, _, version) = event_names(ev);
    let mut o = Obj::open(buf);
    o.with("id", |b| push_uuid(b, ev.event_id));
    o.str("type", ev.kind.action().unwrap_or(event));
    match damage {
        Damage::BadTimestamp(v) => o.str("timestamp", bad_timestamp(v)),
        _ => o.with("timestamp", |b| clock.push(b, ev.time, TsStyle::Rfc3339)),
    }

    {
        let mut p = Obj::open(o.key("payload"));
        match ev.kind {
            Kind::PageView => {
                p.with_json("page_title", |b| e::push_title(b, catalog, ev.page));
                p.with_json("page_url", |b| e::push_url(b, catalog, ev));
                if let Some((url, _)) = e::referrer(ev) {
                    p.str("referrer", url);
                }
            }
            Kind::ProductView => {
                let buf = p.key("product");
                match ev.items().first() {
                    Some(item) => e::push_product(buf, catalog, ev, item),
                    None => buf.extend_from_slice(b"{}"),
                }
            }
            Kind::AddToCart | Kind::RemoveFromCart => {
                if let Some(item) = ev.items().first() {
                    e::push_product(p.key("product"), catalog, ev, item);
                }
                e::push_cart(p.key("cart"), ev);
            }
            Kind::CheckoutStep => {
                e::push_checkout_step(p.key("checkout_step"), ev);
                e::push_cart(p.key("cart"), ev);
            }
            Kind::ListView | Kind::ListClick => {
                push_products(p.key("products"), catalog, ev);
                p.str("list_name", e::list_name(catalog, ev.list));
            }
            Kind::Transaction => {
                e::push_transaction(p.key("transaction"), ev);
                push_products(p.key("products"), catalog, ev);
            }
            Kind::PromoView | Kind::PromoClick => e::push_promotion(p.key("promotion"), ev),
            Kind::Struct => {
                let (category, action, label, property) = STRUCT_EVENTS[ev.variant as usize];
                let mut se = Obj::open(p.key("se_data"));
                se.str("category", category);
                se.str("action", action);
                se.str("label", label);
                if !property.is_empty() {
                    se.str("property", property);
                }
                if let Some(value) = e::struct_value(ev) {
                    se.raw("value", value);
                }
                se.close();
            }
            Kind::ScreenView | Kind::LinkClick => {}
        }
        p.close();
    }

    {
        let mut en = Obj::open(o.key("enrich"));
        {
            let mut client = Obj::open(en.key("client"));
            client.str("useragent", device.useragent);
            {
                let mut browser = Obj::open(client.key("browser"));
                if web {
                    browser.with("viewport", |b| {
                        push_u64(b, device.viewport.0 as u64);
                        b.push(b'x');
                        push_u64(b, device.viewport.1 as u64);
                    });
                    browser.with("resolution", |b| {
                        push_u64(b, device.screen.0 as u64);
                        b.push(b'x');
                        push_u64(b, device.screen.1 as u64);
                    });
                    browser.str("color_depth", "24");
                    browser.raw("cookies_enabled", "true");
                    browser.str("language", geo.lang);
                }
                browser.close();
            }
            {
                let mut d = Obj::open(client.key("device"));
                d.with("created_tstamp", |b| {
                    clock.push(b, ev.dvce_created, TsStyle::Rfc3339)
                });
                d.with("sent_tstamp", |b| {
                    clock.push(b, ev.dvce_sent, TsStyle::Rfc3339)
                });
                d.num("screen_width", device.screen.0 as u64);
                d.num("screen_height", device.screen.1 as u64);
                d.str("os_timezone", geo.timezone);
                d.close();
            }
            {
                let mut page = Obj::open(client.key("page"));
                if web {
                    page.with_json("page_url", |b| e::push_url(b, catalog, ev));
                    if ev.kind == Kind::PageView {
                        page.with_json("page_title", |b| e::push_title(b, catalog, ev.page));
                    }
                    if let Some((url, _)) = e::referrer(ev) {
                        page.str("page_referrer", url);
                    }
                }
                page.close();
            }
            client.close();
        }
        en.raw("performance", "{}");
        {
            let mut user = Obj::open(en.key("user"));
            if damage != Damage::NoUserKey {
                if ev.logged_in {
                    user.with("user_id", |b| {
                        b.extend_from_slice(b"user-");
                        push_u64(b, ev.user_num as u64);
                    });
                }
                user.with("domain_userid", |b| push_uuid(b, ev.duid));
                user.with("network_userid", |b| push_uuid(b, ev.nuid));
            }
            user.with("ip_address", |b| push_ipv4(b, ev.ip));
            user.close();
        }
        match e::marketing(ev).filter(|_| web) {
            Some((source, medium, campaign, term, content)) => {
                let mut m = Obj::open(en.key("marketing"));
                m.str("mkt_medium", medium);
                m.str("mkt_source", source);
                if !term.is_empty() {
                    m.str("mkt_term", term);
                }
                if !content.is_empty() {
                    m.str("mkt_content", content);
                }
                m.str("mkt_campaign", campaign);
                m.close();
            }
            None => en.raw("marketing", "null"),
        }
        en.str("platform", if web { "web" } else { "mob" });
        en.close();
    }

    match ev.session_mode {
        SessionMode::Entity => e::push_client_session(o.key("session"), clock, ev),
        SessionMode::NoEntity => {
            let mut s = Obj::open(o.key("session"));
            s.with("domain_sessionid", |b| push_uuid(b, ev.session_id));
            s.num("domain_sessionidx", ev.session_index as u64);
            s.close();
        }
        SessionMode::Neither => o.raw("session", "{}"),
    }

    {
        let mut m = Obj::open(o.key("metadata"));
        m.str("event_version", version);
        m.str("event_format", "jsonschema");
        m.str("event_vendor", vendor);
        m.str("app_id", device.app.map_or("live-shop-web", |a| a.0));
        m.with("etl_tstamp", |b| clock.push(b, ev.etl, TsStyle::Rfc3339));
        match damage {
            Damage::BadTimestamp(v) => m.str("collector_tstamp", bad_timestamp(v.wrapping_add(1))),
            _ => m.with("collector_tstamp", |b| {
                clock.push(b, ev.collector, TsStyle::Rfc3339)
            }),
        }
        m.str("v_tracker", device.app.map_or("js-4.3.1", |a| a.1));
        m.str("v_collector", "ssc-3.2.0-kafka");
        m.str("v_etl", "snowplow-enrich-kafka-5.1.0");
        m.str("name_tracker", if web { "sp" } else { "liveShopApp" });
        m.close();
    }
    o.close();
}
