//! Hiding secrets from messages. Every message that can quote a setting or a URL goes through
//! [`redact`]: the password in a URL's user part (`redis://user:***@host`), `pass=` and
//! `password=` parameters (`unix:///run/redis.sock?pass=***`), and the value of any
//! secret-looking name (`sasl.password`, `ssl.key.password`, `ssl.keystore.password`,
//! `sasl.oauthbearer.client.secret`, ...) followed by `=` or `:`. Messages of libraries that
//! quote a value without its name (librdkafka's "Client config error: ... key value") are covered
//! by [`Secrets`], which also hides the configured secret values themselves.

use std::collections::BTreeMap;

/// What a hidden secret is replaced with.
pub const MASK: &str = "***";

/// Whether a setting, property or parameter name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let last = name.rsplit(['.', '_']).next().unwrap_or_default();
    // URLs are redacted by their user part, and name where things are.
    if last == "url" {
        return false;
    }
    [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "jaas",
        "credential",
    ]
    .iter()
    .any(|word| name.contains(word))
        || last == "pass"
        || (name.contains("key") && last == "pem")
        || name == "sasl.oauthbearer.config"
}

/// `text` with every secret it quotes replaced by [`MASK`].
pub fn redact(text: &str) -> String {
    redact_assignments(&redact_userinfo(text))
}

/// Characters that end a URL in a message.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>')
}

/// Hides the user part of every `scheme://user:password@host` but the user name.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("://") {
        let (head, tail) = rest.split_at(found + 3);
        out.push_str(head);
        let end = tail.find(ends_url).unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        match url.rfind('@') {
            Some(at) => {
                if let Some((user, _)) = url[..at].split_once(':') {
                    out.push_str(user);
                    out.push(':');
                }
                out.push_str(MASK);
                out.push_str(&url[at..]);
            }
            None => out.push_str(url),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

/// Hides the value of every secret-looking `name = value`, `name: value`, `"name" = "value"` and
/// `?name=value`.
fn redact_assignments(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        if !is_name_byte(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_name_byte(bytes[i]) {
            i += 1;
        }
        if !is_secret_name(&text[start..i]) {
            continue;
        }
        if let Some((from, to)) = value_after(text, i) {
            out.push_str(&text[copied..from]);
            out.push_str(MASK);
            copied = to;
            i = to;
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The byte range of the value assigned after a name ending at `at`, if one is.
fn value_after(text: &str, at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = at;
    if matches!(bytes.get(i), Some(b'"' | b'\'' | b'`')) {
        i += 1;
    }
    let skip_blanks = |mut i: usize| {
        while matches!(bytes.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    };
    i = skip_blanks(i);
    if !matches!(bytes.get(i), Some(b'=' | b':')) || text[i..].starts_with("://") {
        return None;
    }
    i = skip_blanks(i + 1);
    let value = &text[i..];
    // Already hidden: redacting twice changes nothing.
    if value.trim_start_matches(['"', '\'']).starts_with(MASK) {
        return None;
    }
    let (from, len) = match value.chars().next() {
        Some(quote @ ('"' | '\'')) => {
            let inner = &value[1..];
            let end = inner.find([quote, '\n']).unwrap_or(inner.len());
            (i + 1, end)
        }
        _ => {
            let stop = |c: char| {
                c.is_whitespace()
                    || matches!(
                        c,
                        '&' | '#' | ',' | ';' | ')' | ']' | '}' | '`' | '"' | '\''
                    )
            };
            (i, value.find(stop).unwrap_or(value.len()))
        }
    };
    (len > 0).then_some((from, from + len))
}

/// The secret values of a configuration (the Redis password, secret Kafka properties), hidden
/// from messages that may quote them without their name.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    values: Vec<String>,
}

impl Secrets {
    /// The secrets of a configuration with this Redis URL and these Kafka properties.
    pub fn of(redis_url: &str, kafka_properties: &BTreeMap<String, String>) -> Secrets {
        let mut values = redis_url_secrets(redis_url);
        for (name, value) in kafka_properties {
            if is_secret_name(name) {
                values.push(value.clone());
            }
        }
        values.retain(|v| !v.is_empty() && v != MASK);
        // Longest first, so that a secret containing another is hidden whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        Secrets { values }
    }

    /// `text` without these secrets, then through [`redact`].
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.values {
            text = hide_value(&text, secret);
        }
        redact(&text)
    }
}

/// The password of a Redis URL, as written and decoded.
fn redis_url_secrets(url: &str) -> Vec<String> {
    use redis::IntoConnectionInfo;
    let mut values = Vec::new();
    if let Some(parsed) = redis::parse_redis_url(url) {
        values.extend(parsed.password().map(str::to_string));
        for (name, value) in parsed.query_pairs() {
            if is_secret_name(&name) {
                values.push(value.into_owned());
            }
        }
    }
    if let Ok(info) = url.into_connection_info() {
        values.extend(info.redis_settings().password().map(str::to_string));
    }
    values
}

/// `text` with `secret` replaced. A secret of fewer than four characters is replaced only where
/// it stands alone, so that a short password does not garble every word that contains it.
fn hide_value(text: &str, secret: &str) -> String {
    if secret.len() >= 4 {
        return text.replace(secret, MASK);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(secret) {
        let before = rest[..found].chars().next_back();
        let after = rest[found + secret.len()..].chars().next();
        let alone =
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..found]);
        out.push_str(if alone { MASK } else { secret });
        rest = &rest[found + secret.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        let cases = [
            (
                "redis://user:s3cret@host:6379/0",
                "redis://user:***@host:6379/0",
            ),
            ("redis://:s3cret@host", "redis://:***@host"),
            ("rediss://s3cret@host:6380", "rediss://***@host:6380"),
            ("redis://u:p@ss/w@rd@host/1", "redis://u:***@host/1"),
            (
                "unix:///run/redis.sock?db=1&pass=s3cret&user=app",
                "unix:///run/redis.sock?db=1&pass=***&user=app",
            ),
            (
                "redis+unix:///run/redis.sock?password=s3cret",
                "redis+unix:///run/redis.sock?password=***",
            ),
            ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379"),
            ("unix:///tmp/redis.sock", "unix:///tmp/redis.sock"),
        ];
        for (url, expected) in cases {
            assert_eq!(redact(url), expected, "{url}");
            assert_eq!(redact(expected), expected, "{url} twice");
            let composed = format!("{expected}: refused");
            assert_eq!(redact(&composed), composed, "{url} in a message");
            let message = format!("`redis.url` = `{url}` is wrong; see {url}.");
            assert!(!redact(&message).contains("s3cret"), "{message}");
        }
    }

    #[test]
    fn secret_settings_lose_their_values() {
        let cases = [
            "sasl.password=hunter2",
            "kafka.properties.sasl.password = \"hunter2\"",
            "\"ssl.key.password\" = \"hunter2 with spaces\"",
            "ssl.keystore.password: hunter2",
            "{\"sasl.oauthbearer.client.secret\":\"hunter2\"}",
            "LIVE_SHOPPER__KAFKA__PROPERTIES__SASL__PASSWORD=hunter2",
            "3 | \"sasl.password\" = \"hunter2\n  | ^ invalid string",
            "ssl.key.pem='-----BEGIN hunter2'",
        ];
        for text in cases {
            let hidden = redact(text);
            assert!(!hidden.contains("hunter2"), "{text} -> {hidden}");
            assert!(hidden.contains(MASK), "{text} -> {hidden}");
        }
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        let texts = [
            "check sasl.username, sasl.password and the ssl.* properties",
            "`kafka.properties.sasl.password` must be a string, number or boolean",
            "bypass=1 and passenger=2, ssl.certificate.pem=cert",
            "redis.reply_timeout = 10s",
        ];
        for text in texts {
            assert_eq!(redact(text), text);
        }
    }
}
