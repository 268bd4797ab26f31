//! A plain, brute-force implementation of SPEC sections 2 and 3, for the tests: every feature is
//! recomputed from scratch from the events it covers, at every emission time where anything
//! could have changed. No incremental state, no dataflow.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use jobs::catalogue::format;
use jobs::event::{EventKind, Price, ShopperEvent};

/// Windows and timing of a run, as configured.
#[derive(Clone, Debug)]
pub struct Settings {
    pub product: Vec<(String, u64)>,
    pub category: Vec<(String, u64)>,
    pub cart: Vec<(String, u64)>,
    pub purchase: Vec<(String, u64)>,
    pub interval: u64,
    pub gap: u64,
    pub lateness: u64,
}

/// An event and the first emission that counts it.
#[derive(Clone, Debug)]
pub struct Arrived {
    pub event: ShopperEvent,
    pub effective: u64,
}

fn ceil_to(t: u64, grid: u64) -> u64 {
    t.div_ceil(grid) * grid
}

/// Effective emission times for events read one record at a time by one worker: each record
/// enters at the watermark left by the records before it.
pub fn arrive(events: Vec<ShopperEvent>, settings: &Settings) -> Vec<Arrived> {
    let mut largest: Option<u64> = None;
    let mut watermark = 0u64;
    events
        .into_iter()
        .map(|event| {
            let entered = if largest.is_some() {
                watermark - watermark % settings.interval + 1
            } else {
                0
            };
            let effective = ceil_to(event.time.max(entered), settings.interval);
            largest = Some(largest.map_or(event.time, |l| l.max(event.time)));
            watermark = watermark.max(largest.unwrap_or(0).saturating_sub(settings.lateness));
            Arrived { event, effective }
        })
        .collect()
}

/// Feature values by store key.
pub type Values = BTreeMap<String, String>;

pub fn product_features(user: &str, window: &str, events: &[&ShopperEvent]) -> Values {
    let mut out = Values::new();
    if events.is_empty() {
        return out;
    }
    let mut sorted: Vec<&ShopperEvent> = events.to_vec();
    sorted.sort_by_key(|e| (e.time, e.event_id));
    let mut first_price: BTreeMap<&str, Option<Price>> = BTreeMap::new();
    let mut views: BTreeMap<&str, u64> = BTreeMap::new();
    let mut prices = Vec::new();
    for e in &sorted {
        let p = &e.products[0];
        first_price.entry(p.id.as_str()).or_insert(p.price);
        *views.entry(p.id.as_str()).or_default() += 1;
        prices.extend(p.price);
    }
    let k = |f: &str| format!("user:{user}:{f}_{window}");
    out.insert(k("product_view_count"), views.len().to_string());
    out.insert(k("product_views"), sorted.len().to_string());
    let firsts: Vec<Price> = first_price.values().flatten().copied().collect();
    if !firsts.is_empty() {
        let sum: i128 = firsts.iter().map(|p| p.0 as i128).sum();
        out.insert(
            k("avg_viewed_price"),
            format::mean_price(sum, firsts.len() as u64),
        );
    }
    if let (Some(min), Some(max)) = (prices.iter().min(), prices.iter().max()) {
        out.insert(
            k("price_range_viewed"),
            format!("{}-{}", format::price(*min), format::price(*max)),
        );
    }
    out.insert(
        k("return_view_count"),
        views.values().filter(|&&n| n >= 2).count().to_string(),
    );
    out
}

pub fn category_of(e: &ShopperEvent) -> Option<&str> {
    match e.kind {
        EventKind::ProductView => e.products.first()?.category.as_deref(),
        EventKind::ListView => e.list_name.as_deref(),
        _ => None,
    }
}

pub fn category_features(user: &str, window: &str, events: &[&ShopperEvent]) -> Values {
    let mut out = Values::new();
    if events.is_empty() {
        return out;
    }
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for e in events {
        *counts
            .entry(category_of(e).unwrap_or_default())
            .or_default() += 1;
    }
    let best = counts.values().max().copied().unwrap_or(0);
    let top = counts
        .iter()
        .find(|(_, &n)| n == best)
        .map(|(c, _)| c.to_string());
    let k = |f: &str| format!("user:{user}:{f}_{window}");
    if let Some(top) = top {
        out.insert(k("top_category"), top);
    }
    out.insert(k("unique_categories"), counts.len().to_string());
    out.insert(k("category_view_count"), events.len().to_string());
    out
}

pub fn cart_features(user: &str, window: &str, events: &[&ShopperEvent]) -> Values {
    let mut out = Values::new();
    if events.is_empty() {
        return out;
    }
    let adds = events
        .iter()
        .filter(|e| e.kind == EventKind::AddToCart)
        .count();
    let removes = events.len() - adds;
    let latest = events
        .iter()
        .filter(|e| e.cart_total.is_some())
        .max_by_key(|e| (e.time, e.event_id))
        .and_then(|e| e.cart_total);
    let k = |f: &str| format!("user:{user}:{f}_{window}");
    out.insert(k("cart_add_count"), adds.to_string());
    out.insert(k("cart_remove_count"), removes.to_string());
    out.insert(k("cart_update_frequency"), events.len().to_string());
    if let Some(total) = latest {
        out.insert(k("cart_value"), format::price(total));
    }
    out
}

pub fn purchase_features(user: &str, window: &str, events: &[&ShopperEvent]) -> Values {
    let mut out = Values::new();
    if events.is_empty() {
        return out;
    }
    let sum: i128 = events
        .iter()
        .map(|e| e.revenue.unwrap_or_default().0 as i128)
        .sum();
    let k = |f: &str| format!("user:{user}:{f}_{window}");
    out.insert(k("orders_count"), events.len().to_string());
    out.insert(k("order_value"), format::mean_price(sum, 1));
    out.insert(
        k("avg_order_value"),
        format::mean_price(sum, events.len() as u64),
    );
    out
}

pub fn is_session_event(e: &ShopperEvent) -> bool {
    matches!(
        e.kind,
        EventKind::PageView
            | EventKind::ProductView
            | EventKind::ListView
            | EventKind::AddToCart
            | EventKind::RemoveFromCart
            | EventKind::CheckoutStep
            | EventKind::Transaction
    )
}

pub fn session_features(sid: &str, run: &[&ShopperEvent]) -> Values {
    let mut out = Values::new();
    let k = |f: &str| format!("session:{sid}:{f}");
    let first = run[0];
    let last = run[run.len() - 1];
    let pages = run.iter().filter(|e| e.kind == EventKind::PageView).count();
    let views = run
        .iter()
        .filter(|e| e.kind == EventKind::ProductView)
        .count();
    let adds = run
        .iter()
        .filter(|e| e.kind == EventKind::AddToCart)
        .count();
    let searches = run
        .iter()
        .filter(|e| e.kind == EventKind::PageView && e.is_search)
        .count();
    out.insert(k("session_duration"), (last.time - first.time).to_string());
    out.insert(k("session_page_count"), pages.to_string());
    out.insert(k("session_bounce"), (pages < 2).to_string());
    if let Some(c) = run.iter().find_map(|e| e.campaign.clone()) {
        out.insert(k("session_marketing_campaign"), c);
    }
    let ratio = if views == 0 {
        "0".to_string()
    } else {
        format::decimal_ratio(adds as i128, views as i128)
    };
    out.insert(k("session_cart_ratio"), ratio);
    out.insert(k("session_search_count"), searches.to_string());
    out.insert(k("session_user"), last.user.clone());
    let devices: BTreeSet<&str> = run
        .iter()
        .filter_map(|e| e.device_class.as_deref())
        .collect();
    out.insert(k("shopper_device_types"), format::string_list(devices));
    if let Some(p) = &last.platform {
        out.insert(k("shopper_latest_platform"), p.clone());
    }
    let locations: Vec<String> = run
        .iter()
        .filter_map(|e| {
            e.country
                .as_ref()
                .map(|c| format!("{c}/{}", e.region.as_deref().unwrap_or("")))
        })
        .collect();
    out.insert(
        k("shopper_locations"),
        format::string_list(locations.iter().map(String::as_str)),
    );
    let changes = locations.windows(2).filter(|w| w[0] != w[1]).count();
    out.insert(k("shopper_region_changes"), changes.to_string());
    out
}

/// Net changes of the feature store: (emission time, key) -> new value (`None`: deleted).
pub type Changes = BTreeMap<(u64, String), Option<String>>;

fn diff(time: u64, before: &Values, after: &Values, changes: &mut Changes) {
    for (key, value) in after {
        if before.get(key) != Some(value) {
            changes.insert((time, key.clone()), Some(value.clone()));
        }
    }
    for key in before.keys() {
        if !after.contains_key(key) {
            changes.insert((time, key.clone()), None);
        }
    }
}

type RollingFeatures = fn(&str, &str, &[&ShopperEvent]) -> Values;

/// A rolling lane: its windows, which events it takes, its features.
type Lane<'a> = (
    &'a Vec<(String, u64)>,
    fn(&ShopperEvent) -> bool,
    RollingFeatures,
);

/// Every change the job must make, up to and including `last_emission`.
pub fn expected_changes(arrived: &[Arrived], settings: &Settings, last_emission: u64) -> Changes {
    let mut changes = Changes::new();
    let unique = unique(arrived);
    let lanes: [Lane; 4] = [
        (
            &settings.product,
            |e| e.kind == EventKind::ProductView && !e.products.is_empty(),
            product_features,
        ),
        (
            &settings.category,
            |e| category_of(e).is_some(),
            category_features,
        ),
        (
            &settings.cart,
            |e| matches!(e.kind, EventKind::AddToCart | EventKind::RemoveFromCart),
            cart_features,
        ),
        (
            &settings.purchase,
            |e| e.kind == EventKind::Transaction,
            purchase_features,
        ),
    ];
    for (windows, member, features) in lanes {
        rolling_changes(
            &unique,
            &member,
            windows,
            &features,
            settings,
            last_emission,
            &mut changes,
        );
    }
    let member = |e: &ShopperEvent| is_session_event(e) && e.session.is_some();
    session_changes(
        &unique,
        &member,
        &session_features,
        settings,
        last_emission,
        &mut changes,
    );
    changes
}

/// The arrivals without duplicates of an event (same key, time and id): the first counts.
pub fn unique(arrived: &[Arrived]) -> Vec<&Arrived> {
    let mut seen = BTreeSet::new();
    arrived
        .iter()
        .filter(|a| {
            seen.insert((
                a.event.user.clone(),
                a.event.session.clone(),
                a.event.time,
                a.event.event_id,
            ))
        })
        .collect()
}

/// The changes of one rolling lane (the events `member` takes, per user, in each of `windows`)
/// whose values `features(user, window, events in the window)` gives, at every emission where
/// one can change.
pub fn rolling_changes(
    unique: &[&Arrived],
    member: &dyn Fn(&ShopperEvent) -> bool,
    windows: &[(String, u64)],
    features: &dyn Fn(&str, &str, &[&ShopperEvent]) -> Values,
    settings: &Settings,
    last_emission: u64,
    changes: &mut Changes,
) {
    let mut by_user: BTreeMap<&str, Vec<&Arrived>> = BTreeMap::new();
    for a in unique.iter().filter(|a| member(&a.event)) {
        by_user.entry(a.event.user.as_str()).or_default().push(a);
    }
    for (user, events) in by_user {
        for (window, length) in windows {
            let mut times = BTreeSet::new();
            for a in &events {
                times.insert(a.effective);
                times.insert(ceil_to(a.event.time + length, settings.interval));
            }
            let mut before = Values::new();
            for &t in times.iter().filter(|&&t| t <= last_emission) {
                let inside: Vec<&ShopperEvent> = events
                    .iter()
                    .filter(|a| a.effective <= t && a.event.time + length > t && a.event.time <= t)
                    .map(|a| &a.event)
                    .collect();
                let after = features(user, window, &inside);
                diff(t, &before, &after, changes);
                before = after;
            }
        }
    }
}

/// The changes of one session lane (the events `member` takes, per session key, in sessions
/// of `settings.gap`) whose values `features(session key, a session's events)` gives, at every
/// emission where one can change; late events dropped as SPEC section 2 says.
pub fn session_changes(
    unique: &[&Arrived],
    member: &dyn Fn(&ShopperEvent) -> bool,
    features: &dyn Fn(&str, &[&ShopperEvent]) -> Values,
    settings: &Settings,
    last_emission: u64,
    changes: &mut Changes,
) {
    let mut by_session: BTreeMap<&str, Vec<&Arrived>> = BTreeMap::new();
    for a in unique.iter().filter(|a| member(&a.event)) {
        if let Some(sid) = a.event.session.as_deref() {
            by_session.entry(sid).or_default().push(a);
        }
    }
    for (sid, mut events) in by_session {
        let late = late_for_session(&events, settings);
        events.retain(|a| !late.contains(&(a.event.time, a.event.event_id)));
        let mut times = BTreeSet::new();
        for a in &events {
            times.insert(a.effective);
            times.insert(ceil_to(a.event.time + settings.gap + 1, settings.interval));
        }
        let mut before = Values::new();
        for &t in times.iter().filter(|&&t| t <= last_emission) {
            let mut known: Vec<&ShopperEvent> = events
                .iter()
                .filter(|a| a.effective <= t)
                .map(|a| &a.event)
                .collect();
            known.sort_by_key(|e| (e.time, e.event_id));
            // Runs of the session key; later runs overwrite the keys earlier runs wrote.
            let mut after = Values::new();
            let mut start = 0;
            for i in 1..=known.len() {
                if i == known.len() || known[i].time > known[i - 1].time + settings.gap {
                    if start < i {
                        after.extend(features(sid, &known[start..i]));
                    }
                    start = i;
                }
            }
            diff(t, &before, &after, changes);
            before = after;
        }
    }
}

/// The events of one session key that come too late (SPEC section 2): a session that has
/// closed is never reopened, so an event within the gap of a closed session is late, and so is
/// one whose own session would already have closed when it arrives, unless it joins a session
/// still open. What a key closed is remembered until, with no session open, the watermark has
/// passed its last event by twice the gap (from then on such an event is late anyway, unless it
/// joins a session opened since). Simulated emission by emission, in arrival order.
fn late_for_session(events: &[&Arrived], settings: &Settings) -> BTreeSet<(u64, u128)> {
    let (gap, interval) = (settings.gap, settings.interval);
    let mut arrivals = events.to_vec();
    arrivals.sort_by_key(|a| a.effective);
    let mut open: BTreeSet<(u64, u128)> = BTreeSet::new();
    let mut closed_last: Option<u64> = None;
    let mut forget_at: Option<u64> = None;
    let mut late = BTreeSet::new();
    for a in arrivals {
        let now = a.effective;
        // What happened at the emissions before this one: sessions closing, oldest first, and
        // the key forgetting what it closed.
        loop {
            let closing = first_session_end(&open, gap)
                .map(|last| (ceil_to(last + gap + 1, interval), last))
                .filter(|&(at, _)| at < now);
            let forgetting = forget_at.filter(|&at| at < now);
            match (closing, forgetting) {
                (Some((at, last)), f) if f.is_none_or(|f| at <= f) => {
                    open.retain(|&(t, _)| t > last);
                    closed_last = Some(closed_last.map_or(last, |c| c.max(last)));
                    if open.is_empty() {
                        forget_at = closed_last.map(|c| ceil_to(c + 2 * gap + 1, interval));
                    }
                }
                (_, Some(_)) => {
                    forget_at = None;
                    if open.is_empty() {
                        closed_last = None;
                    }
                }
                _ => break,
            }
        }
        let t = a.event.time;
        let joins_open = open.iter().any(|&(r, _)| r.abs_diff(t) <= gap);
        let near_closed = closed_last.is_some_and(|c| t <= c + gap);
        if near_closed || (t + gap < now && !joins_open) {
            late.insert((t, a.event.event_id));
        } else {
            open.insert((t, a.event.event_id));
        }
    }
    late
}

/// The time of the last event of the first session among `open`.
fn first_session_end(open: &BTreeSet<(u64, u128)>, gap: u64) -> Option<u64> {
    let mut times = open.iter().map(|&(t, _)| t);
    let mut last = times.next()?;
    for t in times {
        if t > last + gap {
            break;
        }
        last = t;
    }
    Some(last)
}

/// One line of the job's file output.
#[derive(serde::Deserialize, Debug)]
pub struct Line {
    pub time: u64,
    pub key: String,
    pub value: Option<String>,
}

/// The net changes of the job's file output: writes that change nothing are dropped, and
/// several writes of one key at one time count as their last.
pub fn actual_changes(output: &str) -> Changes {
    let mut state: BTreeMap<String, String> = BTreeMap::new();
    let mut at_time: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut changes = Changes::new();
    let mut current = None;
    let flush = |time: Option<u64>,
                 at_time: &mut BTreeMap<String, Option<String>>,
                 state: &mut BTreeMap<String, String>,
                 changes: &mut Changes| {
        if let Some(time) = time {
            for (key, value) in std::mem::take(at_time) {
                let before = state.get(&key).cloned();
                if before != value {
                    changes.insert((time, key.clone()), value.clone());
                }
                match value {
                    Some(v) => state.insert(key, v),
                    None => state.remove(&key),
                };
            }
        }
    };
    for line in output.lines() {
        let line: Line =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad output line {line}: {e}"));
        if current != Some(line.time) {
            flush(current, &mut at_time, &mut state, &mut changes);
            current = Some(line.time);
        }
        at_time.insert(line.key, line.value);
    }
    flush(current, &mut at_time, &mut state, &mut changes);
    changes
}

/// The final store contents after applying `changes`.
pub fn final_state(changes: &Changes) -> BTreeMap<String, String> {
    let mut state = BTreeMap::new();
    for ((_, key), value) in changes {
        match value {
            Some(v) => state.insert(key.clone(), v.clone()),
            None => state.remove(key),
        };
    }
    state
}
