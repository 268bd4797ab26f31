//! Counts of records held by window state. A record only ever leaves a window it entered, so a
//! count cannot go below zero; should that invariant break, a count must not wrap to 2^64 - 1
//! and be written to the store as a feature value.

/// Takes one from `count`. Debug builds (and the property tests run in them) stop on an
/// underflow; release builds stay at zero.
pub fn decrement(count: &mut u64) {
    debug_assert!(*count > 0, "a window removed a record it does not hold");
    *count = count.saturating_sub(1);
}
