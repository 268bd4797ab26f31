//! The shopper job's dataflow: lane streams in, feature writes out.

use operators::checkpoint::Control;
use operators::driver::Shared;
use operators::rolling::{rolling, Aggregate, RollingConfig, WindowSpec};
use operators::session::{sessions, SessionConfig};
use operators::{FeatureWrite, Keyed, Millis};
use timely::dataflow::operators::Concatenate;
use timely::dataflow::{Scope, StreamVec};

use std::sync::Arc;

use crate::catalogue::runtime::{written_names, LaneAggregate, LaneSessions};
use crate::catalogue::Lane;
use crate::features::{cart, category, product, purchase, session};
use crate::lanes::LaneStreams;

/// Windows and emission interval of one rolling lane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaneSettings {
    /// The windows, e.g. `5m` and `1h`.
    pub windows: Vec<WindowSpec>,
    /// Emission interval in milliseconds.
    pub interval: Millis,
}

/// Session lane settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionSettings {
    /// Largest gap within one session.
    pub gap: Millis,
    /// Emission interval in milliseconds.
    pub interval: Millis,
    /// How long a closed session's features stay in the store.
    pub retention: Millis,
}

/// A catalogue lane computed by the generic aggregations, with its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogueLane {
    /// The lane.
    pub lane: Arc<Lane>,
    /// Rolling lanes: the windows. Session lanes: empty.
    pub windows: Vec<WindowSpec>,
    /// Session lanes: the largest gap within a session.
    pub gap: Millis,
    /// Emission interval in milliseconds.
    pub interval: Millis,
    /// Session lanes: how long a closed session's features stay in the store.
    pub retention: Millis,
}

impl CatalogueLane {
    /// The operator's name, e.g. `CatalogueLane-pages` (its checkpoint parts are named so).
    pub fn operator(&self) -> String {
        format!("CatalogueLane-{}", self.lane.name)
    }
}

/// What the job computes. A lane set to `None` is switched off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSettings {
    /// Product lane.
    pub product: Option<LaneSettings>,
    /// Category lane.
    pub category: Option<LaneSettings>,
    /// Cart lane.
    pub cart: Option<LaneSettings>,
    /// Purchase lane.
    pub purchase: Option<LaneSettings>,
    /// A checkout step that also counts as an order.
    pub purchase_checkout_step: Option<u32>,
    /// Session lane.
    pub session: Option<SessionSettings>,
    /// Store expiry of rolling features beyond their window length.
    pub expiry_grace: Millis,
    /// Lanes of the feature catalogue that the generic aggregations compute: every lane that is
    /// not one of the compiled ones above as shipped.
    pub catalogue: Vec<CatalogueLane>,
}

impl JobSettings {
    /// The emission intervals of the lanes that are on.
    fn intervals(&self) -> impl Iterator<Item = Millis> + '_ {
        [&self.product, &self.category, &self.cart, &self.purchase]
            .into_iter()
            .filter_map(|lane| lane.as_ref().map(|l| l.interval))
            .chain(self.session.as_ref().map(|s| s.interval))
            .chain(self.catalogue.iter().map(|l| l.interval))
    }

    /// The coarsest grid every lane's emission interval is a multiple of: the dataflow's
    /// timestamps advance on it.
    pub fn time_grid(&self) -> Millis {
        self.intervals().fold(0, operators::time::gcd).max(1)
    }

    /// The longest emission interval of any lane: every record has been counted in some
    /// emission at most this long after its event time, unless it arrived late.
    pub fn longest_interval(&self) -> Millis {
        self.intervals().max().unwrap_or(1)
    }
}

fn lane<'s, A: Aggregate<Spec = ()>>(
    records: StreamVec<'s, u64, Keyed<A::Entry>>,
    control: &StreamVec<'s, u64, Control>,
    settings: &Option<LaneSettings>,
    features: &[&str],
    grace: Millis,
    name: &str,
    shared: &Shared,
) -> Option<StreamVec<'s, u64, FeatureWrite>> {
    let settings = settings.as_ref()?;
    let config = RollingConfig {
        prefix: "user".to_string(),
        features: features.iter().map(|f| f.to_string()).collect(),
        windows: settings.windows.clone(),
        interval: settings.interval,
        grace,
    };
    Some(rolling::<A>(
        records,
        control.clone(),
        config,
        (),
        name,
        shared.clone(),
    ))
}

/// Builds the feature dataflow over the lane streams and returns every feature write. The window
/// operators restore their state from and save it to `shared`, and write every value again on
/// its republish requests.
pub fn build<'s>(
    scope: Scope<'s, u64>,
    lanes: LaneStreams<'s>,
    settings: &JobSettings,
    shared: &Shared,
) -> StreamVec<'s, u64, FeatureWrite> {
    let grace = settings.expiry_grace;
    let ends = lanes.control;
    let mut outputs = Vec::new();
    outputs.extend(lane::<product::ProductAggregate>(
        lanes.product,
        &ends,
        &settings.product,
        &product::FEATURES,
        grace,
        "ProductLane",
        shared,
    ));
    outputs.extend(lane::<category::CategoryAggregate>(
        lanes.category,
        &ends,
        &settings.category,
        &category::FEATURES,
        grace,
        "CategoryLane",
        shared,
    ));
    outputs.extend(lane::<cart::CartAggregate>(
        lanes.cart,
        &ends,
        &settings.cart,
        &cart::FEATURES,
        grace,
        "CartLane",
        shared,
    ));
    outputs.extend(lane::<purchase::PurchaseAggregate>(
        lanes.purchase,
        &ends,
        &settings.purchase,
        &purchase::FEATURES,
        grace,
        "PurchaseLane",
        shared,
    ));
    if let Some(s) = &settings.session {
        let config = SessionConfig {
            prefix: "session".to_string(),
            features: session::FEATURES.iter().map(|f| f.to_string()).collect(),
            gap: s.gap,
            interval: s.interval,
            retention: s.retention,
        };
        outputs.push(sessions::<session::Session>(
            lanes.session,
            ends.clone(),
            config,
            session::Session,
            "SessionLane",
            shared.clone(),
        ));
    }
    for (lane, records) in settings.catalogue.iter().zip(lanes.catalogue) {
        outputs.push(catalogue_lane(lane, records, &ends, grace, shared));
    }
    scope.concatenate(outputs)
}

/// The operator of one catalogue lane.
fn catalogue_lane<'s>(
    lane: &CatalogueLane,
    records: StreamVec<'s, u64, Keyed<crate::catalogue::Record>>,
    control: &StreamVec<'s, u64, Control>,
    grace: Millis,
    shared: &Shared,
) -> StreamVec<'s, u64, FeatureWrite> {
    let features = written_names(&lane.lane);
    match lane.lane.key {
        crate::catalogue::LaneKey::User => {
            let config = RollingConfig {
                prefix: "user".to_string(),
                features,
                windows: lane.windows.clone(),
                interval: lane.interval,
                grace,
            };
            rolling::<LaneAggregate>(
                records,
                control.clone(),
                config,
                lane.lane.clone(),
                &lane.operator(),
                shared.clone(),
            )
        }
        crate::catalogue::LaneKey::Session => {
            let config = SessionConfig {
                prefix: "session".to_string(),
                features,
                gap: lane.gap,
                interval: lane.interval,
                retention: lane.retention,
            };
            sessions(
                records,
                control.clone(),
                config,
                LaneSessions::new(lane.lane.clone()),
                &lane.operator(),
                shared.clone(),
            )
        }
    }
}
