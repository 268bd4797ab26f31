//! `sum` and `mean` of a numeric property.

use operators::Order;

use super::{number, Accumulate, Item, Number, Value};

/// A sum of numbers and how many there are. Numbers of one property share a denominator
/// (prices are millionths, counts and times whole), so the sum stays exact.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Sum {
    num: i128,
    den: Option<i128>,
    n: u64,
}

impl Sum {
    fn add(&mut self, value: Number, sign: i128) {
        let (num, den) = value.parts();
        let current = *self.den.get_or_insert(den);
        if current == den {
            self.num += sign * num;
        } else {
            // Mixed denominators: bring both to their product.
            self.num = self.num * den + sign * num * current;
            self.den = Some(current * den);
        }
    }

    /// Counts `value` in (`up`) or out of the sum.
    pub fn count(&mut self, value: Number, up: bool) {
        if up {
            self.add(value, 1);
            self.n += 1;
        } else {
            self.add(value, -1);
            self.n = self.n.saturating_sub(1);
        }
    }

    /// Joins the sum of other records.
    pub fn append(&mut self, other: &Sum) {
        if let Some(sum) = other.den.and_then(|den| Number::ratio(other.num, den)) {
            self.add(sum, 1);
            self.n += other.n;
        }
    }

    /// The mean, absent without values.
    pub fn mean(&self) -> Option<Value> {
        let den = self.den?.checked_mul(self.n as i128)?;
        Number::ratio(self.num, den).map(Value::Number)
    }
}

impl Accumulate for Sum {
    fn insert(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = number(value) {
            self.count(v, true);
        }
    }

    fn remove(&mut self, _order: Order, value: Option<&Item>, _group: Option<&Item>) {
        if let Some(v) = number(value) {
            self.count(v, false);
        }
    }

    /// The sum; 0 when no record has a value.
    fn value(&self) -> Option<Value> {
        let sum = Number::ratio(self.num, self.den.unwrap_or(1)).unwrap_or(Number::int(0));
        Some(Value::Number(sum))
    }
}
