//! Process-wide gauge of the records the window operators hold, for benchmarks: it shows how
//! state grows with the input.

use std::sync::atomic::{AtomicI64, Ordering};

static HELD: AtomicI64 = AtomicI64::new(0);
static PEAK: AtomicI64 = AtomicI64::new(0);

/// Records `delta` more (or fewer) records held.
pub fn add(delta: i64) {
    let now = HELD.fetch_add(delta, Ordering::Relaxed) + delta;
    if delta > 0 {
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

/// Records held now, over every window operator of this process.
pub fn held() -> i64 {
    HELD.load(Ordering::Relaxed)
}

/// The most records held at once since the last [`reset_peak`].
pub fn peak() -> i64 {
    PEAK.load(Ordering::Relaxed)
}

/// Starts a new peak measurement.
pub fn reset_peak() {
    PEAK.store(HELD.load(Ordering::Relaxed), Ordering::Relaxed);
}
