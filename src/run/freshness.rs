//! Freshness: how long after its arrival an event is first counted in a written feature.

use std::collections::BTreeMap;
use std::time::Instant;

use operators::time::ceil_to;
use operators::Millis;
use timely::dataflow::ProbeHandle;

use crate::metrics::Metrics;

/// Arrival instants of events by the emission that first counts them, for freshness.
pub(super) struct Arrivals {
    by_emission: BTreeMap<u64, Vec<(Instant, u64)>>,
    longest_interval: Millis,
}

impl Arrivals {
    /// No arrivals yet; an event is first counted by the emission of the longest interval at or
    /// after it.
    pub(super) fn new(longest_interval: Millis) -> Arrivals {
        Arrivals {
            by_emission: BTreeMap::new(),
            longest_interval,
        }
    }

    /// An event of time `time` arrived `now`, while the inputs stood at `entered`.
    pub(super) fn arrived(&mut self, time: Millis, entered: u64, now: Instant) {
        let first_emission = ceil_to(time.max(entered), self.longest_interval);
        let batch = self.by_emission.entry(first_emission).or_default();
        match batch.last_mut() {
            Some((at, n)) if *at == now => *n += 1,
            _ => batch.push((now, 1)),
        }
    }

    /// Moves the arrivals whose first emission every sink has passed into the freshness
    /// histogram.
    pub(super) fn record(&mut self, probe: &ProbeHandle<u64>, metrics: &Metrics) {
        let now = Instant::now();
        let mut done = Vec::new();
        while let Some(entry) = self.by_emission.first_entry() {
            if probe.less_equal(entry.key()) {
                break;
            }
            done.extend(entry.remove());
        }
        if !done.is_empty() {
            if let Ok(mut histogram) = metrics.freshness.lock() {
                for (at, n) in done {
                    histogram.record(now.duration_since(at), n);
                }
            }
        }
    }
}
