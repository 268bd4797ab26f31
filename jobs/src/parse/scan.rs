//! A small, strict, pull-style JSON scanner for the enriched TSV's JSON columns.
//!
//! Those columns are most of an ecommerce event's bytes, and going through serde's visitor
//! machinery cost about 15 instructions per byte even when almost everything is skipped. This
//! scanner validates the full JSON grammar (RFC 8259: structure, string escapes, no raw control
//! characters, number syntax, literals, nesting bounded at [`MAX_DEPTH`]) at a few instructions per
//! byte, and hands out borrowed spans so that only the values the job reads are decoded. Input is
//! a `&str`, so UTF-8 is already checked.

use std::borrow::Cow;
use std::fmt;

/// Deepest nesting accepted; deeper input is rejected rather than recursed into (serde_json's
/// limit is the same).
pub(crate) const MAX_DEPTH: usize = 128;

/// Where and why the JSON is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub at: usize,
    pub what: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

pub(crate) type Result<T> = std::result::Result<T, ScanError>;

/// A JSON string as it appears in the input.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JStr<'a> {
    /// The string with its quotes, as JSON text.
    quoted: &'a str,
    /// The content between the quotes, escapes undecoded.
    raw: &'a str,
    escaped: bool,
}

impl<'a> JStr<'a> {
    /// Whether the decoded string equals `lit` (which has no characters needing escapes).
    #[inline]
    pub(crate) fn is(&self, lit: &str) -> bool {
        if self.escaped {
            self.decode().is_ok_and(|s| s == lit)
        } else {
            // Keys are short: an inline loop beats a call to memcmp.
            let raw = self.raw.as_bytes();
            raw.len() == lit.len() && raw.iter().zip(lit.as_bytes()).all(|(a, b)| a == b)
        }
    }

    /// The content when it has no escapes (nearly always), else `None`.
    #[inline]
    pub(crate) fn plain(&self) -> Option<&'a str> {
        (!self.escaped).then_some(self.raw)
    }

    /// The decoded string; borrowed unless it has escapes.
    #[inline]
    pub(crate) fn decode(&self) -> Result<Cow<'a, str>> {
        if !self.escaped {
            return Ok(Cow::Borrowed(self.raw));
        }
        // Rare (Snowplow writes no escapes in schema URIs or keys): let serde_json decode it,
        // which also rejects lone surrogates.
        serde_json::from_str::<String>(self.quoted)
            .map(Cow::Owned)
            .map_err(|_| ScanError {
                at: 0,
                what: "invalid escape in string",
            })
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in the bytes of `x` that are zero. Borrows can set false bits above a zero byte,
/// never below, so the lowest set bit is exact, which is all the scanner uses.
#[inline]
fn zero_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// High bit set in the bytes of `x` below 0x20 (lowest set bit exact, as for [`zero_bytes`]).
#[inline]
fn control_bytes(x: u64) -> u64 {
    x.wrapping_sub(ONES * 0x20) & !x & HIGHS
}

/// Position of the first quote, backslash or control byte at or after `i`, looking at whole
/// blocks only: it may stop earlier, within the last block's worth of bytes of the text, for the
/// caller to finish byte by byte. Strings are most of the bytes of the JSON columns.
#[inline]
fn skip_plain(bytes: &[u8], mut i: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8, _mm_setzero_si128, _mm_subs_epu8,
        };
        while let Some(block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<16>) {
            // SAFETY: `block` is 16 readable bytes and `_mm_loadu_si128` has no alignment
            // requirement; SSE2 is part of the x86_64 baseline, so the intrinsics are available.
            let mask = unsafe {
                let x = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
                let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
                // Saturating subtraction leaves zero exactly in the bytes <= 0x1F.
                let control =
                    _mm_cmpeq_epi8(_mm_subs_epu8(x, _mm_set1_epi8(0x1F)), _mm_setzero_si128());
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
    }
    while let Some(chunk) = bytes.get(i..).and_then(<[u8]>::first_chunk::<8>) {
        let x = u64::from_le_bytes(*chunk);
        let special = zero_bytes(x ^ (ONES * u64::from(b'"')))
            | zero_bytes(x ^ (ONES * u64::from(b'\\')))
            | control_bytes(x);
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// A cursor over one JSON text.
pub(crate) struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(text: &'a str) -> Scanner<'a> {
        Scanner { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn err<T>(&self, what: &'static str) -> Result<T> {
        Err(ScanError { at: self.pos, what })
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes().get(self.pos).copied()
    }

    /// Checks that only whitespace remains.
    pub(crate) fn end(&mut self) -> Result<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.err("trailing characters"),
        }
    }

    /// Reads a string value.
    pub(crate) fn string(&mut self) -> Result<JStr<'a>> {
        match self.peek() {
            Some(b'"') => self.string_at_quote(),
            None => self.err("EOF while expecting a string"),
            Some(_) => self.err("expected a string"),
        }
    }

    fn string_at_quote(&mut self) -> Result<JStr<'a>> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            i = skip_plain(bytes, i);
            match bytes.get(i) {
                None => {
                    self.pos = i;
                    return self.err("EOF while parsing a string");
                }
                Some(b'"') => {
                    self.pos = i + 1;
                    let quoted = self.text.get(start..i + 1).unwrap_or("\"\"");
                    let raw = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
                    return Ok(JStr {
                        quoted,
                        raw,
                        escaped,
                    });
                }
                Some(b'\\') => {
                    escaped = true;
                    i = self.escape(i + 1)?;
                }
                Some(&b) if b < 0x20 => {
                    self.pos = i;
                    return self.err("control character in string");
                }
                // Only near the end of the text, where no full block is left.
                Some(_) => i += 1,
            }
        }
    }

    /// Validates the escape whose letter is at `i`; returns the position after it.
    fn escape(&mut self, i: usize) -> Result<usize> {
        let bytes = self.bytes();
        match bytes.get(i) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(i + 1),
            Some(b'u') => match bytes.get(i + 1..i + 5) {
                Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => Ok(i + 5),
                _ => {
                    self.pos = i;
                    self.err("invalid \\u escape")
                }
            },
            _ => {
                self.pos = i;
                self.err("invalid escape")
            }
        }
    }

    /// Skips one value of any type, validating it; returns its text.
    pub(crate) fn value(&mut self) -> Result<&'a str> {
        self.skip_ws();
        let start = self.pos;
        self.skip()?;
        Ok(self.text.get(start..self.pos).unwrap_or(""))
    }

    /// Skips one value, validating it. Iterative, with the open containers as a bit stack (1 =
    /// object), so that skipped values (most of a column) cost no calls per token and nesting
    /// cannot exhaust the call stack.
    fn skip(&mut self) -> Result<()> {
        let mut stack: u128 = 0;
        let mut depth = 0usize;
        'value: loop {
            // A value is expected here.
            match self.peek() {
                Some(b'"') => {
                    self.string_at_quote()?;
                }
                Some(open @ (b'{' | b'[')) => {
                    if depth >= MAX_DEPTH {
                        return self.err("nested too deeply");
                    }
                    self.pos += 1;
                    let is_object = open == b'{';
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                    } else {
                        stack = (stack << 1) | u128::from(is_object);
                        depth += 1;
                        if is_object {
                            self.key()?;
                        }
                        continue 'value;
                    }
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                None => return self.err("EOF while parsing a value"),
                Some(_) => return self.err("expected a value"),
            }
            // A value ended: close containers until one continues or the outermost one closes.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let in_object = stack & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.key()?;
                        }
                        continue 'value;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    None => return self.err("EOF while parsing a value"),
                    Some(_) if in_object => return self.err("expected `,` or `}`"),
                    Some(_) => return self.err("expected `,` or `]`"),
                }
                self.pos += 1;
                stack >>= 1;
                depth -= 1;
            }
        }
    }

    /// An object key and its colon.
    fn key(&mut self) -> Result<()> {
        self.string()?;
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(())
            }
            _ => self.err("expected `:`"),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<()> {
        if self
            .bytes()
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(word))
        {
            self.pos += word.len();
            Ok(())
        } else {
            self.err("invalid literal")
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<()> {
        let bytes = self.bytes();
        let mut i = self.pos;
        let digits = |i: usize| {
            bytes
                .get(i..)
                .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count())
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i += digits(i),
            _ => {
                self.pos = i;
                return self.err("invalid number");
            }
        }
        if bytes.get(i) == Some(&b'.') {
            let n = digits(i + 1);
            if n == 0 {
                self.pos = i;
                return self.err("invalid number");
            }
            i += 1 + n;
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            let n = digits(i);
            if n == 0 {
                self.pos = i;
                return self.err("invalid number");
            }
            i += n;
        }
        self.pos = i;
        Ok(())
    }

    /// Reads an object, calling `on_key` with each key; `on_key` must consume the value.
    pub(crate) fn object(
        &mut self,
        mut on_key: impl FnMut(&mut Self, JStr<'a>) -> Result<()>,
    ) -> Result<()> {
        match self.peek() {
            Some(b'{') => self.pos += 1,
            _ => return self.err("expected an object"),
        }
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let key = self.string()?;
            match self.peek() {
                Some(b':') => self.pos += 1,
                _ => return self.err("expected `:`"),
            }
            on_key(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return self.err("EOF while parsing an object"),
                Some(_) => return self.err("expected `,` or `}`"),
            }
        }
    }

    /// Reads an array, calling `on_item` for each element; `on_item` must consume it.
    pub(crate) fn array(&mut self, mut on_item: impl FnMut(&mut Self) -> Result<()>) -> Result<()> {
        match self.peek() {
            Some(b'[') => self.pos += 1,
            _ => return self.err("expected an array"),
        }
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            on_item(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return self.err("EOF while parsing an array"),
                Some(_) => return self.err("expected `,` or `]`"),
            }
        }
    }

    /// Skips one value (validating it).
    pub(crate) fn skip_value(&mut self) -> Result<()> {
        self.skip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid(text: &str) -> bool {
        let mut s = Scanner::new(text);
        s.skip_value().and_then(|()| s.end()).is_ok()
    }

    #[test]
    fn agrees_with_serde_json() {
        let cases = [
            "{}",
            "[]",
            "{\"a\":1}",
            " { \"a\" : [ 1 , 2.5 , -0 , 1e5 , 1E-5 , 0.1e+2 ] } ",
            "\"x\"",
            "true",
            "null",
            "false",
            "\"\\u00e9\\n\\\"\"",
            "\"é ü 中\"",
            "{\"a\":{\"b\":{\"c\":[[],{}]}}}",
            "-1",
            "0",
            // invalid
            "",
            "{",
            "}",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{a:1}",
            "[1 2]",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "+1",
            "tru",
            "nul",
            "\"abc",
            "\"\\x\"",
            "\"\\u12\"",
            "\"\\u12g4\"",
            "\"a\tb\"",
            "\"a\u{1}b\"",
            "[1]x",
            "{\"a\":1}}",
            "[\"a\",]",
            "{\"a\":}",
            "{,}",
            "[,]",
            "\"\\\"",
            "NaN",
            "Infinity",
            "{\"a\":1 \"b\":2}",
            "[1,2,3,4,5,6,7,8,9,\"0123456789abcdef\\\"0123456789\"]",
            "\"0123456789abcdef0123456789\u{1f}\"",
            "\"\\ud800\"",
            "[\"\\ud800\\u0041\"]",
            "\"\\udc00\"",
        ];
        for case in cases {
            let expected = serde_json::from_str::<serde::de::IgnoredAny>(case).is_ok();
            assert_eq!(valid(case), expected, "{case:?}");
        }
    }

    #[test]
    fn mutations_agree_with_serde_json() {
        // Every single-byte deletion and a pseudo-random sample of byte replacements of a real
        // contexts column: the scanner must accept exactly what serde_json accepts.
        let base = r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0","data":{"id":"P125","name":"Baseball T","category":"Mens/Apparel","price":200.5e-1,"quantity":-1,"ok":true,"no":null,"esc":"a\u00e9\"b\n"}},{"schema":"x","data":[1,[],{}]}]}"#;
        assert!(valid(base));
        let bytes = base.as_bytes();
        let mut checked = 0;
        let mut check = |candidate: Vec<u8>| {
            if let Ok(text) = String::from_utf8(candidate) {
                let expected = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
                assert_eq!(valid(&text), expected, "{text}");
                checked += 1;
            }
        };
        for i in 0..bytes.len() {
            let mut v = bytes.to_vec();
            v.remove(i);
            check(v);
        }
        let alphabet = b"{}[]:,\"\\ 0123456789.eE+-tfnulrsa\t\n\x01\x7f";
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut v = bytes.to_vec();
            let at = (x % v.len() as u64) as usize;
            v[at] = alphabet[((x >> 32) % alphabet.len() as u64) as usize];
            check(v);
        }
        assert!(checked > 10_000);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(100_000);
        assert!(!valid(&deep));
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(valid(&ok));
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(!valid(&too_deep));
    }

    #[test]
    fn strings_and_spans() {
        let mut s = Scanner::new(r#"{"k\u0065y": "v\"al", "n": 1.5e3 }"#);
        let mut seen = Vec::new();
        s.object(|s, key| {
            let k = key.decode()?.into_owned();
            seen.push((k, s.value()?.to_owned()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                ("key".to_owned(), r#""v\"al""#.to_owned()),
                ("n".to_owned(), "1.5e3".to_owned())
            ]
        );
        let j = Scanner::new(r#""a\/b""#).string().unwrap();
        assert!(j.is("a/b"));
        assert!(!j.is("a\\/b"));
    }
}
