//! Event time and the emission grid.

/// Event time in milliseconds since the Unix epoch.
pub type Millis = u64;

/// The total order of records: event time, then event id. Order never depends on arrival.
pub type Order = (Millis, u128);

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
    }
}
