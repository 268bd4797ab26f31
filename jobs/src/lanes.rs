//! The lanes: each event is branched into the lanes it belongs to (SPEC section 2), as a lane
//! record keyed by user key (rolling lanes) or session key (session lane).

use operators::checkpoint::Control;
use operators::{Keyed, Millis};
use timely::dataflow::{InputHandleVec, Scope, StreamVec};

use std::sync::Arc;

use crate::catalogue::{Lane, LaneKey, Record};
use crate::event::ShopperEvent;
use crate::features::{cart, category, product, purchase, session};

/// The dataflow inputs of one worker: one per lane, and the control input (the end of a bounded
/// input, checkpoints, stopping).
pub struct LaneInputs {
    product: InputHandleVec<u64, Keyed<product::ProductView>>,
    category: InputHandleVec<u64, Keyed<category::CategoryView>>,
    cart: InputHandleVec<u64, Keyed<cart::CartChange>>,
    purchase: InputHandleVec<u64, Keyed<purchase::OrderPlaced>>,
    session: InputHandleVec<u64, Keyed<session::SessionEvent>>,
    control: InputHandleVec<u64, Control>,
    checkout_step: Option<u32>,
    /// The catalogue lanes the generic aggregations compute, each with its input.
    catalogue: Vec<(Arc<Lane>, CatalogueInput)>,
}

/// The input of one catalogue lane's records.
type CatalogueInput = InputHandleVec<u64, Keyed<Record>>;

/// The lane streams of one dataflow.
pub struct LaneStreams<'s> {
    /// Product views by user.
    pub product: StreamVec<'s, u64, Keyed<product::ProductView>>,
    /// Category views by user.
    pub category: StreamVec<'s, u64, Keyed<category::CategoryView>>,
    /// Cart changes by user.
    pub cart: StreamVec<'s, u64, Keyed<cart::CartChange>>,
    /// Orders by user.
    pub purchase: StreamVec<'s, u64, Keyed<purchase::OrderPlaced>>,
    /// Session events by session.
    pub session: StreamVec<'s, u64, Keyed<session::SessionEvent>>,
    /// Control messages: the largest event time of each source, sent once when a bounded input
    /// ends; checkpoint requests and completions; stopping.
    pub control: StreamVec<'s, u64, Control>,
    /// The records of each catalogue lane, in the order of [`LaneInputs::new`]'s lanes.
    pub catalogue: Vec<StreamVec<'s, u64, Keyed<Record>>>,
}

fn keyed<E>(key: &str, event: &ShopperEvent, entry: E) -> Keyed<E> {
    Keyed {
        key: key.to_string(),
        time: event.time,
        id: event.event_id,
        entry,
    }
}

impl LaneInputs {
    /// New inputs; `checkout_step` makes that checkout step count as an order; `catalogue`
    /// are the lanes the generic aggregations compute.
    pub fn new(checkout_step: Option<u32>, catalogue: &[Arc<Lane>]) -> LaneInputs {
        LaneInputs {
            product: InputHandleVec::new(),
            category: InputHandleVec::new(),
            cart: InputHandleVec::new(),
            purchase: InputHandleVec::new(),
            session: InputHandleVec::new(),
            control: InputHandleVec::new(),
            checkout_step,
            catalogue: catalogue
                .iter()
                .map(|lane| (lane.clone(), InputHandleVec::new()))
                .collect(),
        }
    }

    /// Creates the lane streams in `scope`.
    pub fn streams<'s>(&mut self, scope: Scope<'s, u64>) -> LaneStreams<'s> {
        LaneStreams {
            product: self.product.to_stream(scope),
            category: self.category.to_stream(scope),
            cart: self.cart.to_stream(scope),
            purchase: self.purchase.to_stream(scope),
            session: self.session.to_stream(scope),
            control: self.control.to_stream(scope),
            catalogue: self
                .catalogue
                .iter_mut()
                .map(|(_, input)| input.to_stream(scope))
                .collect(),
        }
    }

    /// Branches one event into its lanes.
    pub fn send(&mut self, event: &ShopperEvent) {
        let user = event.user.as_str();
        if let Some(entry) = product::entry(event) {
            self.product.send(keyed(user, event, entry));
        }
        if let Some(entry) = category::entry(event) {
            self.category.send(keyed(user, event, entry));
        }
        if let Some(entry) = cart::entry(event) {
            self.cart.send(keyed(user, event, entry));
        }
        if let Some(entry) = purchase::entry(event, self.checkout_step) {
            self.purchase.send(keyed(user, event, entry));
        }
        if let (Some(key), Some(entry)) = (event.session.as_deref(), session::entry(event)) {
            self.session.send(keyed(key, event, entry));
        }
        for (lane, input) in &mut self.catalogue {
            let Some(record) = lane.record(event) else {
                continue;
            };
            let key = match lane.key {
                LaneKey::User => user,
                // A session lane takes only events with a session key.
                LaneKey::Session => event.session.as_deref().unwrap_or_default(),
            };
            input.send(keyed(key, event, record));
        }
    }

    /// The time new records are stamped with.
    pub fn time(&self) -> u64 {
        *self.control.time()
    }

    /// Moves every input to `time`: no record will be sent earlier.
    pub fn advance_to(&mut self, time: u64) {
        if time > self.time() {
            self.product.advance_to(time);
            self.category.advance_to(time);
            self.cart.advance_to(time);
            self.purchase.advance_to(time);
            self.session.advance_to(time);
            self.control.advance_to(time);
            for (_, input) in &mut self.catalogue {
                input.advance_to(time);
            }
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
