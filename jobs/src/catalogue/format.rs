//! Value formats of the feature store: decimals rounded to 2 places without exponent or trailing
//! zeros, booleans, sorted JSON arrays of strings.

use crate::event::Price;

/// Writes `numerator / denominator` rounded half away from zero to 2 decimal places, exactly.
pub fn write_ratio(out: &mut String, numerator: i128, denominator: i128) {
    if denominator == 0 {
        out.push('0');
        return;
    }
    if denominator == 1 {
        // Counts, the most written values: no rounding, no 128-bit division.
        if let Ok(whole) = i64::try_from(numerator) {
            out.push_str(itoa::Buffer::new().format(whole));
            return;
        }
    }
    let negative = (numerator < 0) != (denominator < 0);
    let (n, d) = (numerator.unsigned_abs(), denominator.unsigned_abs());
    // Prices, sums and means fit in 64 bits, where division is several times cheaper.
    let cents = match (u64::try_from(n), u64::try_from(d)) {
        (Ok(n), Ok(d)) if n <= u64::MAX / 400 && d <= u64::MAX / 4 => {
            u128::from((n * 200 + d) / (2 * d))
        }
        _ => (n * 100 * 2 + d) / (2 * d),
    };
    let (units, frac) = (cents / 100, (cents % 100) as u8);
    if negative && cents != 0 {
        out.push('-');
    }
    out.push_str(itoa::Buffer::new().format(units));
    if frac != 0 {
        out.push('.');
        out.push(char::from(b'0' + frac / 10));
        if frac % 10 != 0 {
            out.push(char::from(b'0' + frac % 10));
        }
    }
}

/// Formats `numerator / denominator` rounded half away from zero to 2 decimal places, exactly.
pub fn decimal_ratio(numerator: i128, denominator: i128) -> String {
    let mut out = String::new();
    write_ratio(&mut out, numerator, denominator);
    out
}

/// Writes a price rounded to 2 decimal places.
pub fn write_price(out: &mut String, value: Price) {
    write_ratio(out, value.0 as i128, Price::SCALE as i128)
}

/// Formats a price rounded to 2 decimal places.
pub fn price(value: Price) -> String {
    decimal_ratio(value.0 as i128, Price::SCALE as i128)
}

/// Writes the mean of `count` prices summing to `sum`.
pub fn write_mean_price(out: &mut String, sum: i128, count: u64) {
    write_ratio(out, sum, count as i128 * Price::SCALE as i128)
}

/// Formats the mean of `count` prices summing to `sum`.
pub fn mean_price(sum: i128, count: u64) -> String {
    decimal_ratio(sum, count as i128 * Price::SCALE as i128)
}

/// Writes a JSON array of strings that are already sorted and distinct.
pub fn write_sorted_list<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // A JSON string of one item cannot fail to serialize.
        out.push_str(&serde_json::to_string(item).unwrap_or_default());
    }
    out.push(']');
}

/// Formats a sorted, de-duplicated JSON array of strings.
pub fn string_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut items: Vec<&str> = items.into_iter().collect();
    items.sort_unstable();
    items.dedup();
    let mut out = String::new();
    write_sorted_list(&mut out, items);
    out
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
        assert_eq!(decimal_ratio(-7, 1), "-7");
        assert_eq!(decimal_ratio(0, 1), "0");
        assert_eq!(decimal_ratio(7, -2), "-3.5");
        assert_eq!(decimal_ratio(-1, 300), "0");
        assert_eq!(decimal_ratio(-1, 200), "-0.01");
        assert_eq!(decimal_ratio(101, 1000), "0.1");
        assert_eq!(
            decimal_ratio(i128::from(i64::MAX) * 3, 1),
            "27670116110564327421"
        );
        assert_eq!(
            decimal_ratio(i128::MAX / 1000, 7),
            "24305883351495604533098186245126300.71"
        );
    }

    #[test]
    fn lists() {
        assert_eq!(string_list(["b", "a", "b"]), r#"["a","b"]"#);
        assert_eq!(string_list([]), "[]");
        assert_eq!(string_list(["q\"x"]), r#"["q\"x"]"#);
    }
}
