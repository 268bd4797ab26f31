//! Whether a page URL is a search page, for `session_search_count`.
//!
//! A hand-rolled scan rather than a URL crate: it runs once per event on the hot path and needs
//! only the path and the parameter names.

/// True when the path is `/search` (also `/search/...` and `.../search`) or the query has a
/// parameter named `q`, `query` or `search` (whatever its value, even empty). Comparisons ignore
/// ASCII case; percent-encoded names are not decoded.
pub(crate) fn is_search(url: &str) -> bool {
    let url = url.as_bytes();
    // Fragment first: `#` ends both path and query.
    // URLs are short, where plain loops beat calls to memchr.
    let find = |hay: &[u8], b: u8| hay.iter().position(|&c| c == b);
    let url = find(url, b'#').map_or(url, |i| &url[..i]);
    let (before_query, query) = match find(url, b'?') {
        Some(i) => (&url[..i], &url[i + 1..]),
        None => (url, &url[url.len()..]),
    };
    let path = match scheme_end(before_query) {
        Some(authority) => {
            let rest = &before_query[authority..];
            find(rest, b'/').map_or(&rest[rest.len()..], |p| &rest[p..])
        }
        None => before_query,
    };
    path_is_search(path) || query_has_search(query)
}

/// Where the authority starts, after `<scheme>://`, if the URL is absolute.
fn scheme_end(url: &[u8]) -> Option<usize> {
    let colon = url.iter().position(|&b| b == b':')?;
    let scheme_ok = colon > 0
        && url[..colon]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    (scheme_ok && url[colon + 1..].starts_with(b"//")).then_some(colon + 3)
}

fn path_is_search(path: &[u8]) -> bool {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let ends = trimmed.len() >= 7 && trimmed[trimmed.len() - 7..].eq_ignore_ascii_case(b"/search");
    let starts = path.len() >= 8 && path[..8].eq_ignore_ascii_case(b"/search/");
    ends || starts
}

fn query_has_search(query: &[u8]) -> bool {
    query.split(|&b| b == b'&' || b == b';').any(|pair| {
        let name = pair.split(|&b| b == b'=').next().unwrap_or(pair);
        [&b"q"[..], b"query", b"search"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s))
    })
}

#[cfg(test)]
mod tests {
    use super::is_search;

    #[test]
    fn searches() {
        for url in [
            "https://shop.example/search",
            "https://shop.example/search/",
            "https://shop.example/search/shoes",
            "https://shop.example/en/search",
            "https://shop.example/Search?x=1",
            "https://shop.example/products?q=shoes",
            "https://shop.example/?page=2&query=red%20shoes",
            "https://shop.example/?search=",
            "http://localhost:3000/search?q=run#top",
            "/search",
            "/list?q=1",
        ] {
            assert!(is_search(url), "{url}");
        }
    }

    #[test]
    fn not_searches() {
        for url in [
            "",
            "http://localhost:3000/",
            "https://shop.example/research",
            "https://shop.example/searches",
            "https://shop.example/searching/x",
            "https://shop.example/product/5?qq=1&sq=2",
            "https://shop.example/product/5#q=1",
            "https://search.example/",
            "https://shop.example/?page=search",
            "not a url",
            "mailto:search@example.com",
        ] {
            assert!(!is_search(url), "{url}");
        }
    }
}
