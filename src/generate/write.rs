//! Allocation-free writers of the small pieces every encoding needs: integers, UUIDs, money,
//! timestamps and JSON strings, all appended to a reused `Vec<u8>`.

use jobs::parse::time::format_timestamp;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends a decimal `u64`; hand-rolled because `write!` goes through `fmt` machinery that
/// costs more than the rest of a field.
#[inline]
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends a decimal `u64` left-padded with zeros to `width` digits.
pub(crate) fn push_u64_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = 1;
    let mut rest = n / 10;
    while rest > 0 {
        digits += 1;
        rest /= 10;
    }
    for _ in digits..width {
        buf.push(b'0');
    }
    push_u64(buf, n);
}

/// Appends a lowercase hyphenated UUID.
#[inline]
pub(crate) fn push_uuid(buf: &mut Vec<u8>, id: u128) {
    buf.extend_from_slice(&uuid_bytes(id));
}

/// A lowercase hyphenated UUID as ASCII bytes.
#[inline]
pub(crate) fn uuid_bytes(id: u128) -> [u8; 36] {
    let mut out = [0u8; 36];
    let mut pos = 0;
    for i in 0..16 {
        if matches!(i, 4 | 6 | 8 | 10) {
            out[pos] = b'-';
            pos += 1;
        }
        let byte = (id >> (120 - 8 * i)) as u8;
        out[pos] = HEX[(byte >> 4) as usize];
        out[pos + 1] = HEX[(byte & 15) as usize];
        pos += 2;
    }
    out
}

/// Appends a money amount in cents as a JSON number the way a JavaScript tracker serialises it:
/// `200`, `12.5`, `42.99` (integers stay integers, no trailing zeros).
#[inline]
pub(crate) fn push_money(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    let frac = cents % 100;
    if frac != 0 {
        let (tens, units) = (frac / 10, frac % 10);
        buf.push(b'.');
        buf.push(b'0' + tens as u8);
        if units != 0 {
            buf.push(b'0' + units as u8);
        }
    }
}

/// Appends a dotted IPv4 address.
pub(crate) fn push_ipv4(buf: &mut Vec<u8>, ip: u32) {
    for (i, shift) in [24, 16, 8, 0].into_iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        push_u64(buf, ((ip >> shift) & 0xFF) as u64);
    }
}

/// Appends `s` as a quoted JSON string. Only `"`, `\` and control characters need escaping;
/// everything else (UTF-8 included) is copied as is.
#[inline]
pub(crate) fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    push_json_inner(buf, s.as_bytes());
    buf.push(b'"');
}

/// Whether `bytes` holds a byte JSON must escape. A branch-free fold rather than `any`, so it
/// vectorises: almost every string is clean and the scan is the whole cost.
#[inline]
pub(crate) fn needs_escape(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// The escaped body of a JSON string, without the quotes.
#[inline]
pub(crate) fn push_json_inner(buf: &mut Vec<u8>, bytes: &[u8]) {
    if !needs_escape(bytes) {
        buf.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            b if b < 0x20 => {
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[(b >> 4) as usize]);
                buf.push(HEX[(b & 15) as usize]);
            }
            b => buf.push(b),
        }
    }
}

/// Timestamp styles of the encodings.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TsStyle {
    /// Snowplow enriched TSV: `yyyy-MM-dd HH:mm:ss.SSS`.
    Enriched,
    /// JavaScript's `toISOString`: `yyyy-MM-ddTHH:mm:ss.SSSZ`, always three fraction digits.
    Iso,
    /// What Snowbridge writes (Go's RFC 3339 with nanoseconds): `yyyy-MM-ddTHH:mm:ss[.f]Z`, the
    /// fraction without trailing zeros and absent when zero, e.g. `2025-04-04T14:33:39.96Z`.
    Rfc3339,
}

/// Formats timestamps, caching the calendar date: the events of a run fall on few days, so
/// the date arithmetic (done by `jobs::parse::time`, the parser's own inverse) runs once a day.
#[derive(Debug)]
pub(crate) struct Clock {
    day: u64,
    date: [u8; 10],
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            day: u64::MAX,
            date: [b'0'; 10],
        }
    }

    /// Appends `millis` as JavaScript's `toISOString` does.
    pub(crate) fn push_iso(&mut self, buf: &mut Vec<u8>, millis: u64) {
        self.push(buf, millis, TsStyle::Iso);
    }

    /// Appends `millis` in the given style.
    pub(crate) fn push(&mut self, buf: &mut Vec<u8>, millis: u64, style: TsStyle) {
        let day = millis / 86_400_000;
        if day != self.day {
            let text = format_timestamp(day * 86_400_000);
            let bytes = text.as_bytes();
            if bytes.len() >= 10 {
                self.date.copy_from_slice(&bytes[..10]);
            }
            self.day = day;
        }
        let ms_of_day = millis % 86_400_000;
        let secs = ms_of_day / 1000;
        let frac = ms_of_day % 1000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        buf.extend_from_slice(&self.date);
        buf.push(if style == TsStyle::Enriched {
            b' '
        } else {
            b'T'
        });
        let digits = [
            b'0' + (h / 10) as u8,
            b'0' + (h % 10) as u8,
            b':',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b':',
            b'0' + (s / 10) as u8,
            b'0' + (s % 10) as u8,
        ];
        buf.extend_from_slice(&digits);
        let f = [
            b'0' + (frac / 100) as u8,
            b'0' + ((frac / 10) % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        match style {
            TsStyle::Enriched => {
                buf.push(b'.');
                buf.extend_from_slice(&f);
            }
            TsStyle::Iso => {
                buf.push(b'.');
                buf.extend_from_slice(&f);
                buf.push(b'Z');
            }
            TsStyle::Rfc3339 => {
                // Digits to keep: Go's RFC 3339 drops trailing zeros of the fraction.
                let len = match (frac, frac % 100, frac % 10) {
                    (0, _, _) => 0,
                    (_, 0, _) => 1,
                    (_, _, 0) => 2,
                    _ => 3,
                };
                if len > 0 {
                    buf.push(b'.');
                    buf.extend_from_slice(&f[..len]);
                }
                buf.push(b'Z');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jobs::parse::time::{format_iso8601, parse_timestamp};

    #[test]
    fn timestamps_match_the_job_formatter() {
        let mut clock = Clock::new();
        let mut state = 7u64;
        for i in 0..20_000u64 {
            let ms = if i < 4 {
                [0, 999, 1_767_225_600_000, 951_782_400_010][i as usize]
            } else {
                crate::generate::rng::splitmix64(&mut state) % 4_102_444_800_000
            };
            let mut buf = Vec::new();
            clock.push(&mut buf, ms, TsStyle::Enriched);
            assert_eq!(String::from_utf8_lossy(&buf), format_timestamp(ms));
            buf.clear();
            clock.push(&mut buf, ms, TsStyle::Rfc3339);
            let text = String::from_utf8_lossy(&buf).into_owned();
            assert_eq!(parse_timestamp(&text), Some(ms), "{text}");
            if ms % 10 != 0 {
                assert_eq!(text, format_iso8601(ms));
            }
            buf.clear();
            clock.push(&mut buf, ms, TsStyle::Iso);
            assert_eq!(String::from_utf8_lossy(&buf), format_iso8601(ms));
        }
    }

    #[test]
    fn money_and_json() {
        let mut buf = Vec::new();
        for (cents, text) in [
            (20000, "200"),
            (1250, "12.5"),
            (4299, "42.99"),
            (5, "0.05"),
            (0, "0"),
        ] {
            buf.clear();
            push_money(&mut buf, cents);
            assert_eq!(buf, text.as_bytes());
        }
        buf.clear();
        push_json_str(&mut buf, "12\" pan\\\t\u{1}é");
        assert_eq!(buf, "\"12\\\" pan\\\\\\t\\u0001é\"".as_bytes());
        buf.clear();
        push_uuid(&mut buf, 0x2a2e92cb_d65b_4978_bf65_498850bd8c08);
        assert_eq!(buf, b"2a2e92cb-d65b-4978-bf65-498850bd8c08");
    }
}
