//! Device class from a user agent, for events without a YAUAA enrichment entity.
//!
//! YAUAA itself is far too big to embed; this is a small keyword classifier that returns the same
//! class names YAUAA uses, so that `shopper_device_types` mixes both sources sensibly. Rules, in
//! order, matched case-insensitively:
//!
//! 1. `bot`, `crawler`, `spider`, `crawling` → `Robot`
//! 2. `ipad`, `tablet`, `kindle`, `silk/`, or `android` without `mobile` → `Tablet`
//! 3. `iphone`, `ipod`, `android`, `mobile`, `phone` → `Phone`
//! 4. `windows`, `macintosh`, `x11`, `linux` → `Desktop`
//! 5. otherwise → `Unknown` (e.g. `python-requests/2.21.0`, which YAUAA also calls `Unknown`).

/// Longest prefix of a user agent that is looked at; real agents are far shorter, and the bound
/// keeps the lower-casing on the stack.
const MAX_UA: usize = 512;

const ROBOT: u16 = 1;
const TABLET: u16 = 1 << 1;
const ANDROID: u16 = 1 << 2;
const MOBILE: u16 = 1 << 3;
const PHONE: u16 = 1 << 4;
const DESKTOP: u16 = 1 << 5;

/// Keywords and the flag each sets, grouped by first byte so that one pass over the agent finds
/// them all (running a substring search per keyword costs several times more on the hot path).
const KEYWORDS: &[(&[u8], u16)] = &[
    (b"bot", ROBOT),
    (b"crawler", ROBOT),
    (b"crawling", ROBOT),
    (b"spider", ROBOT),
    (b"ipad", TABLET),
    (b"tablet", TABLET),
    (b"kindle", TABLET),
    (b"silk/", TABLET),
    (b"android", ANDROID),
    (b"mobile", MOBILE),
    (b"iphone", PHONE),
    (b"ipod", PHONE),
    (b"phone", PHONE),
    (b"windows", DESKTOP),
    (b"macintosh", DESKTOP),
    (b"x11", DESKTOP),
    (b"linux", DESKTOP),
];

/// Classifies a user agent into a YAUAA device class: `Robot`, `Tablet`, `Phone`, `Desktop` or
/// `Unknown`.
pub fn classify_user_agent(user_agent: &str) -> &'static str {
    let src = user_agent.as_bytes();
    let len = src.len().min(MAX_UA);
    let mut buf = [0u8; MAX_UA];
    for (d, s) in buf[..len].iter_mut().zip(src) {
        *d = s.to_ascii_lowercase();
    }
    let ua = &buf[..len];
    let mut flags = 0u16;
    for i in 0..ua.len() {
        if !matches!(ua[i], b'b' | b'c' | b's' | b'i' | b't' | b'k' | b'a' | b'm' | b'p' | b'w' | b'x' | b'l') {
            continue;
        }
        let rest = &ua[i..];
        for (word, flag) in KEYWORDS {
            if word[0] == ua[i] && rest.starts_with(word) {
                flags |= flag;
            }
        }
    }
    let has = |flag: u16| flags & flag != 0;
    if has(ROBOT) {
        "Robot"
    } else if has(TABLET) || (has(ANDROID) && !has(MOBILE)) {
        "Tablet"
    } else if has(ANDROID | PHONE | MOBILE) {
        "Phone"
    } else if has(DESKTOP) {
        "Desktop"
    } else {
        "Unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::classify_user_agent as c;

    #[test]
    fn classes() {
        assert_eq!(c("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:129.0) Gecko/20100101 Firefox/129.0"), "Desktop");
        assert_eq!(c("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"), "Desktop");
        assert_eq!(c("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"), "Desktop");
        assert_eq!(c("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"), "Phone");
        assert_eq!(c("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"), "Phone");
        assert_eq!(c("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"), "Tablet");
        assert_eq!(c("Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"), "Tablet");
        assert_eq!(c("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"), "Robot");
        assert_eq!(c("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"), "Robot");
        assert_eq!(c("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36 (compatible; Googlebot/2.1)"), "Robot");
        assert_eq!(c("python-requests/2.21.0"), "Unknown");
        assert_eq!(c(""), "Unknown");
        assert_eq!(c(&"x".repeat(10_000)), "Unknown");
    }
}
