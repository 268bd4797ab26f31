//! Snowplow enriched TSV: 131 tab-separated fields, no quoting, empty = null.
//!
//! The line is split once with memchr into borrowed slices; only the fields the job reads are
//! UTF-8-checked, and only the strings that go into the event are allocated.

use memchr::memchr_iter;

use super::derive;
use super::device::classify_user_agent;
use super::entities::{self, Entities};
use super::error::{ParseError, Reason};
use super::url::is_search;
use crate::event::ShopperEvent;

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

/// The fields of one line, borrowed.
struct Fields<'a>([&'a [u8]; FIELD_COUNT]);

impl<'a> Fields<'a> {
    /// Splits on tabs; a line that does not have exactly 131 fields is rejected here. Trailing
    /// empty fields count (no trimming), as Enrich writes them.
    fn split(line: &'a [u8]) -> Result<Fields<'a>, ParseError> {
        let mut fields: [&[u8]; FIELD_COUNT] = [&[]; FIELD_COUNT];
        let mut count = 0;
        let mut start = 0;
        for tab in memchr_iter(b'\t', line) {
            if count < FIELD_COUNT {
                fields[count] = &line[start..tab];
            }
            count += 1;
            start = tab + 1;
        }
        if count < FIELD_COUNT {
            fields[count] = &line[start..];
        }
        count += 1;
        match count {
            FIELD_COUNT => Ok(Fields(fields)),
            1 => Err(ParseError::new("record", Reason::UnknownEncoding)),
            found => Err(ParseError::new("record", Reason::FieldCount { found })),
        }
    }

    /// A field as text, `None` when empty.
    fn get(&self, index: usize) -> Result<Option<&'a str>, ParseError> {
        let bytes = self.0[index];
        if bytes.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| ParseError::new(FIELD_NAMES[index], Reason::InvalidUtf8))
    }

    fn owned(&self, index: usize) -> Result<Option<String>, ParseError> {
        Ok(self.get(index)?.map(str::to_owned))
    }
}

/// Parses one enriched TSV line (without its line terminator).
pub(crate) fn parse(line: &[u8]) -> Result<ShopperEvent, ParseError> {
    let f = Fields::split(line)?;

    let event_id = derive::event_id(f.get(EVENT_ID)?, FIELD_NAMES[EVENT_ID])?;
    let time = derive::event_time(&[
        (f.get(DERIVED_TSTAMP)?, FIELD_NAMES[DERIVED_TSTAMP]),
        (f.get(COLLECTOR_TSTAMP)?, FIELD_NAMES[COLLECTOR_TSTAMP]),
    ])?;
    let user = derive::user_key(
        [f.get(USER_ID)?, f.get(DOMAIN_USERID)?, f.get(NETWORK_USERID)?],
        FIELD_NAMES[USER_ID],
    )?;

    // Both contexts columns feed the same entities: Snowplow JSON flattens them together, and
    // reading them alike keeps the encodings in agreement (`contexts` first, so it wins).
    let mut entities = Entities::default();
    for column in [CONTEXTS, DERIVED_CONTEXTS] {
        if let Some(json) = f.get(column)? {
            entities::read_contexts(json, FIELD_NAMES[column], &mut entities)?;
        }
    }
    let action = match f.get(UNSTRUCT_EVENT)? {
        Some(json) => entities::read_unstruct(json, FIELD_NAMES[UNSTRUCT_EVENT])?,
        None => None,
    };
    let (kind, list_name) = derive::kind(f.get(EVENT)?, action.as_ref(), FIELD_NAMES[UNSTRUCT_EVENT])?;

    let session = match entities.session_id.take() {
        Some(id) => Some(id),
        None => f.owned(DOMAIN_SESSIONID)?,
    };
    let device_class = match entities.device_class.take() {
        Some(class) => Some(class),
        None => f.get(USERAGENT)?.map(|ua| classify_user_agent(ua).to_owned()),
    };

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
        is_search: f.get(PAGE_URL)?.is_some_and(is_search),
        platform: f.owned(PLATFORM)?,
        campaign: f.owned(MKT_CAMPAIGN)?,
        device_class,
        country: f.owned(GEO_COUNTRY)?,
        region: f.owned(GEO_REGION)?,
    })
}
