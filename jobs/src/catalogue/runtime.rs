//! Catalogue lanes in the dataflow: a rolling aggregate and a session fold over any lane of the
//! catalogue, for the window operators of `operators`.

use std::sync::Arc;

use operators::changes::Rendered;
use operators::rolling::{Aggregate, WindowLog};
use operators::session::SessionFeatures;
use operators::symbols::Symbols;
use operators::Order;

use super::lane::{Accumulators, Plan, Record, Stored};
use super::Lane;

/// The names of the features a lane writes, in the order [`render`] fills them.
pub fn written_names(lane: &Lane) -> Vec<String> {
    lane.features
        .iter()
        .filter(|f| f.output)
        .map(|f| f.name.clone())
        .collect()
}

/// Writes the written features' values of `accumulators` into their slots.
fn render(plan: &Plan, accumulators: &Accumulators, values: &mut Rendered) {
    let features = plan.lane().features.iter().zip(accumulators.values(plan));
    for (slot, (_, value)) in features.filter(|(f, _)| f.output).enumerate() {
        if let Some(value) = value {
            value.write(values.slot(slot));
        }
    }
}

/// One window of a rolling catalogue lane.
pub struct LaneAggregate {
    plan: Arc<Plan>,
    accumulators: Accumulators,
}

/// The plan of a rolling catalogue lane, shared by all its windows.
pub fn rolling_plan(lane: Arc<Lane>) -> Arc<Plan> {
    Arc::new(Plan::new(lane, true))
}

impl Aggregate for LaneAggregate {
    type Spec = Arc<Plan>;
    type Entry = Record;
    type Stored = Stored;

    fn new(plan: &Arc<Plan>) -> Self {
        LaneAggregate {
            plan: plan.clone(),
            accumulators: Accumulators::new(plan),
        }
    }

    fn store(entry: Record, symbols: &mut Symbols) -> Stored {
        entry.store(symbols)
    }

    fn unstore(stored: &Stored, _symbols: &Symbols) -> Record {
        stored.unstore()
    }

    /// Shared text needs no release (see [`Symbols::share`]).
    fn release(_stored: &Stored, _symbols: &mut Symbols) {}

    fn insert(&mut self, order: Order, entry: &Stored) {
        self.accumulators.insert(&self.plan, order, entry);
    }

    fn remove(&mut self, order: Order, entry: &Stored) {
        self.accumulators.remove(&self.plan, order, entry);
    }

    fn render(&self, _window: WindowLog<'_, Stored>, _symbols: &Symbols, values: &mut Rendered) {
        render(&self.plan, &self.accumulators, values);
    }
}

/// The features of a session catalogue lane.
pub struct LaneSessions {
    plan: Plan,
}

impl LaneSessions {
    /// The session features of `lane`.
    pub fn new(lane: Arc<Lane>) -> LaneSessions {
        LaneSessions {
            plan: Plan::new(lane, false),
        }
    }
}

/// One session of a catalogue lane: its features' state. Records are not kept: two sessions a
/// late record bridges join their states.
#[derive(Default)]
pub struct LaneSession {
    accumulators: Option<Accumulators>,
}

impl SessionFeatures for LaneSessions {
    type Entry = Record;
    type State = LaneSession;
    type Saved = Option<Accumulators>;

    fn insert(&self, state: &mut LaneSession, order: Order, entry: Record, symbols: &mut Symbols) {
        state
            .accumulators
            .get_or_insert_with(|| Accumulators::new(&self.plan))
            .insert(&self.plan, order, &entry.store(symbols));
    }

    fn merge(
        &self,
        earlier: LaneSession,
        later: LaneSession,
        _symbols: &mut Symbols,
    ) -> LaneSession {
        let accumulators = match (earlier.accumulators, later.accumulators) {
            (Some(mut earlier), Some(later)) => {
                earlier.append(later);
                Some(earlier)
            }
            (earlier, later) => earlier.or(later),
        };
        LaneSession { accumulators }
    }

    fn save(&self, state: &LaneSession, _symbols: &Symbols) -> Option<Accumulators> {
        state.accumulators.clone()
    }

    fn load(&self, saved: Option<Accumulators>, _symbols: &mut Symbols) -> LaneSession {
        // A checkpoint is restored only with the catalogue it was written with (its settings
        // include every lane), so the saved states are laid out by this plan.
        LaneSession {
            accumulators: saved,
        }
    }

    fn release(&self, _state: LaneSession, _symbols: &mut Symbols) {}

    fn render(&self, state: &LaneSession, _symbols: &Symbols, values: &mut Rendered) {
        if let Some(accumulators) = &state.accumulators {
            render(&self.plan, accumulators, values);
        }
    }
}
