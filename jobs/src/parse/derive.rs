//! The derivation rules of SPEC section 1 that all three encodings share, so that the same event
//! yields the same `ShopperEvent` whichever way it was encoded.

use super::entities::{text, ActionData};
use super::error::{ParseError, Reason};
use super::time::parse_timestamp;
use crate::event::{EventKind, Millis};

/// A UUID as a 128-bit number: exactly 32 hex digits, either case, hyphens anywhere ignored.
pub(crate) fn event_id(value: Option<&str>, field: &'static str) -> Result<u128, ParseError> {
    let Some(value) = value else {
        return Err(ParseError::new(field, Reason::MissingEventId));
    };
    let invalid = || ParseError::new(field, Reason::InvalidEventId);
    let mut id: u128 = 0;
    let mut digits = 0;
    for b in value.bytes() {
        let nibble = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b'-' => continue,
            _ => return Err(invalid()),
        };
        if digits == 32 {
            return Err(invalid());
        }
        id = (id << 4) | nibble as u128;
        digits += 1;
    }
    if digits == 32 {
        Ok(id)
    } else {
        Err(invalid())
    }
}

/// Event time: the first timestamp that is set. A set but unparsable one is an error even when a
/// later one would parse: silently falling back would shift the event in time. So is one later
/// than `latest` (the wall clock plus `time.max_future`), for the same reason.
pub(crate) fn event_time(
    candidates: &[(Option<&str>, &'static str)],
    latest: Millis,
) -> Result<Millis, ParseError> {
    for &(value, field) in candidates {
        if let Some(value) = value {
            let time =
                parse_timestamp(value).ok_or(ParseError::new(field, Reason::InvalidTimestamp))?;
            if time > latest {
                return Err(ParseError::new(
                    field,
                    Reason::FutureTimestamp { time, latest },
                ));
            }
            return Ok(time);
        }
    }
    // The last candidate is the one that should always be there (`collector_tstamp`).
    let field = candidates.last().map_or("timestamp", |c| c.1);
    Err(ParseError::new(field, Reason::MissingTimestamp))
}

/// User key: the first non-empty of `user_id`, `domain_userid`, `network_userid`.
pub(crate) fn user_key(
    candidates: [Option<&str>; 3],
    field: &'static str,
) -> Result<String, ParseError> {
    candidates
        .into_iter()
        .flatten()
        .next()
        .map(str::to_owned)
        .ok_or(ParseError::new(field, Reason::MissingUserKey))
}

/// Event kind and list name from the `event` field and the ecommerce action (if the
/// `unstruct_event` is one). An empty `event` field becomes `unknown`, as the
/// flink-live-shopper transform names it, so that both encodings agree.
pub(crate) fn kind(
    event: Option<&str>,
    action: Option<&ActionData<'_>>,
    action_field: &'static str,
) -> Result<(EventKind, Option<String>), ParseError> {
    Ok(match (event, action) {
        (Some("page_view"), _) => (EventKind::PageView, None),
        (Some("unstruct"), Some(action)) => {
            let kind = match text(action.kind, action_field)? {
                Some(kind) => EventKind::from_action(&kind),
                None => EventKind::Other("unstruct".to_owned()),
            };
            let list_name = text(action.name, action_field)?.map(|n| n.into_owned());
            (kind, list_name)
        }
        (Some(other), _) => (EventKind::Other(other.to_owned()), None),
        (None, _) => (EventKind::Other("unknown".to_owned()), None),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids() {
        let id = event_id(Some("2a2e92cb-d65b-4978-bf65-498850bd8c08"), "event_id").unwrap();
        assert_eq!(id, 0x2a2e92cb_d65b_4978_bf65_498850bd8c08);
        assert_eq!(
            event_id(Some("2A2E92CBD65B4978BF65498850BD8C08"), "event_id").unwrap(),
            id
        );
        assert_eq!(
            crate::event::format_event_id(id),
            "2a2e92cb-d65b-4978-bf65-498850bd8c08"
        );
        for bad in [
            "",
            "xyz",
            "2a2e92cb-d65b-4978-bf65-498850bd8c0",
            "2a2e92cb-d65b-4978-bf65-498850bd8c081",
            "2a2e92cb d65b-4978-bf65-498850bd8c08",
            "é",
        ] {
            assert_eq!(
                event_id(Some(bad), "event_id").unwrap_err().reason,
                Reason::InvalidEventId,
                "{bad}"
            );
        }
        assert_eq!(
            event_id(None, "id").unwrap_err(),
            ParseError::new("id", Reason::MissingEventId)
        );
    }

    const NO_LIMIT: Millis = crate::parse::limits::MAX_EVENT_TIME;

    #[test]
    fn times() {
        let t = event_time(
            &[
                (Some("2024-08-14 15:27:51.685"), "derived_tstamp"),
                (Some("x"), "collector_tstamp"),
            ],
            NO_LIMIT,
        );
        assert_eq!(t, Ok(1_723_649_271_685));
        let t = event_time(
            &[
                (None, "derived_tstamp"),
                (Some("2024-08-14T15:27:51Z"), "collector_tstamp"),
            ],
            NO_LIMIT,
        );
        assert_eq!(t, Ok(1_723_649_271_000));
        let t = event_time(
            &[
                (Some("yesterday"), "derived_tstamp"),
                (Some("2024-08-14 15:27:51"), "collector_tstamp"),
            ],
            NO_LIMIT,
        );
        assert_eq!(
            t,
            Err(ParseError::new("derived_tstamp", Reason::InvalidTimestamp))
        );
        let t = event_time(
            &[(None, "derived_tstamp"), (None, "collector_tstamp")],
            NO_LIMIT,
        );
        assert_eq!(
            t,
            Err(ParseError::new(
                "collector_tstamp",
                Reason::MissingTimestamp
            ))
        );
    }

    #[test]
    fn future_times_name_their_field() {
        let derived = [
            (Some("2024-08-14 15:27:51.685"), "derived_tstamp"),
            (Some("2024-08-14 15:00:00"), "collector_tstamp"),
        ];
        assert_eq!(
            event_time(&derived, 1_723_649_271_685),
            Ok(1_723_649_271_685)
        );
        assert_eq!(
            event_time(&derived, 1_723_649_271_684),
            Err(ParseError::new(
                "derived_tstamp",
                Reason::FutureTimestamp {
                    time: 1_723_649_271_685,
                    latest: 1_723_649_271_684
                }
            ))
        );
        let collector = [
            (None, "derived_tstamp"),
            (Some("9999-12-31 00:00:00"), "collector_tstamp"),
        ];
        assert!(matches!(
            event_time(&collector, 1_723_649_271_684),
            Err(ParseError {
                field: "collector_tstamp",
                reason: Reason::FutureTimestamp { .. }
            })
        ));
    }

    #[test]
    fn user_keys() {
        assert_eq!(
            user_key([None, Some("d"), Some("n")], "user_id").unwrap(),
            "d"
        );
        assert_eq!(
            user_key([None, None, None], "user_id").unwrap_err().reason,
            Reason::MissingUserKey
        );
    }
}
