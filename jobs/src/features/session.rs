//! Session lane: per visit (session key), from the session's events in order.

use operators::changes::Rendered;
use operators::session::SessionFeatures;
use operators::symbols::{Sym, Symbols};
use operators::Order;
use serde::{Deserialize, Serialize};

use super::format;
use crate::event::{EventKind, ShopperEvent};

/// Feature names, in render order.
pub const FEATURES: [&str; 11] = [
    "session_duration",
    "session_page_count",
    "session_bounce",
    "session_marketing_campaign",
    "session_cart_ratio",
    "session_search_count",
    "session_user",
    "shopper_device_types",
    "shopper_latest_platform",
    "shopper_locations",
    "shopper_region_changes",
];

/// What the session features need of one event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEvent {
    /// Event type, reduced to what the features distinguish.
    pub kind: SessionKind,
    /// A page view of a search page.
    pub search: bool,
    /// User key of the event.
    pub user: String,
    /// `mkt_campaign`.
    pub campaign: Option<String>,
    /// Device class.
    pub device: Option<String>,
    /// `platform`.
    pub platform: Option<String>,
    /// `<country>/<region>`, when the event has a country.
    pub location: Option<String>,
}

/// The event types the session features count; the rest only extend the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SessionKind {
    /// `page_view`.
    PageView,
    /// `product_view`.
    ProductView,
    /// `add_to_cart`.
    AddToCart,
    /// Any other event of the session lane.
    Other,
}

/// The lane record of an event, if it belongs to the session lane.
pub fn entry(event: &ShopperEvent) -> Option<SessionEvent> {
    event.session.as_ref()?;
    let kind = match event.kind {
        EventKind::PageView => SessionKind::PageView,
        EventKind::ProductView => SessionKind::ProductView,
        EventKind::AddToCart => SessionKind::AddToCart,
        EventKind::ListView
        | EventKind::RemoveFromCart
        | EventKind::CheckoutStep
        | EventKind::Transaction => SessionKind::Other,
        _ => return None,
    };
    Some(SessionEvent {
        kind,
        search: kind == SessionKind::PageView && event.is_search,
        user: event.user.clone(),
        campaign: event.campaign.clone(),
        device: event.device_class.clone(),
        platform: event.platform.clone(),
        location: event
            .country
            .as_ref()
            .map(|country| format!("{country}/{}", event.region.as_deref().unwrap_or(""))),
    })
}

/// A session event as the session holds it.
pub struct StoredEvent {
    kind: SessionKind,
    search: bool,
    user: Sym,
    campaign: Option<Sym>,
    device: Option<Sym>,
    platform: Option<Sym>,
    location: Option<Sym>,
}

/// Computes the session features by folding the session's events in order.
#[derive(Default)]
pub struct Session;

/// The fold of a session's events so far; its symbols are those of the folded events.
#[derive(Default)]
pub struct SessionState {
    first: Option<Millis>,
    last: Millis,
    pages: u64,
    views: u64,
    adds: u64,
    searches: u64,
    campaign: Option<Sym>,
    user: Option<Sym>,
    platform: Option<Sym>,
    /// Distinct, in order of appearance.
    devices: Vec<Sym>,
    /// Distinct, in order of appearance.
    locations: Vec<Sym>,
    previous_location: Option<Sym>,
    region_changes: u64,
}

fn insert_distinct(set: &mut Vec<Sym>, item: Sym) {
    if !set.contains(&item) {
        set.push(item);
    }
}

fn write_set(out: &mut String, set: &[Sym], symbols: &Symbols) {
    let mut texts: Vec<&str> = set.iter().map(|&sym| symbols.text(sym)).collect();
    texts.sort_unstable();
    format::write_sorted_list(out, texts);
}

impl SessionFeatures for Session {
    type Entry = SessionEvent;
    type Stored = StoredEvent;
    type State = SessionState;

    fn store(event: SessionEvent, symbols: &mut Symbols) -> StoredEvent {
        StoredEvent {
            kind: event.kind,
            search: event.search,
            user: symbols.intern(&event.user),
            campaign: symbols.intern_opt(event.campaign.as_deref()),
            device: symbols.intern_opt(event.device.as_deref()),
            platform: symbols.intern_opt(event.platform.as_deref()),
            location: symbols.intern_opt(event.location.as_deref()),
        }
    }

    fn release(event: &StoredEvent, symbols: &mut Symbols) {
        symbols.release(event.user);
        symbols.release_opt(event.campaign);
        symbols.release_opt(event.device);
        symbols.release_opt(event.platform);
        symbols.release_opt(event.location);
    }

    fn add(&self, state: &mut SessionState, (time, _): Order, event: &StoredEvent) {
        state.first.get_or_insert(time);
        state.last = time;
        match event.kind {
            SessionKind::PageView => state.pages += 1,
            SessionKind::ProductView => state.views += 1,
            SessionKind::AddToCart => state.adds += 1,
            SessionKind::Other => {}
        }
        state.searches += event.search as u64;
        if state.campaign.is_none() {
            state.campaign = event.campaign;
        }
        state.user = Some(event.user);
        state.platform = event.platform;
        if let Some(device) = event.device {
            insert_distinct(&mut state.devices, device);
        }
        if let Some(location) = event.location {
            if state.previous_location != Some(location) {
                if state.previous_location.is_some() {
                    state.region_changes += 1;
                }
                state.previous_location = Some(location);
            }
            insert_distinct(&mut state.locations, location);
        }
    }

    fn render(&self, state: &SessionState, symbols: &Symbols, values: &mut Rendered) {
        let Some(first) = state.first else { return };
        let text = |sym: Option<Sym>| sym.map(|sym| symbols.text(sym));
        values.set(0, state.last - first);
        values.set(1, state.pages);
        values.set(2, state.pages < 2);
        values.set_str(3, text(state.campaign));
        format::write_ratio(values.slot(4), state.adds as i128, state.views as i128);
        values.set(5, state.searches);
        values.set_str(6, text(state.user));
        write_set(values.slot(7), &state.devices, symbols);
        values.set_str(8, text(state.platform));
        write_set(values.slot(9), &state.locations, symbols);
        values.set(10, state.region_changes);
    }
}

type Millis = operators::Millis;
