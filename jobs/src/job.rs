//! The shopper job's dataflow: lane streams in, feature writes out.

use operators::checkpoint::Control;
use operators::driver::Shared;
use operators::rolling::{rolling, RollingConfig, WindowSpec};
use operators::session::{sessions, SessionConfig};
use operators::{FeatureWrite, Keyed, Millis};
use timely::dataflow::operators::Concatenate;
use timely::dataflow::{Scope, StreamVec};

use std::sync::Arc;

use crate::catalogue::runtime::{rolling_plan, written_names, LaneAggregate, LaneSessions};
use crate::catalogue::{kept_fields, Lane};
use crate::fields::EntityFields;
use crate::lanes::LaneStreams;

/// A lane of the feature catalogue as the job computes it, with its settings.
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

/// What the job computes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSettings {
    /// Store expiry of rolling features beyond their window length.
    pub expiry_grace: Millis,
    /// The lanes, in the catalogue's order.
    pub lanes: Vec<CatalogueLane>,
    /// The entity fields the lanes read beyond the named properties: the parser keeps them.
    pub fields: EntityFields,
}

impl JobSettings {
    /// The settings of a job computing `lanes`, whose entity fields the parser is to keep.
    pub fn new(expiry_grace: Millis, mut lanes: Vec<CatalogueLane>) -> JobSettings {
        let fields = kept_fields(lanes.iter_mut().map(|l| Arc::make_mut(&mut l.lane)));
        JobSettings {
            expiry_grace,
            lanes,
            fields,
        }
    }

    /// The lane called `name`, if it is computed.
    pub fn lane(&self, name: &str) -> Option<&CatalogueLane> {
        self.lanes.iter().find(|lane| lane.lane.name == name)
    }

    /// The coarsest grid every lane's emission interval is a multiple of: the dataflow's
    /// timestamps advance on it.
    pub fn time_grid(&self) -> Millis {
        self.lanes
            .iter()
            .map(|l| l.interval)
            .fold(0, operators::time::gcd)
            .max(1)
    }

    /// The longest emission interval of any lane: every record has been counted in some
    /// emission at most this long after its event time, unless it arrived late.
    pub fn longest_interval(&self) -> Millis {
        self.lanes.iter().map(|l| l.interval).max().unwrap_or(1)
    }
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
    let control = lanes.control;
    let outputs: Vec<_> = settings
        .lanes
        .iter()
        .zip(lanes.lanes)
        .map(|(lane, records)| {
            lane_operator(lane, records, &control, settings.expiry_grace, shared)
        })
        .collect();
    scope.concatenate(outputs)
}

/// The window operator of one lane.
fn lane_operator<'s>(
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
                rolling_plan(lane.lane.clone()),
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
