//! Snowbridge's `spEnrichedToJson` shape (SPEC section 1, encoding 2): one flat JSON object
//! keyed by enriched field names, typed values (integers, booleans, floats), timestamps in Go's
//! RFC 3339 form, entities as arrays of their `data` under `contexts_<vendor>_<name>_<major>`
//! (derived contexts included) and the self-describing event's `data` under
//! `unstruct_event_<vendor>_<name>_<major>`. Null fields are left out, as the analytics SDK does.

use super::catalog::{Catalog, DEVICES, GEOS, STRUCT_EVENTS};
use super::entities::{self as e, event_names, unstruct_schema};
use super::shop::{Event, Kind, SessionMode};
use super::tsv::bad_timestamp;
use super::write::{needs_escape, push_ipv4, push_json_str, push_u64, push_uuid, Clock, TsStyle};
use super::Damage;

/// A JSON object being written: tracks the comma.
pub(crate) struct Obj<'a> {
    pub(crate) buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Obj<'a> {
    pub(crate) fn open(buf: &'a mut Vec<u8>) -> Obj<'a> {
        buf.push(b'{');
        Obj { buf, first: true }
    }

    /// Writes the key and returns the buffer for the value.
    #[inline]
    pub(crate) fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(key.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.buf
    }

    /// Like [`Obj::key`] for a key that `f` writes (no escaping needed).
    pub(crate) fn key_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> &mut Vec<u8> {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        f(self.buf);
        self.buf.extend_from_slice(b"\":");
        self.buf
    }

    #[inline]
    pub(crate) fn str(&mut self, key: &str, value: &str) {
        push_json_str(self.key(key), value);
    }

    /// A string value written by `f` (which must not write quotes or control characters).
    #[inline]
    pub(crate) fn with(&mut self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        let buf = self.key(key);
        buf.push(b'"');
        f(buf);
        buf.push(b'"');
    }

    #[inline]
    pub(crate) fn num(&mut self, key: &str, value: u64) {
        push_u64(self.key(key), value);
    }

    #[inline]
    pub(crate) fn raw(&mut self, key: &str, value: &str) {
        self.key(key).extend_from_slice(value.as_bytes());
    }

    pub(crate) fn close(self) {
        self.buf.push(b'}');
    }
}

/// Appends `<prefix><vendor with . and - as _>_<name>_<major>` (the analytics SDK's key).
fn push_flat_key(buf: &mut Vec<u8>, prefix: &str, vendor: &str, name: &str, version: &str) {
    buf.extend_from_slice(prefix.as_bytes());
    for &b in vendor.as_bytes() {
        buf.push(if b == b'.' || b == b'-' { b'_' } else { b });
    }
    buf.push(b'_');
    buf.extend_from_slice(name.as_bytes());
    buf.push(b'_');
    let major = version.split('-').next().unwrap_or("1");
    buf.extend_from_slice(major.as_bytes());
}

/// Appends one event as a Snowbridge JSON object (single line, no newline).
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
    let no_user = damage == Damage::NoUserKey;
    let (event, vendor, name, version) = event_names(ev);
    let mut o = Obj::open(buf);
    o.str("app_id", device.app.map_or("live-shop-web", |a| a.0));
    o.str("platform", if web { "web" } else { "mob" });
    o.with("etl_tstamp", |b| clock.push(b, ev.etl, TsStyle::Rfc3339));
    match damage {
        Damage::BadTimestamp(v) => o.str("collector_tstamp", bad_timestamp(v)),
        _ => o.with("collector_tstamp", |b| {
            clock.push(b, ev.collector, TsStyle::Rfc3339)
        }),
    }
    o.with("dvce_created_tstamp", |b| {
        clock.push(b, ev.dvce_created, TsStyle::Rfc3339)
    });
    o.str("event", event);
    o.with("event_id", |b| push_uuid(b, ev.event_id));
    o.str("name_tracker", if web { "sp" } else { "liveShopApp" });
    o.str("v_tracker", device.app.map_or("js-4.3.1", |a| a.1));
    o.str("v_collector", "ssc-3.2.0-kafka");
    o.str("v_etl", "snowplow-enrich-kafka-5.1.0");
    if ev.logged_in && !no_user {
        o.with("user_id", |b| {
            b.extend_from_slice(b"user-");
            push_u64(b, ev.user_num as u64);
        });
    }
    o.with("user_ipaddress", |b| push_ipv4(b, ev.ip));
    if !no_user {
        o.with("domain_userid", |b| push_uuid(b, ev.duid));
    }
    if ev.session_mode != SessionMode::Neither {
        o.num("domain_sessionidx", ev.session_index as u64);
    }
    if !no_user {
        o.with("network_userid", |b| push_uuid(b, ev.nuid));
    }
    o.str("geo_country", geo.country);
    o.str("geo_region", geo.region);
    o.str("geo_city", geo.city);
    o.raw("geo_latitude", geo.lat);
    o.raw("geo_longitude", geo.lon);
    o.str("geo_region_name", geo.region_name);
    if web {
        write_page(&mut o, catalog, ev);
    }
    write_contexts(&mut o, clock, catalog, ev);
    if ev.kind == Kind::Struct {
        let (category, action, label, property) = STRUCT_EVENTS[ev.variant as usize];
        o.str("se_category", category);
        o.str("se_action", action);
        o.str("se_label", label);
        if !property.is_empty() {
            o.str("se_property", property);
        }
        if let Some(value) = e::struct_value(ev) {
            o.raw("se_value", value);
        }
    }
    if let Some((vendor, name, version)) = unstruct_schema(ev) {
        let buf = o.key_with(|b| push_flat_key(b, "unstruct_event_", vendor, name, version));
        e::push_unstruct_data(buf, catalog, ev);
    }
    o.str("useragent", device.useragent);
    if web {
        o.str("br_lang", geo.lang);
        o.raw("br_cookies", "true");
        o.str("br_colordepth", "24");
        o.num("br_viewwidth", device.viewport.0 as u64);
        o.num("br_viewheight", device.viewport.1 as u64);
    }
    o.str("os_timezone", geo.timezone);
    o.num("dvce_screenwidth", device.screen.0 as u64);
    o.num("dvce_screenheight", device.screen.1 as u64);
    if web {
        o.str("doc_charset", "UTF-8");
    }
    o.str("geo_timezone", geo.timezone);
    o.with("dvce_sent_tstamp", |b| {
        clock.push(b, ev.dvce_sent, TsStyle::Rfc3339)
    });
    if ev.yauaa {
        let buf = o.key("contexts_nl_basjes_yauaa_context_1");
        buf.push(b'[');
        buf.extend_from_slice(device.yauaa.as_bytes());
        buf.push(b']');
    }
    if ev.session_mode != SessionMode::Neither {
        o.with("domain_sessionid", |b| push_uuid(b, ev.session_id));
    }
    match damage {
        Damage::BadTimestamp(v) => o.str("derived_tstamp", bad_timestamp(v.wrapping_add(1))),
        _ => o.with("derived_tstamp", |b| {
            clock.push(b, ev.time, TsStyle::Rfc3339)
        }),
    }
    o.str("event_vendor", vendor);
    o.str("event_name", name);
    o.str("event_format", "jsonschema");
    o.str("event_version", version);
    o.close();
}

fn write_page(o: &mut Obj, catalog: &Catalog, ev: &Event) {
    o.with_json("page_url", |b| e::push_url(b, catalog, ev));
    if ev.kind == Kind::PageView {
        o.with_json("page_title", |b| e::push_title(b, catalog, ev.page));
    }
    let referrer = e::referrer(ev);
    if let Some((url, _)) = referrer {
        o.str("page_referrer", url);
    }
    o.str("page_urlscheme", "https");
    o.str("page_urlhost", e::HOST);
    o.num("page_urlport", 443);
    o.with_json("page_urlpath", |b| e::push_path(b, catalog, ev.page));
    if e::has_query(ev) {
        o.with_json("page_urlquery", |b| e::push_query(b, ev));
    }
    if let Some((_, host)) = referrer {
        o.str("refr_urlscheme", "https");
        o.str("refr_urlhost", host);
        o.str("refr_urlpath", "/");
        let social = host.contains("facebook") || host.contains("instagram");
        o.str("refr_medium", if social { "social" } else { "search" });
    }
    if let Some((source, medium, campaign, term, content)) = e::marketing(ev) {
        o.str("mkt_medium", medium);
        o.str("mkt_source", source);
        if !term.is_empty() {
            o.str("mkt_term", term);
        }
        if !content.is_empty() {
            o.str("mkt_content", content);
        }
        o.str("mkt_campaign", campaign);
    }
}

fn write_contexts(o: &mut Obj, clock: &mut Clock, catalog: &Catalog, ev: &Event) {
    if ev.n_items > 0 {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_ecommerce_product_1");
        buf.push(b'[');
        for (i, item) in ev.items().iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            e::push_product(buf, catalog, ev, item);
        }
        buf.push(b']');
    }
    if e::has_cart(ev) {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_ecommerce_cart_1");
        buf.push(b'[');
        e::push_cart(buf, ev);
        buf.push(b']');
    }
    if ev.kind == Kind::CheckoutStep {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_ecommerce_checkout_step_1");
        buf.push(b'[');
        e::push_checkout_step(buf, ev);
        buf.push(b']');
    }
    if ev.kind == Kind::Transaction {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1");
        buf.push(b'[');
        e::push_transaction(buf, ev);
        buf.push(b']');
    }
    if e::has_promotion(ev) {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_ecommerce_promotion_1");
        buf.push(b'[');
        e::push_promotion(buf, ev);
        buf.push(b']');
    }
    if !ev.is_app() {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_web_page_1");
        buf.push(b'[');
        e::push_web_page(buf, ev);
        buf.push(b']');
    }
    if ev.session_mode == SessionMode::Entity {
        let buf = o.key("contexts_com_snowplowanalytics_snowplow_client_session_1");
        buf.push(b'[');
        e::push_client_session(buf, clock, ev);
        buf.push(b']');
    }
}

impl Obj<'_> {
    /// A string value whose raw text `f` writes; escaped as needed (titles hold `"`).
    pub(crate) fn with_json(&mut self, key: &str, f: impl FnOnce(&mut Vec<u8>)) {
        let buf = self.key(key);
        let start = buf.len();
        f(buf);
        if needs_escape(&buf[start..]) {
            let raw = buf.split_off(start);
            push_json_str(buf, &String::from_utf8_lossy(&raw));
        } else {
            buf.insert(start, b'"');
            buf.push(b'"');
        }
    }
}
