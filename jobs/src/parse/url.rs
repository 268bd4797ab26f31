//! Whether a page URL is a search page, for `session_search_count`.
//!
//! A hand-rolled scan rather than a URL crate: it runs once per event on the hot path and needs
//! only the path and the parameter names.

/// True when the path is `/search` (also `/search/...` and `.../search`) or the query has a
/// parameter named `q`, `query` or `search` (whatever its value, even empty). Comparisons ignore
/// ASCII case; percent-encoded names are not decoded.
pub(crate) fn is_search(url: &str) -> bool {
    // Fragment first: `#` ends both path and query.
    let url = url.split_once('#').map_or(url, |(before, _)| before);
    let (before_query, query) = url.split_once('?').unwrap_or((url, ""));
    let path = match before_query.find("://") {
        Some(i) => {
            let after_scheme = &before_query[i + 3..];
            after_scheme.find('/').map_or("", |p| &after_scheme[p..])
        }
        None => before_query,
    };
    path_is_search(path) || query_has_search(query)
}

fn path_is_search(path: &str) -> bool {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let b = trimmed.as_bytes();
    let ends = b.len() >= 7 && b[b.len() - 7..].eq_ignore_ascii_case(b"/search");
    let starts = path.len() >= 8 && path.as_bytes()[..8].eq_ignore_ascii_case(b"/search/");
    ends || starts
}

fn query_has_search(query: &str) -> bool {
    query.split(['&', ';']).any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        ["q", "query", "search"]
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
        ] {
            assert!(!is_search(url), "{url}");
        }
    }
}
