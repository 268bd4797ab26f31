//! Timestamps: Snowplow's `yyyy-MM-dd HH:mm:ss[.SSS]` UTC and ISO-8601, to and from epoch milliseconds.

use super::limits::MAX_EVENT_TIME;
use crate::event::Millis;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() {
        return None;
    }
    let mut value = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + (b - b'0') as u32;
    }
    Some(value)
}

/// Parses `yyyy-MM-dd HH:mm:ss[.fraction]` (Snowplow enriched) or ISO-8601
/// `yyyy-MM-ddTHH:mm:ss[.fraction][Z|+hh:mm|-hh:mm]` into epoch milliseconds (UTC).
/// The fraction may have any number of digits; digits past milliseconds are truncated.
///
/// `None` for anything else, including offsets beyond `±23:59` and instants before the epoch or
/// after [`MAX_EVENT_TIME`] (what `9999-12-31T23:59:59-01:00` would be), so that every time it
/// returns can be formatted back and has room for window arithmetic.
pub fn parse_timestamp(text: &str) -> Option<Millis> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])? as i64;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0u64;
    if let Some((&b'.', frac)) = rest.split_first() {
        let len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        for (i, &c) in frac[..len].iter().take(3).enumerate() {
            millis += (c - b'0') as u64 * [100, 10, 1][i];
        }
        rest = &frac[len..];
    }
    let offset_minutes: i64 = match rest {
        [] | [b'Z'] | [b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] | [sign @ (b'+' | b'-'), h1, h2, m1, m2] => {
            let h = digits(&[*h1, *h2])? as i64;
            let m = digits(&[*m1, *m2])? as i64;
            if h > 23 || m > 59 {
                return None;
            }
            let total = h * 60 + m;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64
        - offset_minutes * 60;
    if secs < 0 {
        return None;
    }
    let time = secs as u64 * 1000 + millis;
    (time <= MAX_EVENT_TIME).then_some(time)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Formats epoch milliseconds as Snowplow's `yyyy-MM-dd HH:mm:ss.SSS` (UTC).
pub fn format_timestamp(millis: Millis) -> String {
    let (date, time) = split(millis);
    format!("{date} {time}")
}

/// Formats epoch milliseconds as ISO-8601 `yyyy-MM-ddTHH:mm:ss.SSSZ`.
pub fn format_iso8601(millis: Millis) -> String {
    let (date, time) = split(millis);
    format!("{date}T{time}Z")
}

fn split(millis: Millis) -> (String, String) {
    let secs = (millis / 1000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60,
            millis % 1000
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_snowplow_and_iso() {
        assert_eq!(parse_timestamp("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_timestamp("2024-08-14 15:27:51.685"),
            Some(1_723_649_271_685)
        );
        assert_eq!(
            parse_timestamp("2024-08-14T15:27:51.685Z"),
            Some(1_723_649_271_685)
        );
        assert_eq!(
            parse_timestamp("2024-08-14T17:27:51.6859+02:00"),
            Some(1_723_649_271_685)
        );
        assert_eq!(
            parse_timestamp("2024-08-14 15:27:51.6"),
            Some(1_723_649_271_600)
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2024-08-14",
            "2024-13-01 00:00:00",
            "2024-02-30 00:00:00",
            "2024-08-14 25:00:00",
            "2024-08-14 15:27:51.",
            "2024-08-14 15:27:51 x",
            "abcd-08-14 15:27:51",
            "2024-08-14T15:27:51+24:00",
            "2024-08-14T15:27:51+99:99",
            "2024-08-14T15:27:51-00:60",
            "1969-12-31T23:59:59.999Z",
            "1970-01-01T00:30:00+01:00",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999-00:01",
            "9999-12-31T23:59:60Z",
            "2024-08-14T15:27:51+",
            "2024-08-14T15:27:51\u{e9}",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn accepts_the_edges() {
        assert_eq!(parse_timestamp("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59.999Z"),
            Some(MAX_EVENT_TIME)
        );
        assert_eq!(
            parse_timestamp("9999-12-31T23:59:59.999+23:59"),
            Some(MAX_EVENT_TIME - (23 * 60 + 59) * 60_000)
        );
        assert_eq!(
            parse_timestamp("2024-08-14T15:27:51.68512345678901234567890Z"),
            Some(1_723_649_271_685)
        );
    }

    #[test]
    fn round_trips() {
        for ms in [0, 1_723_649_271_685, 951_782_400_000, 4_102_444_800_123] {
            assert_eq!(parse_timestamp(&format_timestamp(ms)), Some(ms));
            assert_eq!(parse_timestamp(&format_iso8601(ms)), Some(ms));
        }
    }
}
