//! Event time and the emission grid.

/// Event time in milliseconds since the Unix epoch.
pub type Millis = u64;

/// The total order of records: event time, then event id. Order never depends on arrival.
pub type Order = (Millis, u128);

/// An [`Order`] in 24 bytes, for state that holds one per record: a `u128` is aligned to 16,
/// which pads an order, and anything held beside it, to a multiple of 16. Compares as the order
/// does.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct PackedOrder {
    time: Millis,
    id_high: u64,
    id_low: u64,
}

impl From<Order> for PackedOrder {
    fn from((time, id): Order) -> PackedOrder {
        PackedOrder {
            time,
            id_high: (id >> 64) as u64,
            id_low: id as u64,
        }
    }
}

impl PackedOrder {
    /// The event time.
    pub fn time(self) -> Millis {
        self.time
    }
}

impl From<PackedOrder> for Order {
    fn from(p: PackedOrder) -> Order {
        (p.time, (u128::from(p.id_high) << 64) | u128::from(p.id_low))
    }
}

/// The smallest multiple of `grid` that is `>= t`.
pub fn ceil_to(t: Millis, grid: Millis) -> Millis {
    t.div_ceil(grid).saturating_mul(grid)
}

/// The largest multiple of `grid` that is `<= t`.
pub fn floor_to(t: Millis, grid: Millis) -> Millis {
    t - t % grid
}

/// The first emission time at which a record of event time `time`, that entered the dataflow at
/// timely time `entered`, can be counted: late records count from the next emission on.
pub fn effective_emission(time: Millis, entered: Millis, grid: Millis) -> Millis {
    ceil_to(time.max(entered), grid)
}

/// Greatest common divisor, to find the coarsest grid common to every lane.
pub fn gcd(a: Millis, b: Millis) -> Millis {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Parses a duration written as a whole number and a unit (`500ms`, `5s`, `30m`, `1h`, `24h`,
/// `7d`); `None` for anything else or a value that overflows.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    number.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid() {
        assert_eq!(ceil_to(0, 1000), 0);
        assert_eq!(ceil_to(1, 1000), 1000);
        assert_eq!(ceil_to(1000, 1000), 1000);
        assert_eq!(floor_to(1999, 1000), 1000);
        assert_eq!(effective_emission(1500, 3001, 1000), 4000);
        assert_eq!(effective_emission(1500, 1001, 1000), 2000);
        assert_eq!(gcd(1000, 250), 250);
        assert_eq!(parse_duration("30m"), Some(1_800_000));
        assert_eq!(parse_duration("5 s"), None);
        assert_eq!(parse_duration("h"), None);
    }
}
