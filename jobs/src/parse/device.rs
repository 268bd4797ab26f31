//! Device class from a user agent, for events without a YAUAA enrichment entity.
//!
//! YAUAA itself is far too big to embed; this is a small keyword classifier that returns the same
//! class names YAUAA uses, so that `shopper_device_types` mixes both sources sensibly. Rules, in
//! order, matched case-insensitively:
//!
//! 1. `bot`, `crawl`, `spider` → `Robot`
//! 2. `ipad`, `tablet`, `kindle`, `silk/`, or `android` without `mobile` → `Tablet`
//! 3. `iphone`, `ipod`, `android`, `mobile`, `phone` → `Phone`
//! 4. `windows`, `macintosh`, `x11`, `linux` → `Desktop`
//! 5. otherwise → `Unknown` (e.g. `python-requests/2.21.0`, which YAUAA also calls `Unknown`).

/// Longest prefix of a user agent that is looked at; real agents are far shorter, and the bound
/// caps the work an absurd one can cause.
const MAX_UA: usize = 512;

const ROBOT: u8 = 1;
const TABLET: u8 = 1 << 1;
const ANDROID: u8 = 1 << 2;
const MOBILE: u8 = 1 << 3;
const PHONE: u8 = 1 << 4;
const DESKTOP: u8 = 1 << 5;

/// Whether `hay` starts with `word` (lowercase ASCII), ignoring ASCII case.
#[inline]
fn at(hay: &[u8], word: &[u8]) -> bool {
    hay.len() >= word.len() && hay[..word.len()].eq_ignore_ascii_case(word)
}

/// Classifies a user agent into a YAUAA device class: `Robot`, `Tablet`, `Phone`, `Desktop` or
/// `Unknown`.
pub fn classify_user_agent(user_agent: &str) -> &'static str {
    if user_agent.len() > MAX_CACHED {
        return classify(user_agent);
    }
    let slot = slot_of(user_agent.as_bytes());
    CACHE
        .try_with(|cache| {
            let mut cache = cache.borrow_mut();
            if let Some((cached, class)) = &cache[slot] {
                if **cached == *user_agent {
                    return *class;
                }
            }
            let class = classify(user_agent);
            cache[slot] = Some((user_agent.into(), class));
            class
        })
        // Only during thread teardown.
        .unwrap_or_else(|_| classify(user_agent))
}

/// Entries of the per-thread cache. Traffic has few distinct agents compared to events (the same
/// browsers over and over), and a hit (one comparison) costs a tenth of classifying.
const CACHE_SLOTS: usize = 256;
/// Longer agents are classified without caching, so the cache stays small.
const MAX_CACHED: usize = 256;

type Slot = Option<(Box<str>, &'static str)>;

thread_local! {
    static CACHE: std::cell::RefCell<Vec<Slot>> = std::cell::RefCell::new(vec![None; CACHE_SLOTS]);
}

/// Cache slot of an agent: a multiplicative hash of its length and three 8-byte samples (start,
/// middle, end), which tell agents apart well without reading all of them.
fn slot_of(ua: &[u8]) -> usize {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        let end = ua.len().min(at + 8);
        if let Some(src) = ua.get(at..end) {
            w[..src.len()].copy_from_slice(src);
        }
        u64::from_le_bytes(w)
    };
    let mut h = ua.len() as u64;
    for w in [
        word(0),
        word(ua.len() / 2),
        word(ua.len().saturating_sub(8)),
    ] {
        h = (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    (h >> 56) as usize % CACHE_SLOTS
}

/// The classifier itself (see the module documentation).
fn classify(user_agent: &str) -> &'static str {
    let ua = &user_agent.as_bytes()[..user_agent.len().min(MAX_UA)];
    // One pass, dispatching on the (lowercased) byte to the few keywords starting with it: this
    // runs per event on the hot path, and a substring search per keyword costs several times more.
    let mut flags = 0u8;
    for i in 0..ua.len() {
        let rest = &ua[i..];
        flags |= match ua[i] | 0x20 {
            b'a' if at(rest, b"android") => ANDROID,
            b'b' if at(rest, b"bot") => ROBOT,
            b'c' if at(rest, b"crawl") => ROBOT,
            b'i' if at(rest, b"iphone") || at(rest, b"ipod") => PHONE,
            b'i' if at(rest, b"ipad") => TABLET,
            b'k' if at(rest, b"kindle") => TABLET,
            b'l' if at(rest, b"linux") => DESKTOP,
            b'm' if at(rest, b"mobile") => MOBILE,
            b'm' if at(rest, b"macintosh") => DESKTOP,
            b'p' if at(rest, b"phone") => PHONE,
            b's' if at(rest, b"spider") => ROBOT,
            b's' if at(rest, b"silk/") => TABLET,
            b't' if at(rest, b"tablet") => TABLET,
            b'w' if at(rest, b"windows") => DESKTOP,
            b'x' if at(rest, b"x11") => DESKTOP,
            _ => 0,
        };
    }
    let has = |flag: u8| flags & flag != 0;
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
        assert_eq!(
            c("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
            "Robot"
        );
        assert_eq!(
            c("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"),
            "Robot"
        );
        assert_eq!(c("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36 (compatible; Googlebot/2.1)"), "Robot");
        assert_eq!(c("python-requests/2.21.0"), "Unknown");
        assert_eq!(c(""), "Unknown");
        assert_eq!(c(&"x".repeat(10_000)), "Unknown");
        assert_eq!(c(&format!("{} Googlebot", "x".repeat(300))), "Robot");
    }

    #[test]
    fn cache_returns_what_the_classifier_says() {
        // Enough distinct agents to collide in the cache; each must still get its own class.
        let agents: Vec<String> = (0..2000)
            .map(|i| match i % 4 {
                0 => format!("Mozilla/5.0 (iPhone; CPU iPhone OS {i}) Mobile"),
                1 => format!("Mozilla/5.0 (Windows NT {i}.0; Win64; x64)"),
                2 => format!("crawler-{i}"),
                _ => format!("tool/{i}"),
            })
            .collect();
        for _ in 0..2 {
            for a in &agents {
                assert_eq!(c(a), super::classify(a), "{a}");
            }
        }
    }
}
