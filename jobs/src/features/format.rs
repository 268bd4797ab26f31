//! Value formats of the feature store: decimals rounded to 2 places without exponent or trailing
//! zeros, booleans, sorted JSON arrays of strings.

use crate::event::Price;

/// Formats `numerator / denominator` rounded half away from zero to 2 decimal places, exactly.
pub fn decimal_ratio(numerator: i128, denominator: i128) -> String {
    if denominator == 0 {
        return "0".to_string();
    }
    let negative = (numerator < 0) != (denominator < 0);
    let (n, d) = (numerator.abs(), denominator.abs());
    let cents = (n * 100 * 2 + d) / (2 * d);
    let (units, frac) = (cents / 100, cents % 100);
    let sign = if negative && cents != 0 { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{units}")
    } else if frac % 10 == 0 {
        format!("{sign}{units}.{}", frac / 10)
    } else {
        format!("{sign}{units}.{frac:02}")
    }
}

/// Formats a price rounded to 2 decimal places.
pub fn price(value: Price) -> String {
    decimal_ratio(value.0 as i128, Price::SCALE as i128)
}

/// Formats the mean of `count` prices summing to `sum`.
pub fn mean_price(sum: i128, count: u64) -> String {
    decimal_ratio(sum, count as i128 * Price::SCALE as i128)
}

/// Formats a sorted, de-duplicated JSON array of strings.
pub fn string_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut items: Vec<&str> = items.into_iter().collect();
    items.sort_unstable();
    items.dedup();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(price(Price(42_990_000)), "42.99");
        assert_eq!(price(Price(40_000_000)), "40");
        assert_eq!(price(Price(500_000)), "0.5");
        assert_eq!(price(Price(12_345_000)), "12.35");
        assert_eq!(price(Price(-12_345_000)), "-12.35");
        assert_eq!(price(Price(4_000)), "0");
        assert_eq!(decimal_ratio(1, 3), "0.33");
        assert_eq!(decimal_ratio(2, 3), "0.67");
        assert_eq!(decimal_ratio(5, 0), "0");
        assert_eq!(mean_price(3 * Price::SCALE as i128, 2), "1.5");
    }

    #[test]
    fn lists() {
        assert_eq!(string_list(["b", "a", "b"]), r#"["a","b"]"#);
        assert_eq!(string_list([]), "[]");
        assert_eq!(string_list(["q\"x"]), r#"["q\"x"]"#);
    }
}
