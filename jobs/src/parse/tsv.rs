//! Snowplow enriched TSV: 131 tab-separated fields, no quoting, empty = null.
//!
//! The line is split once (SSE2 tab masks) into borrowed offsets and checked for UTF-8 once (should
//! that fail, per field, so that only a field the job reads can reject the event); only the strings
//! that go into the event are allocated.

use super::derive;
use super::device::classify_user_agent;
use super::entities::Entities;
use super::envelope;
use super::error::{ParseError, Reason};
use super::url::is_search;
use crate::event::{Millis, ShopperEvent};
use crate::fields::EntityFields;

/// Number of fields of an enriched event.
pub const FIELD_COUNT: usize = 131;

/// The enriched field names, by 0-based index; error messages name fields with these.
pub const FIELD_NAMES: [&str; FIELD_COUNT] = [
    "app_id",
    "platform",
    "etl_tstamp",
    "collector_tstamp",
    "dvce_created_tstamp",
    "event",
    "event_id",
    "txn_id",
    "name_tracker",
    "v_tracker",
    "v_collector",
    "v_etl",
    "user_id",
    "user_ipaddress",
    "user_fingerprint",
    "domain_userid",
    "domain_sessionidx",
    "network_userid",
    "geo_country",
    "geo_region",
    "geo_city",
    "geo_zipcode",
    "geo_latitude",
    "geo_longitude",
    "geo_region_name",
    "ip_isp",
    "ip_organization",
    "ip_domain",
    "ip_netspeed",
    "page_url",
    "page_title",
    "page_referrer",
    "page_urlscheme",
    "page_urlhost",
    "page_urlport",
    "page_urlpath",
    "page_urlquery",
    "page_urlfragment",
    "refr_urlscheme",
    "refr_urlhost",
    "refr_urlport",
    "refr_urlpath",
    "refr_urlquery",
    "refr_urlfragment",
    "refr_medium",
    "refr_source",
    "refr_term",
    "mkt_medium",
    "mkt_source",
    "mkt_term",
    "mkt_content",
    "mkt_campaign",
    "contexts",
    "se_category",
    "se_action",
    "se_label",
    "se_property",
    "se_value",
    "unstruct_event",
    "tr_orderid",
    "tr_affiliation",
    "tr_total",
    "tr_tax",
    "tr_shipping",
    "tr_city",
    "tr_state",
    "tr_country",
    "ti_orderid",
    "ti_sku",
    "ti_name",
    "ti_category",
    "ti_price",
    "ti_quantity",
    "pp_xoffset_min",
    "pp_xoffset_max",
    "pp_yoffset_min",
    "pp_yoffset_max",
    "useragent",
    "br_name",
    "br_family",
    "br_version",
    "br_type",
    "br_renderengine",
    "br_lang",
    "br_features_pdf",
    "br_features_flash",
    "br_features_java",
    "br_features_director",
    "br_features_quicktime",
    "br_features_realplayer",
    "br_features_windowsmedia",
    "br_features_gears",
    "br_features_silverlight",
    "br_cookies",
    "br_colordepth",
    "br_viewwidth",
    "br_viewheight",
    "os_name",
    "os_family",
    "os_manufacturer",
    "os_timezone",
    "dvce_type",
    "dvce_ismobile",
    "dvce_screenwidth",
    "dvce_screenheight",
    "doc_charset",
    "doc_width",
    "doc_height",
    "tr_currency",
    "tr_total_base",
    "tr_tax_base",
    "tr_shipping_base",
    "ti_currency",
    "ti_price_base",
    "base_currency",
    "geo_timezone",
    "mkt_clickid",
    "mkt_network",
    "etl_tags",
    "dvce_sent_tstamp",
    "refr_domain_userid",
    "refr_dvce_tstamp",
    "derived_contexts",
    "domain_sessionid",
    "derived_tstamp",
    "event_vendor",
    "event_name",
    "event_format",
    "event_version",
    "event_fingerprint",
    "true_tstamp",
];

const PLATFORM: usize = 1;
const COLLECTOR_TSTAMP: usize = 3;
const EVENT: usize = 5;
const EVENT_ID: usize = 6;
const USER_ID: usize = 12;
const DOMAIN_USERID: usize = 15;
const NETWORK_USERID: usize = 17;
const GEO_COUNTRY: usize = 18;
const GEO_REGION: usize = 19;
const PAGE_URL: usize = 29;
const MKT_CAMPAIGN: usize = 51;
const CONTEXTS: usize = 52;
const UNSTRUCT_EVENT: usize = 58;
const USERAGENT: usize = 77;
const DERIVED_CONTEXTS: usize = 122;
const DOMAIN_SESSIONID: usize = 123;
const DERIVED_TSTAMP: usize = 124;

/// The fields of one line, borrowed: field `i` is `line[starts[i]..starts[i + 1] - 1]`.
struct Fields<'a> {
    line: &'a [u8],
    /// The whole line as text when it is valid UTF-8 (always, from Enrich): one validation pass
    /// over the line is far cheaper than one per field.
    text: Option<&'a str>,
    starts: [usize; FIELD_COUNT + 1],
}

impl<'a> Fields<'a> {
    /// Splits on tabs; a line that does not have exactly 131 fields is rejected here. Trailing
    /// empty fields count (no trimming), as Enrich writes them. Filled in place: the offsets
    /// are a kilobyte, which a by-value return would copy.
    fn split(&mut self) -> Result<(), ParseError> {
        let line = self.line;
        let starts = &mut self.starts;
        let mut count = 1;
        for_each_tab(line, |tab| {
            if count < FIELD_COUNT {
                starts[count] = tab + 1;
            }
            count += 1;
        });
        match count {
            FIELD_COUNT => {
                starts[FIELD_COUNT] = line.len() + 1;
                self.text = std::str::from_utf8(line).ok();
                Ok(())
            }
            1 => Err(ParseError::new("record", Reason::UnknownEncoding)),
            found => Err(ParseError::new("record", Reason::FieldCount { found })),
        }
    }

    /// A field as text, `None` when empty.
    fn get(&self, index: usize) -> Result<Option<&'a str>, ParseError> {
        let (start, end) = (self.starts[index], self.starts[index + 1] - 1);
        if start == end {
            return Ok(None);
        }
        let invalid = || ParseError::new(FIELD_NAMES[index], Reason::InvalidUtf8);
        match self.text {
            Some(text) => text.get(start..end).map(Some).ok_or_else(invalid),
            // Only when something in the line is not UTF-8: find out whether it is in a field the
            // job reads, and leave the others alone.
            None => {
                let bytes = self.line.get(start..end).ok_or_else(invalid)?;
                std::str::from_utf8(bytes).map(Some).map_err(|_| invalid())
            }
        }
    }

    fn owned(&self, index: usize) -> Result<Option<String>, ParseError> {
        Ok(self.get(index)?.map(str::to_owned))
    }
}

/// Calls `f` with the position of every tab, in order.
///
/// Most fields of an enriched event are empty, so tabs are dense (131 in one to two KiB) and
/// `memchr_iter`, which restarts a vector search per match, spends most of its time in call
/// set-up (about 5x slower here). Instead each block of bytes becomes a bit mask of its tabs and
/// the set bits are walked.
#[inline]
fn for_each_tab(line: &[u8], f: impl FnMut(usize)) {
    #[cfg(target_arch = "x86_64")]
    for_each_tab_sse2(line, f);
    #[cfg(not(target_arch = "x86_64"))]
    for_each_tab_portable(line, f);
}

/// SSE2 (baseline on x86_64): compare 16 bytes at once and take the mask with movemask; about
/// twice as fast as what the compiler makes of the portable loop.
#[cfg(target_arch = "x86_64")]
#[inline]
fn for_each_tab_sse2(line: &[u8], mut f: impl FnMut(usize)) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    const BLOCK: usize = 16;
    let mut blocks = line.chunks_exact(BLOCK);
    let mut base = 0;
    for block in &mut blocks {
        // SAFETY: `block` is exactly 16 readable bytes and `_mm_loadu_si128` has no alignment
        // requirement; SSE2 is part of the x86_64 baseline, so the intrinsics are available.
        let mut mask = unsafe {
            let bytes = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'\t' as i8)))
        } as u32;
        while mask != 0 {
            f(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += BLOCK;
    }
    for (i, &b) in blocks.remainder().iter().enumerate() {
        if b == b'\t' {
            f(base + i);
        }
    }
}

/// Portable version: a comparison loop over 32-byte blocks that the compiler vectorizes.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn for_each_tab_portable(line: &[u8], mut f: impl FnMut(usize)) {
    const BLOCK: usize = 32;
    let mut blocks = line.chunks_exact(BLOCK);
    let mut base = 0;
    for block in &mut blocks {
        let mut mask = 0u32;
        for (i, &b) in block.iter().enumerate() {
            mask |= ((b == b'\t') as u32) << i;
        }
        while mask != 0 {
            f(base + mask.trailing_zeros() as usize);
            mask &= mask - 1;
        }
        base += BLOCK;
    }
    for (i, &b) in blocks.remainder().iter().enumerate() {
        if b == b'\t' {
            f(base + i);
        }
    }
}

/// Parses one enriched TSV line (without its line terminator), dated no later than `latest`,
/// keeping the entity fields of `kept`.
pub(crate) fn parse(
    line: &[u8],
    latest: Millis,
    kept: &EntityFields,
) -> Result<ShopperEvent, ParseError> {
    let mut f = Fields {
        line,
        text: None,
        starts: [0; FIELD_COUNT + 1],
    };
    f.split()?;

    let event_id = derive::event_id(f.get(EVENT_ID)?, FIELD_NAMES[EVENT_ID])?;
    let time = derive::event_time(
        &[
            (f.get(DERIVED_TSTAMP)?, FIELD_NAMES[DERIVED_TSTAMP]),
            (f.get(COLLECTOR_TSTAMP)?, FIELD_NAMES[COLLECTOR_TSTAMP]),
        ],
        latest,
    )?;
    let user = derive::user_key(
        [
            f.get(USER_ID)?,
            f.get(DOMAIN_USERID)?,
            f.get(NETWORK_USERID)?,
        ],
        FIELD_NAMES[USER_ID],
    )?;

    // Both contexts columns feed the same entities: Snowplow JSON flattens them together, and
    // reading them alike keeps the encodings in agreement (`contexts` first, so it wins).
    let mut entities = Entities::default();
    for column in [CONTEXTS, DERIVED_CONTEXTS] {
        if let Some(json) = f.get(column)? {
            envelope::read_contexts(json, FIELD_NAMES[column], &mut entities, kept)?;
        }
    }
    let action = match f.get(UNSTRUCT_EVENT)? {
        Some(json) => envelope::read_unstruct(json, FIELD_NAMES[UNSTRUCT_EVENT])?,
        None => None,
    };
    let (kind, list_name) =
        derive::kind(f.get(EVENT)?, action.as_ref(), FIELD_NAMES[UNSTRUCT_EVENT])?;

    let session = match entities.session_id.take() {
        Some(id) => Some(id),
        None => f.owned(DOMAIN_SESSIONID)?,
    };
    let device_class = match entities.device_class.take() {
        Some(class) => Some(class),
        None => f
            .get(USERAGENT)?
            .map(|ua| classify_user_agent(ua).to_owned()),
    };

    let page_url = f.get(PAGE_URL)?;
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
        is_search: page_url.is_some_and(is_search),
        page_url: page_url.map(str::to_owned),
        platform: f.owned(PLATFORM)?,
        campaign: f.owned(MKT_CAMPAIGN)?,
        device_class,
        country: f.owned(GEO_COUNTRY)?,
        region: f.owned(GEO_REGION)?,
        fields: entities.fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Promotion};
    use crate::fields::NO_FIELDS;
    use crate::parse::limits::MAX_EVENT_TIME;

    const PROMOTION: &str =
        "iglu:com.snowplowanalytics.snowplow.ecommerce/promotion/jsonschema/1-0-0";

    /// A `promo_view` line whose `contexts` holds these entity bodies as promotions.
    fn promo_view(promotions: &[&str]) -> String {
        let mut fields = vec![""; FIELD_COUNT];
        fields[EVENT] = "unstruct";
        fields[EVENT_ID] = "2a2e92cb-d65b-4978-bf65-498850bd8c08";
        fields[COLLECTOR_TSTAMP] = "2024-08-14 15:27:51.686";
        fields[DOMAIN_USERID] = "d1";
        let action = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/jsonschema/1-0-2","data":{"type":"promo_view"}}}"#;
        fields[UNSTRUCT_EVENT] = action;
        let entities: Vec<String> = promotions
            .iter()
            .map(|data| format!(r#"{{"schema":"{PROMOTION}","data":{data}}}"#))
            .collect();
        let contexts = format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{}]}}"#,
            entities.join(",")
        );
        if !promotions.is_empty() {
            fields[CONTEXTS] = &contexts;
        }
        fields.join("\t")
    }

    fn promotion_of(promotions: &[&str]) -> Result<Option<Promotion>, ParseError> {
        parse(
            promo_view(promotions).as_bytes(),
            MAX_EVENT_TIME,
            &NO_FIELDS,
        )
        .map(|e| e.promotion)
    }

    fn promotion(id: &str, name: Option<&str>) -> Option<Promotion> {
        Some(Promotion {
            id: id.to_owned(),
            name: name.map(str::to_owned),
        })
    }

    #[test]
    fn promotions() {
        let event = parse(
            promo_view(&[r#"{"id":"promo-1","name":"Spring sale banner","position":2,"type":"banner","product_ids":["P1"]}"#]).as_bytes(),
            MAX_EVENT_TIME,
            &NO_FIELDS,
        )
        .unwrap();
        assert_eq!(event.kind, EventKind::PromoView);
        assert_eq!(
            event.promotion,
            promotion("promo-1", Some("Spring sale banner"))
        );
        assert_eq!(promotion_of(&[]), Ok(None));
        // Without an id it names no promotion; the first one with an id wins.
        assert_eq!(promotion_of(&[r#"{"name":"x"}"#]), Ok(None));
        assert_eq!(promotion_of(&[r#"{"id":"","name":"x"}"#]), Ok(None));
        assert_eq!(
            promotion_of(&[r#"{"name":"x"}"#, r#"{"id":7}"#, r#"{"id":"promo-2"}"#]),
            Ok(promotion("7", None))
        );
        for bad in [r#"{"id":true}"#, r#"{"id":{"x":1}}"#, r#"{"id":["a"]}"#] {
            assert_eq!(
                promotion_of(&[bad]),
                Err(ParseError::new("promotion.id", Reason::NotAString)),
                "{bad}"
            );
        }
        // A broken later one is still a bad row, as for carts.
        assert_eq!(
            promotion_of(&[r#"{"id":"promo-1"}"#, r#"{"id":"promo-2","name":5}"#]),
            Err(ParseError::new("promotion.name", Reason::NotAString))
        );
    }

    /// A `product_view` line on `page_url` whose `contexts` holds this product entity body.
    fn product_view(product: &str, page_url: &str) -> Result<ShopperEvent, ParseError> {
        let mut fields = vec![""; FIELD_COUNT];
        fields[EVENT] = "unstruct";
        fields[EVENT_ID] = "2a2e92cb-d65b-4978-bf65-498850bd8c08";
        fields[COLLECTOR_TSTAMP] = "2024-08-14 15:27:51.686";
        fields[DOMAIN_USERID] = "d1";
        fields[PAGE_URL] = page_url;
        let action = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/snowplow_ecommerce_action/jsonschema/1-0-2","data":{"type":"product_view"}}}"#;
        fields[UNSTRUCT_EVENT] = action;
        let contexts = format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0","data":{product}}}]}}"#
        );
        fields[CONTEXTS] = &contexts;
        parse(fields.join("\t").as_bytes(), MAX_EVENT_TIME, &NO_FIELDS)
    }

    #[test]
    fn product_fields_and_page_url() {
        let event = product_view(
            r#"{"id":"P1","name":"Flex Runner","category":"Shoes","brand":"SP","variant":"red/42","price":9.5}"#,
            "https://shop.example/product/P1?q=x",
        )
        .unwrap();
        let product = &event.products[0];
        assert_eq!(product.name.as_deref(), Some("Flex Runner"));
        assert_eq!(product.brand.as_deref(), Some("SP"));
        assert_eq!(product.variant.as_deref(), Some("red/42"));
        assert_eq!(
            event.page_url.as_deref(),
            Some("https://shop.example/product/P1?q=x")
        );
        assert!(event.is_search);
        let bare = product_view(r#"{"id":"P1","name":"","brand":null}"#, "").unwrap();
        assert_eq!(
            (bare.products[0].name.as_deref(), bare.page_url),
            (None, None)
        );
        for field in ["name", "brand", "variant"] {
            assert_eq!(
                product_view(&format!(r#"{{"id":"P1","{field}":7}}"#), "").map(|e| e.products),
                Err(ParseError::new(
                    match field {
                        "name" => "product.name",
                        "brand" => "product.brand",
                        _ => "product.variant",
                    },
                    Reason::NotAString
                )),
                "{field}"
            );
        }
    }

    #[test]
    fn finds_every_tab() {
        for len in [0, 1, 15, 16, 17, 31, 32, 33, 64, 95, 200] {
            for period in [1, 2, 3, 7, 31, 32, 33] {
                let line: Vec<u8> = (0..len)
                    .map(|i| if i % period == 0 { b'\t' } else { b'x' })
                    .collect();
                let expected: Vec<usize> = (0..len).filter(|i| i % period == 0).collect();
                let mut found = Vec::new();
                for_each_tab(&line, |p| found.push(p));
                assert_eq!(found, expected, "len {len} period {period}");
                let mut found = Vec::new();
                for_each_tab_portable(&line, |p| found.push(p));
                assert_eq!(found, expected, "portable, len {len} period {period}");
            }
        }
    }
}
