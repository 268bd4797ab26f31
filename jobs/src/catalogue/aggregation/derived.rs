//! Derived values: computed at each emission from other features of the same lane and window
//! (their index in the lane), never from records.

use std::cmp::Ordering;

use super::{Input, Number, Value};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    /// The operator written as `symbol`.
    pub fn parse(symbol: &str) -> Option<Op> {
        Some(match symbol {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
        }
    }
}

/// A derived value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Derived {
    /// The first feature divided by the second; `when_zero` when the second is 0.
    Ratio {
        /// Numerator and denominator.
        of: (usize, usize),
        /// The value for a zero denominator (absent when `None`).
        when_zero: Option<Number>,
    },
    /// The first feature minus the second.
    Difference(usize, usize),
    /// `<first>-<second>`, e.g. a price range from a minimum and a maximum.
    Range(usize, usize),
    /// Whether the feature compares to the constant as `op` says.
    Compare {
        /// The feature compared.
        of: usize,
        /// How.
        op: Op,
        /// With what.
        than: Input,
    },
}

impl Derived {
    /// The features it reads.
    pub fn inputs(&self) -> Vec<usize> {
        match self {
            Derived::Ratio { of: (a, b), .. }
            | Derived::Difference(a, b)
            | Derived::Range(a, b) => {
                vec![*a, *b]
            }
            Derived::Compare { of, .. } => vec![*of],
        }
    }

    /// Its value from the lane's feature values (absent when an input is absent).
    pub fn value(&self, values: &[Option<Value>]) -> Option<Value> {
        let get = |i: usize| values.get(i).and_then(Option::as_ref);
        let number = |i: usize| get(i).and_then(Value::number);
        match self {
            Derived::Ratio {
                of: (a, b),
                when_zero,
            } => {
                let (a, b) = (number(*a)?, number(*b)?);
                match a.divided_by(b) {
                    Some(ratio) => Some(Value::Number(ratio)),
                    None if b == Number::int(0) => when_zero.map(Value::Number),
                    None => None,
                }
            }
            Derived::Difference(a, b) => number(*a)?.minus(number(*b)?).map(Value::Number),
            Derived::Range(a, b) => {
                let mut text = get(*a)?.render();
                text.push('-');
                get(*b)?.write(&mut text);
                Some(Value::Text(text.into()))
            }
            Derived::Compare { of, op, than } => {
                let ordering = match (get(*of)?, than) {
                    (Value::Number(a), Input::Number(b)) => a.cmp(&b.number()),
                    (Value::Text(a), Input::Text(b)) => (**a).cmp(b.as_str()),
                    (Value::Bool(a), Input::Bool(b)) => a.cmp(b),
                    _ => return None,
                };
                Some(Value::Bool(op.holds(ordering)))
            }
        }
    }
}
