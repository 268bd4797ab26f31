//! Values: what an event property holds and what a feature renders, in SPEC's formats.

use std::cmp::Ordering;

use crate::event::Price;
use crate::features::format;

/// An exact number `num / den` (`den > 0`): counts, prices (in millionths), sums, means and
/// ratios stay exact until they are rendered, rounded, once.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Number {
    num: i128,
    den: i128,
}

impl Number {
    /// A whole number.
    pub fn int(n: i128) -> Number {
        Number { num: n, den: 1 }
    }

    /// A price.
    pub fn price(p: Price) -> Number {
        Number {
            num: p.0 as i128,
            den: Price::SCALE as i128,
        }
    }

    /// `num / den`; `None` when `den` is 0.
    pub fn ratio(num: i128, den: i128) -> Option<Number> {
        match den.cmp(&0) {
            Ordering::Equal => None,
            Ordering::Greater => Some(Number { num, den }),
            Ordering::Less => Some(Number {
                num: -num,
                den: -den,
            }),
        }
    }

    /// The numerator over the denominator, as given (not reduced).
    pub fn parts(self) -> (i128, i128) {
        (self.num, self.den)
    }

    /// `self / other`; `None` when `other` is 0 or the result does not fit.
    pub fn divided_by(self, other: Number) -> Option<Number> {
        let num = self.num.checked_mul(other.den)?;
        let den = self.den.checked_mul(other.num)?;
        Number::ratio(num, den)
    }

    /// `self - other`; `None` when it does not fit.
    pub fn minus(self, other: Number) -> Option<Number> {
        if self.den == other.den {
            return Some(Number {
                num: self.num.checked_sub(other.num)?,
                den: self.den,
            });
        }
        let left = self.num.checked_mul(other.den)?;
        let right = other.num.checked_mul(self.den)?;
        Some(Number {
            num: left.checked_sub(right)?,
            den: self.den.checked_mul(other.den)?,
        })
    }

    /// Writes the number rounded half away from zero to 2 places, without trailing zeros.
    pub fn write(self, out: &mut String) {
        format::write_ratio(out, self.num, self.den)
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Number {}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Number {
    fn cmp(&self, other: &Self) -> Ordering {
        // Both denominators are positive; the products fit for any price or count the parser
        // accepts (below 2^63 millionths times a count below 2^64).
        let left = self.num.saturating_mul(other.den);
        let right = other.num.saturating_mul(self.den);
        left.cmp(&right)
    }
}

/// What an event property holds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Input {
    /// A boolean, e.g. whether a page is a search.
    Bool(bool),
    /// A number: a price, a time in milliseconds, a step.
    Number(Number),
    /// Text: an id, a name, a category.
    Text(String),
}

impl Input {
    /// The number it holds, if it is one.
    pub fn number(&self) -> Option<Number> {
        match self {
            Input::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Writes it as a feature value.
    pub fn write(&self, out: &mut String) {
        match self {
            Input::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Input::Number(n) => n.write(out),
            Input::Text(t) => out.push_str(t),
        }
    }

    /// It as a feature value.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// A feature's value before it is rendered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// A number.
    Number(Number),
    /// A boolean.
    Bool(bool),
    /// Text, written as it is.
    Text(String),
    /// A list, written as a JSON array of strings; sorted and distinct.
    List(Vec<String>),
}

impl Value {
    /// A property's value as a feature value.
    pub fn of(input: &Input) -> Value {
        match input {
            Input::Bool(b) => Value::Bool(*b),
            Input::Number(n) => Value::Number(*n),
            Input::Text(t) => Value::Text(t.clone()),
        }
    }

    /// A whole number.
    pub fn count(n: usize) -> Value {
        Value::Number(Number::int(n as i128))
    }

    /// The number it holds, if it is one.
    pub fn number(&self) -> Option<Number> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Writes it in SPEC's format.
    pub fn write(&self, out: &mut String) {
        match self {
            Value::Number(n) => n.write(out),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Text(t) => out.push_str(t),
            Value::List(items) => format::write_sorted_list(out, items.iter().map(String::as_str)),
        }
    }

    /// It in SPEC's format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_exact_until_rendered() {
        let price = Number::price(Price(42_990_000));
        assert_eq!(Value::Number(price).render(), "42.99");
        let mean = Number::ratio(10, 3).expect("a ratio");
        assert_eq!(Value::Number(mean).render(), "3.33");
        assert_eq!(
            Number::int(2),
            Number::ratio(4_000_000, 2_000_000).expect("a ratio")
        );
        assert!(Number::int(1) < Number::price(Price(1_500_000)));
        let third = Number::int(1).divided_by(Number::int(3)).expect("a ratio");
        assert_eq!(Value::Number(third).render(), "0.33");
        assert_eq!(Number::int(1).divided_by(Number::int(0)), None);
        let diff = Number::int(5).minus(Number::price(Price(1_250_000)));
        assert_eq!(Value::Number(diff.expect("fits")).render(), "3.75");
        assert_eq!(
            Value::List(vec!["a".into(), "b".into()]).render(),
            r#"["a","b"]"#
        );
    }
}
