//! Values: what an event property holds and what a feature renders, in SPEC's formats.

use std::cmp::Ordering;
use std::rc::Rc;

use operators::symbols::Symbols;

use super::format;
use crate::event::Price;

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

/// A number an event property holds, `num / den`: a whole number (a time, a step) or a price in
/// millionths. Smaller than a [`Number`], since every record of a window holds its own.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct Quantity {
    num: i64,
    den: u32,
}

impl Quantity {
    /// A whole number.
    pub fn int(n: i64) -> Quantity {
        Quantity { num: n, den: 1 }
    }

    /// A price.
    pub fn price(p: Price) -> Quantity {
        Quantity {
            num: p.0,
            den: Price::SCALE as u32,
        }
    }

    /// It as an exact number.
    pub fn number(self) -> Number {
        Number {
            num: self.num.into(),
            den: self.den.into(),
        }
    }

    /// The numerator over the denominator.
    pub fn parts(self) -> (i128, i128) {
        self.number().parts()
    }
}

impl std::hash::Hash for Quantity {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Equal quantities hash alike whatever their denominators: hash the reduced fraction.
        let (mut a, mut b) = (self.num.unsigned_abs(), u64::from(self.den));
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let gcd = a.max(1);
        (self.num / gcd as i64, u64::from(self.den) / gcd).hash(state)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        // Quantities of one property share a denominator: compare without multiplying.
        if self.den == other.den {
            return self.num == other.num;
        }
        self.number() == other.number()
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        if self.den == other.den {
            return self.num.cmp(&other.num);
        }
        self.number().cmp(&other.number())
    }
}

/// What an event property holds, with its text as `T`: a `String` as records travel between
/// workers, a shared [`Item`] string as window state holds them.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Input<T = String> {
    /// A boolean, e.g. whether a page is a search.
    Bool(bool),
    /// A number: a price, a time in milliseconds, a step.
    Number(Quantity),
    /// Text: an id, a name, a category.
    Text(T),
}

/// A property's value as window state holds it: its text is shared with every other record of
/// the operator that holds the same (see [`Symbols::share`]).
pub type Item = Input<Shared>;

/// Text as window state holds it: one string per distinct text of an operator, so that equal
/// texts are almost always one pointer and compare without being read.
#[derive(Clone, Debug)]
pub struct Shared(pub Rc<str>);

impl From<&str> for Shared {
    fn from(text: &str) -> Shared {
        Shared(Rc::from(text))
    }
}

impl AsRef<str> for Shared {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Shared {}

impl PartialOrd for Shared {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Shared {
    fn cmp(&self, other: &Self) -> Ordering {
        if Rc::ptr_eq(&self.0, &other.0) {
            return Ordering::Equal;
        }
        self.0.cmp(&other.0)
    }
}

/// As plain text, for checkpoints of feature state.
impl serde::Serialize for Shared {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Back from a checkpoint: a string of its own, not yet one pointer with equal texts of the
/// operator (which still compare equal, only not by pointer).
impl<'de> serde::Deserialize<'de> for Shared {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Shared, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ok(Shared::from(text.as_ref()))
    }
}

impl std::hash::Hash for Shared {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl<T: AsRef<str>> Input<T> {
    /// The number it holds, if it is one.
    pub fn number(&self) -> Option<Number> {
        match self {
            Input::Number(n) => Some(n.number()),
            _ => None,
        }
    }

    /// Its text, if it is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Input::Text(t) => Some(t.as_ref()),
            _ => None,
        }
    }

    /// Whether it holds the same as `other`, whatever either's text type.
    pub fn same<U: AsRef<str>>(&self, other: &Input<U>) -> bool {
        match (self, other) {
            (Input::Bool(a), Input::Bool(b)) => a == b,
            (Input::Number(a), Input::Number(b)) => a == b,
            (Input::Text(a), Input::Text(b)) => a.as_ref() == b.as_ref(),
            _ => false,
        }
    }

    /// Writes it as a feature value.
    pub fn write(&self, out: &mut String) {
        match self {
            Input::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Input::Number(n) => n.number().write(out),
            Input::Text(t) => out.push_str(t.as_ref()),
        }
    }

    /// It as a feature value.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

impl Input {
    /// It as window state holds it, its text shared through `symbols`.
    pub fn share(&self, symbols: &mut Symbols) -> Item {
        match self {
            Input::Bool(b) => Input::Bool(*b),
            Input::Number(n) => Input::Number(*n),
            Input::Text(t) => Input::Text(Shared(symbols.share(t))),
        }
    }
}

impl Item {
    /// It as records travel.
    pub fn unshare(&self) -> Input {
        match self {
            Input::Bool(b) => Input::Bool(*b),
            Input::Number(n) => Input::Number(*n),
            Input::Text(t) => Input::Text(t.0.to_string()),
        }
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
    Text(Rc<str>),
    /// A list, written as a JSON array of strings; sorted and distinct.
    List(Vec<Rc<str>>),
}

impl Value {
    /// A property's value as a feature value.
    pub fn of(input: &Item) -> Value {
        match input {
            Input::Bool(b) => Value::Bool(*b),
            Input::Number(n) => Value::Number(n.number()),
            Input::Text(t) => Value::Text(t.0.clone()),
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
            Value::List(items) => format::write_sorted_list(out, items.iter().map(|t| &**t)),
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
            Value::List(vec![Rc::from("a"), Rc::from("b")]).render(),
            r#"["a","b"]"#
        );
    }
}
