//! Records too old for every window of their operator. They count nowhere, so they are counted
//! here instead, per operator and process-wide, for the job to report: late data is dropped
//! visibly, never silently.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

static COUNTERS: Mutex<BTreeMap<String, Arc<AtomicU64>>> = Mutex::new(BTreeMap::new());

/// The late-record counter of one operator; the workers of a process running the same
/// operator share it.
#[derive(Clone, Debug)]
pub struct LateCounter(Arc<AtomicU64>);

impl LateCounter {
    /// The counter of the operator called `name`.
    pub fn register(name: &str) -> LateCounter {
        let mut counters = COUNTERS.lock().unwrap_or_else(PoisonError::into_inner);
        LateCounter(counters.entry(name.to_string()).or_default().clone())
    }

    /// Counts one record dropped as too late.
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Late records dropped so far in this process, per operator name (operators that dropped
/// nothing included).
pub fn counts() -> BTreeMap<String, u64> {
    let counters = COUNTERS.lock().unwrap_or_else(PoisonError::into_inner);
    counters
        .iter()
        .map(|(name, count)| (name.clone(), count.load(Ordering::Relaxed)))
        .collect()
}

/// Late records dropped so far in this process, over every operator.
pub fn total() -> u64 {
    counts().values().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_one_name_are_shared() {
        let a = LateCounter::register("late-test");
        let b = LateCounter::register("late-test");
        a.record();
        b.record();
        assert_eq!(counts().get("late-test"), Some(&2));
    }
}
