//! JSON records: one pass over the top-level object feeds both JSON encodings, then the
//! encoding is chosen (a `payload` or `enrich` key means flink-live-shopper JSON, else Snowplow
//! JSON). Their key sets are disjoint, so nothing is parsed twice.

use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use super::at::At;
use super::entities::Str;
use super::error::{ParseError, Reason};
use super::flink_json::FlinkJson;
use super::snowplow_json::SnowplowJson;
use crate::event::{Millis, ShopperEvent};
use crate::fields::EntityFields;

#[derive(Default)]
struct Top<'a> {
    snowplow: SnowplowJson<'a>,
    flink: FlinkJson<'a>,
}

struct TopVisitor<'c> {
    at: &'c At,
    fields: &'c EntityFields,
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut top = Top::default();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let key = key.0.as_ref();
            if !(top.flink.take(key, &mut map, self.at, self.fields)?
                || top.snowplow.take(key, &mut map, self.at, self.fields)?)
            {
                map.next_value::<IgnoredAny>()?;
            }
            self.at.set("record");
        }
        Ok(top)
    }
}

/// Parses one JSON-encoded event (the record starts with `{`), dated no later than `latest`,
/// keeping `fields`.
pub(crate) fn parse(
    bytes: &[u8],
    latest: Millis,
    fields: &EntityFields,
) -> Result<ShopperEvent, ParseError> {
    let text =
        std::str::from_utf8(bytes).map_err(|_| ParseError::new("record", Reason::InvalidUtf8))?;
    let at = At::new("record");
    let mut de = serde_json::Deserializer::from_str(text);
    let top = de
        .deserialize_map(TopVisitor { at: &at, fields })
        .and_then(|top| de.end().map(|()| top))
        .map_err(|e| ParseError::json(at.get(), e))?;
    if top.flink.is_present() {
        top.flink.build(latest, fields)
    } else if top.snowplow.is_present() {
        top.snowplow.build(latest, fields)
    } else {
        Err(ParseError::new("record", Reason::UnknownEncoding))
    }
}
