//! Session lane: per visit (session key), from the session's events, which may arrive in any
//! order.

use operators::changes::Rendered;
use operators::session::{OrderMap, SessionFeatures};
use operators::symbols::{Sym, SymMap, Symbols};
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

/// Computes the session features of a session's events, taken in any order.
#[derive(Default)]
pub struct Session;

/// The latest event of a session (by order): its user and platform.
struct Latest {
    order: Order,
    user: Sym,
    platform: Option<Sym>,
}

/// What the session features need of a session's events, inserted in any order. It holds one
/// symbol reference per distinct device and location and one for each of the campaign, user and
/// platform, given back by [`SessionFeatures::release`].
#[derive(Default)]
pub struct SessionState {
    events: u64,
    first: Millis,
    last: Millis,
    pages: u64,
    views: u64,
    adds: u64,
    searches: u64,
    /// The earliest event that has a campaign, and its campaign.
    campaign: Option<(Order, Sym)>,
    latest: Option<Latest>,
    devices: Distinct,
    locations: Distinct,
    /// The location of every event that has one, in order: the neighbours of a late event here
    /// are what its location changes in the region changes.
    located: OrderMap<Sym>,
    region_changes: u64,
}

/// A [`SessionState`] in a checkpoint: its strings as text.
#[derive(Serialize, Deserialize)]
pub struct SavedSession {
    events: u64,
    first: Millis,
    last: Millis,
    pages: u64,
    views: u64,
    adds: u64,
    searches: u64,
    campaign: Option<(Order, String)>,
    latest: Option<(Order, String, Option<String>)>,
    devices: Vec<String>,
    locations: Vec<String>,
    located: Vec<(Order, String)>,
    region_changes: u64,
}

/// The texts of a set's members.
fn texts(set: &Distinct, symbols: &Symbols) -> Vec<String> {
    set.iter()
        .map(|sym| symbols.text(sym).to_string())
        .collect()
}

/// A set of `texts`, holding one reference to each.
fn distinct_of(texts: Vec<String>, symbols: &mut Symbols) -> Distinct {
    let mut set = Distinct::default();
    for text in texts {
        insert_distinct(&mut set, &text, symbols);
    }
    set
}

/// 1 when both locations are known and differ: one region change between them.
fn change(a: Option<Sym>, b: Option<Sym>) -> u64 {
    matches!((a, b), (Some(a), Some(b)) if a != b) as u64
}

/// Distinct symbols, holding one reference each: a short list while a session has seen a few
/// devices or locations, a hash set beyond.
enum Distinct {
    Few(Vec<Sym>),
    Many(SymMap<()>),
}

/// Members beyond which a [`Distinct`] becomes a hash set.
const FEW: usize = 16;

impl Default for Distinct {
    fn default() -> Self {
        Distinct::Few(Vec::new())
    }
}

impl Distinct {
    /// Adds `sym`, whose reference the set takes; false (the reference not taken) when it is
    /// already a member.
    fn insert(&mut self, sym: Sym) -> bool {
        match self {
            Distinct::Few(list) => {
                if list.contains(&sym) {
                    return false;
                }
                list.push(sym);
                if list.len() > FEW {
                    *self = Distinct::Many(list.drain(..).map(|sym| (sym, ())).collect());
                }
                true
            }
            Distinct::Many(set) => set.insert(sym, ()).is_none(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Distinct::Few(list) => list.len(),
            Distinct::Many(set) => set.len(),
        }
    }

    fn iter(&self) -> impl Iterator<Item = Sym> + '_ {
        let (few, many) = match self {
            Distinct::Few(list) => (Some(list.iter()), None),
            Distinct::Many(set) => (None, Some(set.keys())),
        };
        few.into_iter()
            .flatten()
            .chain(many.into_iter().flatten())
            .copied()
    }

    fn into_vec(self) -> Vec<Sym> {
        match self {
            Distinct::Few(list) => list,
            Distinct::Many(set) => set.into_keys().collect(),
        }
    }
}

/// Adds `text` to a set of distinct symbols.
fn insert_distinct(set: &mut Distinct, text: &str, symbols: &mut Symbols) -> Sym {
    let sym = symbols.intern(text);
    if !set.insert(sym) {
        symbols.release(sym);
    }
    sym
}

/// Points `slot` at `text`, unless it already does.
fn replace(slot: &mut Sym, text: &str, symbols: &mut Symbols) {
    if symbols.text(*slot) != text {
        let old = std::mem::replace(slot, symbols.intern(text));
        symbols.release(old);
    }
}

/// [`replace`] for an optional string.
fn replace_opt(slot: &mut Option<Sym>, text: Option<&str>, symbols: &mut Symbols) {
    match (slot.as_mut(), text) {
        (Some(sym), Some(text)) => replace(sym, text, symbols),
        (None, None) => {}
        (_, text) => {
            let old = std::mem::replace(slot, symbols.intern_opt(text));
            symbols.release_opt(old);
        }
    }
}

/// Adds the members of `from` to `into`, dropping the references of those already there.
fn union(into: &mut Distinct, mut from: Distinct, symbols: &mut Symbols) {
    if into.len() < from.len() {
        std::mem::swap(into, &mut from);
    }
    for sym in from.into_vec() {
        if !into.insert(sym) {
            symbols.release(sym);
        }
    }
}

fn write_set(out: &mut String, set: &Distinct, symbols: &Symbols) {
    let mut texts: Vec<&str> = set.iter().map(|sym| symbols.text(sym)).collect();
    texts.sort_unstable();
    format::write_sorted_list(out, texts);
}

impl SessionFeatures for Session {
    type Entry = SessionEvent;
    type State = SessionState;
    type Saved = SavedSession;

    fn save(&self, state: &SessionState, symbols: &Symbols) -> SavedSession {
        let text = |sym: Sym| symbols.text(sym).to_string();
        SavedSession {
            events: state.events,
            first: state.first,
            last: state.last,
            pages: state.pages,
            views: state.views,
            adds: state.adds,
            searches: state.searches,
            campaign: state.campaign.map(|(order, sym)| (order, text(sym))),
            latest: state
                .latest
                .as_ref()
                .map(|l| (l.order, text(l.user), l.platform.map(text))),
            devices: texts(&state.devices, symbols),
            locations: texts(&state.locations, symbols),
            located: state
                .located
                .to_vec()
                .into_iter()
                .map(|(order, sym)| (order, text(sym)))
                .collect(),
            region_changes: state.region_changes,
        }
    }

    fn load(&self, saved: SavedSession, symbols: &mut Symbols) -> SessionState {
        let locations = distinct_of(saved.locations, symbols);
        // The located events share the references of `locations`.
        let located = saved
            .located
            .into_iter()
            .map(|(order, text)| {
                let sym = symbols.intern(&text);
                symbols.release(sym);
                (order, sym)
            })
            .collect();
        SessionState {
            events: saved.events,
            first: saved.first,
            last: saved.last,
            pages: saved.pages,
            views: saved.views,
            adds: saved.adds,
            searches: saved.searches,
            campaign: saved
                .campaign
                .map(|(order, text)| (order, symbols.intern(&text))),
            latest: saved.latest.map(|(order, user, platform)| Latest {
                order,
                user: symbols.intern(&user),
                platform: symbols.intern_opt(platform.as_deref()),
            }),
            devices: distinct_of(saved.devices, symbols),
            locations,
            located: OrderMap::from_sorted(located),
            region_changes: saved.region_changes,
        }
    }

    fn insert(
        &self,
        state: &mut SessionState,
        order: Order,
        event: SessionEvent,
        symbols: &mut Symbols,
    ) {
        let (time, _) = order;
        if state.events == 0 {
            state.first = time;
            state.last = time;
        }
        state.events += 1;
        state.first = state.first.min(time);
        state.last = state.last.max(time);
        match event.kind {
            SessionKind::PageView => state.pages += 1,
            SessionKind::ProductView => state.views += 1,
            SessionKind::AddToCart => state.adds += 1,
            SessionKind::Other => {}
        }
        state.searches += event.search as u64;
        if let Some(campaign) = event.campaign {
            if state.campaign.is_none_or(|(earliest, _)| order < earliest) {
                let sym = symbols.intern(&campaign);
                if let Some((_, old)) = state.campaign.replace((order, sym)) {
                    symbols.release(old);
                }
            }
        }
        match &mut state.latest {
            Some(latest) if latest.order < order => {
                latest.order = order;
                replace(&mut latest.user, &event.user, symbols);
                replace_opt(&mut latest.platform, event.platform.as_deref(), symbols);
            }
            Some(_) => {}
            None => {
                state.latest = Some(Latest {
                    order,
                    user: symbols.intern(&event.user),
                    platform: symbols.intern_opt(event.platform.as_deref()),
                })
            }
        }
        if let Some(device) = event.device {
            insert_distinct(&mut state.devices, &device, symbols);
        }
        if let Some(location) = event.location {
            let sym = insert_distinct(&mut state.locations, &location, symbols);
            // In order the previous location is the last one; otherwise the event sits between
            // two neighbours, whose change (if any) it replaces by its own two.
            let (before, after) = match state.located.last() {
                Some((last, previous)) if last < order => (Some(previous), None),
                _ => {
                    let (before, after) = state.located.neighbours(order);
                    (before.map(|(_, s)| s), after.map(|(_, s)| s))
                }
            };
            state.region_changes =
                state.region_changes + change(before, Some(sym)) + change(Some(sym), after)
                    - change(before, after);
            state.located.insert(order, sym);
        }
    }

    fn merge(
        &self,
        earlier: SessionState,
        later: SessionState,
        symbols: &mut Symbols,
    ) -> SessionState {
        if earlier.events == 0 {
            return later;
        }
        if later.events == 0 {
            return earlier;
        }
        let boundary = change(
            earlier.located.last().map(|(_, s)| s),
            later.located.first().map(|(_, s)| s),
        );
        let region_changes = earlier.region_changes + later.region_changes + boundary;
        // The smaller state is poured into the larger one.
        let (mut into, from) = if earlier.events >= later.events {
            (earlier, later)
        } else {
            (later, earlier)
        };
        into.events += from.events;
        into.first = into.first.min(from.first);
        into.last = into.last.max(from.last);
        into.pages += from.pages;
        into.views += from.views;
        into.adds += from.adds;
        into.searches += from.searches;
        into.region_changes = region_changes;
        let (kept, dropped) = match (into.campaign, from.campaign) {
            (Some(a), Some(b)) if b.0 < a.0 => (Some(b), Some(a)),
            (Some(a), b) => (Some(a), b),
            (None, b) => (b, None),
        };
        into.campaign = kept;
        if let Some((_, sym)) = dropped {
            symbols.release(sym);
        }
        let (kept, dropped) = match (into.latest.take(), from.latest) {
            (Some(a), Some(b)) if a.order < b.order => (Some(b), Some(a)),
            (Some(a), b) => (Some(a), b),
            (None, b) => (b, None),
        };
        into.latest = kept;
        if let Some(latest) = dropped {
            symbols.release(latest.user);
            symbols.release_opt(latest.platform);
        }
        union(&mut into.devices, from.devices, symbols);
        union(&mut into.locations, from.locations, symbols);
        into.located.absorb(from.located);
        into
    }

    fn release(&self, state: SessionState, symbols: &mut Symbols) {
        if let Some((_, sym)) = state.campaign {
            symbols.release(sym);
        }
        if let Some(latest) = state.latest {
            symbols.release(latest.user);
            symbols.release_opt(latest.platform);
        }
        for sym in state
            .devices
            .into_vec()
            .into_iter()
            .chain(state.locations.into_vec())
        {
            symbols.release(sym);
        }
    }

    fn render(&self, state: &SessionState, symbols: &Symbols, values: &mut Rendered) {
        if state.events == 0 {
            return;
        }
        let text = |sym: Option<Sym>| sym.map(|sym| symbols.text(sym));
        values.set(0, state.last - state.first);
        values.set(1, state.pages);
        values.set(2, state.pages < 2);
        values.set_str(3, text(state.campaign.map(|(_, sym)| sym)));
        format::write_ratio(values.slot(4), state.adds as i128, state.views as i128);
        values.set(5, state.searches);
        values.set_str(6, text(state.latest.as_ref().map(|l| l.user)));
        write_set(values.slot(7), &state.devices, symbols);
        values.set_str(8, text(state.latest.as_ref().and_then(|l| l.platform)));
        write_set(values.slot(9), &state.locations, symbols);
        values.set(10, state.region_changes);
    }
}

type Millis = operators::Millis;

#[cfg(test)]
mod tests {
    //! The insertable state against the features computed from scratch over the events in
    //! order, as SPEC section 3 defines them.

    use super::*;

    /// SplitMix64.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<T: Clone>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())].clone()
        }

        fn shuffle<T>(&mut self, items: &mut [T]) {
            for i in (1..items.len()).rev() {
                items.swap(i, self.below(i + 1));
            }
        }
    }

    /// An event; `places` locations to pick from, so that the sets of distinct locations can
    /// grow large.
    fn event(rng: &mut Rng, places: usize) -> SessionEvent {
        let text = |rng: &mut Rng, items: &[Option<&str>]| rng.pick(items).map(str::to_string);
        let location = match rng.below(4) {
            0 => None,
            _ => Some(format!("C{}/R{}", rng.below(2), rng.below(places))),
        };
        let kind = rng.pick(&[
            SessionKind::PageView,
            SessionKind::ProductView,
            SessionKind::AddToCart,
            SessionKind::Other,
        ]);
        SessionEvent {
            kind,
            search: kind == SessionKind::PageView && rng.below(3) == 0,
            user: rng.pick(&["u1", "u2", "u3"]).to_string(),
            campaign: text(rng, &[None, None, None, Some("spring"), Some("autumn")]),
            device: text(rng, &[None, Some("Desktop"), Some("Phone"), Some("Tablet")]),
            platform: text(rng, &[None, Some("web"), Some("mob")]),
            location,
        }
    }

    /// The features of `events` (in order), as the store would hold them.
    fn from_scratch(events: &[(Order, SessionEvent)]) -> Vec<Option<String>> {
        let (first, last) = (&events[0], &events[events.len() - 1]);
        let count = |f: &dyn Fn(&SessionEvent) -> bool| events.iter().filter(|(_, e)| f(e)).count();
        let pages = count(&|e| e.kind == SessionKind::PageView);
        let views = count(&|e| e.kind == SessionKind::ProductView);
        let adds = count(&|e| e.kind == SessionKind::AddToCart);
        let searches = count(&|e| e.kind == SessionKind::PageView && e.search);
        let locations: Vec<&str> = events
            .iter()
            .filter_map(|(_, e)| e.location.as_deref())
            .collect();
        let changes = locations.windows(2).filter(|w| w[0] != w[1]).count();
        let devices = events.iter().filter_map(|(_, e)| e.device.as_deref());
        vec![
            Some((last.0 .0 - first.0 .0).to_string()),
            Some(pages.to_string()),
            Some((pages < 2).to_string()),
            events.iter().find_map(|(_, e)| e.campaign.clone()),
            Some(format::decimal_ratio(adds as i128, views as i128)),
            Some(searches.to_string()),
            Some(last.1.user.clone()),
            Some(format::string_list(devices)),
            last.1.platform.clone(),
            Some(format::string_list(locations.iter().copied())),
            Some(changes.to_string()),
        ]
    }

    fn rendered(state: &SessionState, symbols: &Symbols) -> Vec<Option<String>> {
        let mut values = Rendered::default();
        values.reset(FEATURES.len());
        Session.render(state, symbols, &mut values);
        (0..FEATURES.len())
            .map(|i| values.get(i).map(str::to_string))
            .collect()
    }

    #[test]
    fn any_insertion_and_merge_order_gives_the_in_order_features() {
        let mut rng = Rng(99);
        for round in 0..2_000 {
            // Events with many equal times; orders are distinct, as the operator guarantees.
            // Every tenth session is long and wanders over many places.
            let (size, places) = if round % 10 == 0 { (300, 40) } else { (40, 3) };
            let mut events: Vec<(Order, SessionEvent)> = Vec::new();
            for _ in 0..1 + rng.below(size) {
                let order = (
                    1_000 + rng.below(size / 3) as Millis * 500,
                    rng.below(6) as u128,
                );
                if events.iter().all(|(o, _)| *o != order) {
                    events.push((order, event(&mut rng, places)));
                }
            }
            events.sort_by_key(|(order, _)| *order);
            // Cut into consecutive pieces, each filled in a random order...
            let mut cuts: Vec<usize> = (1..events.len()).filter(|_| rng.below(4) == 0).collect();
            cuts.insert(0, 0);
            cuts.push(events.len());
            let mut symbols = Symbols::default();
            let mut pieces: Vec<(std::ops::Range<usize>, SessionState)> = Vec::new();
            for bounds in cuts.windows(2) {
                let range = bounds[0]..bounds[1];
                let mut shuffled = events[range.clone()].to_vec();
                rng.shuffle(&mut shuffled);
                let mut state = SessionState::default();
                for (order, event) in shuffled {
                    Session.insert(&mut state, order, event, &mut symbols);
                }
                assert_eq!(
                    rendered(&state, &symbols),
                    from_scratch(&events[range.clone()])
                );
                pieces.push((range, state));
            }
            // ...then joined, neighbours with neighbours, in a random order.
            while pieces.len() > 1 {
                let i = rng.below(pieces.len() - 1);
                let (later_range, later) = pieces.remove(i + 1);
                let (earlier_range, earlier) = pieces.remove(i);
                let range = earlier_range.start..later_range.end;
                let state = Session.merge(earlier, later, &mut symbols);
                assert_eq!(
                    rendered(&state, &symbols),
                    from_scratch(&events[range.clone()])
                );
                pieces.insert(i, (range, state));
            }
            for (_, state) in pieces {
                Session.release(state, &mut symbols);
            }
            assert!(symbols.is_empty(), "every string released");
        }
    }
}
