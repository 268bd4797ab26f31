//! Session lane: per visit (session key), from the session's events in order.

use operators::session::SessionFeatures;
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
        location: event.country.as_ref().map(|country| {
            format!("{country}/{}", event.region.as_deref().unwrap_or(""))
        }),
    })
}

/// Computes the session features by one pass over the session's events.
#[derive(Default)]
pub struct Session;

impl SessionFeatures for Session {
    type Entry = SessionEvent;

    fn render<'a>(
        &self,
        records: &mut dyn Iterator<Item = (&'a Order, &'a SessionEvent)>,
        values: &mut [Option<String>],
    ) {
        let mut first_time = None;
        let mut last: Option<(Millis, &SessionEvent)> = None;
        let (mut pages, mut views, mut adds, mut searches, mut region_changes) = (0u64, 0u64, 0u64, 0u64, 0u64);
        let mut campaign: Option<&str> = None;
        let mut devices: Vec<&str> = Vec::new();
        let mut locations: Vec<&str> = Vec::new();
        let mut previous_location: Option<&str> = None;
        for (&(time, _), event) in records {
            first_time.get_or_insert(time);
            last = Some((time, event));
            match event.kind {
                SessionKind::PageView => pages += 1,
                SessionKind::ProductView => views += 1,
                SessionKind::AddToCart => adds += 1,
                SessionKind::Other => {}
            }
            searches += event.search as u64;
            if campaign.is_none() {
                campaign = event.campaign.as_deref();
            }
            if let Some(device) = event.device.as_deref() {
                devices.push(device);
            }
            if let Some(location) = event.location.as_deref() {
                if previous_location.is_some_and(|p| p != location) {
                    region_changes += 1;
                }
                previous_location = Some(location);
                locations.push(location);
            }
        }
        let (Some(first), Some((last_time, latest))) = (first_time, last) else { return };
        values[0] = Some((last_time - first).to_string());
        values[1] = Some(pages.to_string());
        values[2] = Some((pages < 2).to_string());
        values[3] = campaign.map(str::to_string);
        values[4] = Some(format::decimal_ratio(adds as i128, views as i128));
        values[5] = Some(searches.to_string());
        values[6] = Some(latest.user.clone());
        values[7] = Some(format::string_list(devices));
        values[8] = latest.platform.clone();
        values[9] = Some(format::string_list(locations));
        values[10] = Some(region_changes.to_string());
    }
}

type Millis = operators::Millis;
