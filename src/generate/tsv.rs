//! Snowplow enriched TSV: 131 tab-separated fields, empty = null, JSON columns for contexts,
//! the self-describing event and derived contexts (SPEC section 1, encoding 1).

use super::catalog::{Catalog, DEVICES, GEOS, STRUCT_EVENTS};
use super::entities::{self as e, event_names, unstruct_schema};
use super::shop::{Event, Kind, SessionMode};
use super::write::{push_ipv4, push_json_inner, push_u64, push_uuid, Clock, TsStyle};
use super::Damage;

/// The number of enriched fields.
pub(crate) const FIELDS: usize = 131;
/// Column indices of the JSON columns (`contexts`, `unstruct_event`, `derived_contexts`).
pub(crate) const JSON_COLUMNS: [usize; 3] = [52, 58, 122];

/// Writes fields in increasing column order, inserting the tabs of the empty ones.
struct Cols<'a> {
    buf: &'a mut Vec<u8>,
    col: usize,
}

impl Cols<'_> {
    #[inline]
    fn at(&mut self, idx: usize) -> &mut Vec<u8> {
        while self.col < idx {
            self.buf.push(b'\t');
            self.col += 1;
        }
        self.buf
    }

    #[inline]
    fn str(&mut self, idx: usize, s: &str) {
        self.at(idx).extend_from_slice(s.as_bytes());
    }
}

/// Appends `{"schema":"<schema>","data":` with a separating comma after the first entity.
fn open_entity(buf: &mut Vec<u8>, first: &mut bool, schema: &str) {
    if !*first {
        buf.push(b',');
    }
    *first = false;
    buf.extend_from_slice(b"{\"schema\":\"");
    buf.extend_from_slice(schema.as_bytes());
    buf.extend_from_slice(b"\",\"data\":");
}

fn open_envelope(buf: &mut Vec<u8>, ev: &Event) {
    buf.extend_from_slice(if ev.envelope_v101 {
        b"{\"schema\":\"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1\",\"data\":["
    } else {
        b"{\"schema\":\"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0\",\"data\":["
    });
}

/// The `contexts` column, or nothing when the event has no entity.
fn push_contexts(buf: &mut Vec<u8>, clock: &mut Clock, catalog: &Catalog, ev: &Event) {
    let web = !ev.is_app();
    let session = ev.session_mode == SessionMode::Entity;
    if ev.n_items == 0
        && !e::has_cart(ev)
        && ev.kind != Kind::CheckoutStep
        && !e::has_promotion(ev)
        && !web
        && !session
    {
        return;
    }
    open_envelope(buf, ev);
    let mut first = true;
    for item in ev.items() {
        open_entity(buf, &mut first, e::PRODUCT_SCHEMA);
        e::push_product(buf, catalog, ev, item);
        buf.push(b'}');
    }
    if e::has_cart(ev) {
        open_entity(buf, &mut first, e::CART_SCHEMA);
        e::push_cart(buf, ev);
        buf.push(b'}');
    }
    if ev.kind == Kind::CheckoutStep {
        open_entity(buf, &mut first, e::CHECKOUT_SCHEMA);
        e::push_checkout_step(buf, ev);
        buf.push(b'}');
    }
    if ev.kind == Kind::Transaction {
        open_entity(buf, &mut first, e::TRANSACTION_SCHEMA);
        e::push_transaction(buf, ev);
        buf.push(b'}');
    }
    if e::has_promotion(ev) {
        open_entity(buf, &mut first, e::PROMOTION_SCHEMA);
        e::push_promotion(buf, ev);
        buf.push(b'}');
    }
    if web {
        open_entity(buf, &mut first, e::WEB_PAGE_SCHEMA);
        e::push_web_page(buf, ev);
        buf.push(b'}');
    }
    if session {
        open_entity(buf, &mut first, e::CLIENT_SESSION_SCHEMA);
        e::push_client_session(buf, clock, ev);
        buf.push(b'}');
    }
    buf.extend_from_slice(b"]}");
}

/// Text that is no timestamp, for the malformed-timestamp records.
pub(crate) fn bad_timestamp(variant: u8) -> &'static str {
    match variant % 4 {
        0 => "2026-13-45 25:61:00.000",
        1 => "yesterday",
        2 => "2026-02-30 10:00:00",
        _ => "26-01-01 00:00:00",
    }
}

/// Appends one event as an enriched TSV line (without the newline).
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
    let mut c = Cols { buf, col: 0 };
    c.str(0, device.app.map_or("live-shop-web", |a| a.0));
    c.str(1, if web { "web" } else { "mob" });
    clock.push(c.at(2), ev.etl, TsStyle::Enriched);
    match damage {
        Damage::BadTimestamp(v) => c.str(3, bad_timestamp(v)),
        _ => clock.push(c.at(3), ev.collector, TsStyle::Enriched),
    }
    clock.push(c.at(4), ev.dvce_created, TsStyle::Enriched);
    c.str(5, event);
    push_uuid(c.at(6), ev.event_id);
    c.str(8, if web { "sp" } else { "liveShopApp" });
    c.str(9, device.app.map_or("js-4.3.1", |a| a.1));
    c.str(10, "ssc-3.2.0-kafka");
    c.str(11, "snowplow-enrich-kafka-5.1.0");
    if ev.logged_in && !no_user {
        c.str(12, "user-");
        push_u64(c.buf, ev.user_num as u64);
    }
    push_ipv4(c.at(13), ev.ip);
    if !no_user {
        push_uuid(c.at(15), ev.duid);
    }
    if ev.session_mode != SessionMode::Neither {
        push_u64(c.at(16), ev.session_index as u64);
    }
    if !no_user {
        push_uuid(c.at(17), ev.nuid);
    }
    c.str(18, geo.country);
    c.str(19, geo.region);
    c.str(20, geo.city);
    c.str(22, geo.lat);
    c.str(23, geo.lon);
    c.str(24, geo.region_name);
    if web {
        e::push_url(c.at(29), catalog, ev);
        if ev.kind == Kind::PageView {
            e::push_title(c.at(30), catalog, ev.page);
        }
        let referrer = e::referrer(ev);
        if let Some((url, _)) = referrer {
            c.str(31, url);
        }
        c.str(32, "https");
        c.str(33, e::HOST);
        c.str(34, "443");
        e::push_path(c.at(35), catalog, ev.page);
        if e::has_query(ev) {
            e::push_query(c.at(36), ev);
        }
        if let Some((_, host)) = referrer {
            c.str(38, "https");
            c.str(39, host);
            c.str(41, "/");
            let social = host.contains("facebook") || host.contains("instagram");
            c.str(44, if social { "social" } else { "search" });
            let source = match host {
                "www.google.com" => "Google",
                "www.bing.com" => "Bing",
                "www.facebook.com" => "Facebook",
                _ => "Instagram",
            };
            c.str(45, source);
        }
        if let Some((source, medium, campaign, term, content)) = e::marketing(ev) {
            c.str(47, medium);
            c.str(48, source);
            c.str(49, term);
            c.str(50, content);
            c.str(51, campaign);
        }
    }
    push_contexts(c.at(52), clock, catalog, ev);
    if ev.kind == Kind::Struct {
        let (category, action, label, property) = STRUCT_EVENTS[ev.variant as usize];
        c.str(53, category);
        c.str(54, action);
        c.str(55, label);
        c.str(56, property);
        if let Some(value) = e::struct_value(ev) {
            c.str(57, value);
        }
    }
    if let Some((vendor, name, version)) = unstruct_schema(ev) {
        let buf = c.at(58);
        buf.extend_from_slice(
            b"{\"schema\":\"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0\",\"data\":{\"schema\":\"",
        );
        e::push_iglu(buf, vendor, name, version);
        buf.extend_from_slice(b"\",\"data\":");
        e::push_unstruct_data(buf, catalog, ev);
        buf.extend_from_slice(b"}}");
    }
    push_json_inner_str(c.at(77), device.useragent);
    if web {
        c.str(83, geo.lang);
        c.str(93, "1");
        c.str(94, "24");
        push_u64(c.at(95), device.viewport.0 as u64);
        push_u64(c.at(96), device.viewport.1 as u64);
    }
    c.str(100, geo.timezone);
    push_u64(c.at(103), device.screen.0 as u64);
    push_u64(c.at(104), device.screen.1 as u64);
    if web {
        c.str(105, "UTF-8");
    }
    c.str(115, geo.timezone);
    clock.push(c.at(119), ev.dvce_sent, TsStyle::Enriched);
    if ev.yauaa {
        let buf = c.at(122);
        open_envelope(buf, ev);
        let mut first = true;
        open_entity(buf, &mut first, e::YAUAA_SCHEMA);
        buf.extend_from_slice(device.yauaa.as_bytes());
        buf.extend_from_slice(b"}]}");
    }
    if ev.session_mode != SessionMode::Neither {
        push_uuid(c.at(123), ev.session_id);
    }
    match damage {
        Damage::BadTimestamp(v) => c.str(124, bad_timestamp(v.wrapping_add(1))),
        _ => clock.push(c.at(124), ev.time, TsStyle::Enriched),
    }
    c.str(125, vendor);
    c.str(126, name);
    c.str(127, "jsonschema");
    c.str(128, version);
    c.at(FIELDS - 1);
}

/// User agents are plain text in TSV; none of ours holds a tab, but keep the column safe.
fn push_json_inner_str(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| b == b'\t' || b == b'\n') {
        push_json_inner(buf, s.as_bytes());
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// The byte range of column `idx` of a TSV line, if the line has that many columns.
pub(crate) fn column_range(line: &[u8], idx: usize) -> Option<(usize, usize)> {
    let mut start = 0;
    for _ in 0..idx {
        start += memchr_tab(&line[start..])? + 1;
    }
    let end = memchr_tab(&line[start..]).map_or(line.len(), |p| start + p);
    Some((start, end))
}

fn memchr_tab(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\t')
}
