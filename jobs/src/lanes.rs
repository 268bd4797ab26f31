//! The lanes: each event is branched into the catalogue lanes it belongs to (SPEC section 2), as
//! a lane record keyed by user key (rolling lanes) or session key (session lanes).

use operators::checkpoint::Control;
use operators::{Keyed, Millis};
use timely::dataflow::{InputHandleVec, Scope, StreamVec};

use std::sync::Arc;

use crate::catalogue::{Lane, LaneKey, Record};
use crate::event::ShopperEvent;

/// The input of one lane's records.
type LaneInput = InputHandleVec<u64, Keyed<Record>>;

/// The dataflow inputs of one worker: one per lane, and the control input (the end of a bounded
/// input, checkpoints, stopping).
pub struct LaneInputs {
    lanes: Vec<(Arc<Lane>, LaneInput)>,
    control: InputHandleVec<u64, Control>,
}

/// The lane streams of one dataflow.
pub struct LaneStreams<'s> {
    /// The records of each lane, in the order of [`LaneInputs::new`]'s lanes.
    pub lanes: Vec<StreamVec<'s, u64, Keyed<Record>>>,
    /// Control messages: the largest event time of each source, sent once when a bounded input
    /// ends; checkpoint requests and completions; stopping.
    pub control: StreamVec<'s, u64, Control>,
}

impl LaneInputs {
    /// New inputs for `lanes`.
    pub fn new(lanes: &[Arc<Lane>]) -> LaneInputs {
        LaneInputs {
            lanes: lanes
                .iter()
                .map(|lane| (lane.clone(), InputHandleVec::new()))
                .collect(),
            control: InputHandleVec::new(),
        }
    }

    /// Creates the lane streams in `scope`.
    pub fn streams<'s>(&mut self, scope: Scope<'s, u64>) -> LaneStreams<'s> {
        LaneStreams {
            lanes: self
                .lanes
                .iter_mut()
                .map(|(_, input)| input.to_stream(scope))
                .collect(),
            control: self.control.to_stream(scope),
        }
    }

    /// Branches one event into its lanes.
    pub fn send(&mut self, event: &ShopperEvent) {
        for (lane, input) in &mut self.lanes {
            let Some(record) = lane.record(event) else {
                continue;
            };
            let key = match lane.key {
                LaneKey::User => event.user.as_str(),
                // A session lane takes only events with a session key.
                LaneKey::Session => event.session.as_deref().unwrap_or_default(),
            };
            input.send(Keyed {
                key: key.to_string(),
                time: event.time,
                id: event.event_id,
                entry: record,
            });
        }
    }

    /// The time new records are stamped with.
    pub fn time(&self) -> u64 {
        *self.control.time()
    }

    /// Moves every input to `time`: no record will be sent earlier.
    pub fn advance_to(&mut self, time: u64) {
        if time > self.time() {
            for (_, input) in &mut self.lanes {
                input.advance_to(time);
            }
            self.control.advance_to(time);
        }
    }

    /// Sends a control message to every operator and worker, at the current time, at once
    /// (not when the inputs next advance: a stopping job no longer advances them by itself).
    pub fn control(&mut self, message: Control) {
        self.control.send(message);
        self.control.flush();
    }

    /// Ends a bounded input: reports the largest event time this source saw and closes.
    pub fn finish(mut self, largest: Option<Millis>) {
        if let Some(largest) = largest {
            self.control.send(Control::End(largest));
        }
    }
}
