//! The shopper simulation: users with sessions, a browse/cart/checkout funnel per session, and
//! events produced lazily in event-time order.
//!
//! Memory is `O(users)`: a user's sessions are planned one at a time when the previous one
//! ends, and a heap holds the next event time of every active user.
//!
//! Time budget. Every user gets a fixed number of events (shares of `events` drawn from a skewed
//! weight, summing exactly to `events`) and a number of sessions that fits into the span with
//! more than the 30-minute session gap between sessions. Each session gets a duration budget of
//! at most its proportional share of the still-free time, and the gaps between sessions take a
//! random part of the slack, so every event lands in `[start, start + span)` and gaps inside a
//! session never exceed 30 minutes. When the span is short for the number of events, sessions
//! simply get denser (down to many events in the same millisecond).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::catalog::{self, Catalog, DeviceClass, DESKTOPS, GEOS, PHONES, PROMOTIONS, TABLETS};
use super::rng::{splitmix64, Rng};
use super::GenerateOptions;

/// The session gap of SPEC section 2: consecutive events further apart start a new session.
pub const SESSION_GAP_MS: u64 = 30 * 60 * 1000;
/// The least separation between two sessions of a user, so that no session window merges them.
const SESSION_SEPARATION_MS: u64 = SESSION_GAP_MS + 1;
/// Most products an event carries (list size, cart lines).
pub(crate) const MAX_ITEMS: usize = 8;
/// Checkout steps before the transaction.
pub(crate) const CHECKOUT_STEPS: u8 = 3;
/// Share of promotion views that the shopper clicks.
const PROMO_CLICK_RATE: f64 = 0.2;

/// What an event is, as the encoders need to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    PageView,
    /// The mobile apps' stand-in for a page view (`unstruct`, mobile `screen_view`).
    ScreenView,
    Struct,
    /// A non-ecommerce self-describing event (`link_click`).
    LinkClick,
    ProductView,
    ListView,
    ListClick,
    AddToCart,
    RemoveFromCart,
    CheckoutStep,
    Transaction,
    PromoView,
    PromoClick,
}

impl Kind {
    /// The ecommerce action `type`, for the kinds that are ecommerce actions.
    pub(crate) fn action(self) -> Option<&'static str> {
        Some(match self {
            Kind::ProductView => "product_view",
            Kind::ListView => "list_view",
            Kind::ListClick => "list_click",
            Kind::AddToCart => "add_to_cart",
            Kind::RemoveFromCart => "remove_from_cart",
            Kind::CheckoutStep => "checkout_step",
            Kind::Transaction => "transaction",
            Kind::PromoView => "promo_view",
            Kind::PromoClick => "promo_click",
            _ => return None,
        })
    }
}

/// The page the shopper is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Page {
    Home,
    Category(u32),
    Search(u16),
    Product(u32),
    Cart,
    Checkout,
}

/// The name of a product list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListName {
    Category(u32),
    Search,
    Merch(u8),
}

/// A product in an event: with a quantity (cart lines) and a list position (lists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) product: u32,
    pub(crate) quantity: u16,
    pub(crate) position: u16,
}

/// How the event identifies its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionMode {
    /// A client_session entity and `domain_sessionid`.
    Entity,
    /// `domain_sessionid` only.
    NoEntity,
    /// Neither: the event takes no part in the session lane.
    Neither,
}

/// One simulated event, everything the encoders need and nothing allocated.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    /// Event time (`derived_tstamp`).
    pub(crate) time: u64,
    pub(crate) dvce_created: u64,
    pub(crate) dvce_sent: u64,
    pub(crate) collector: u64,
    pub(crate) etl: u64,
    pub(crate) event_id: u128,
    /// The user's number: `user_id` is `user-<number>` when logged in.
    pub(crate) user_num: u32,
    pub(crate) logged_in: bool,
    pub(crate) duid: u128,
    pub(crate) nuid: u128,
    pub(crate) ip: u32,
    pub(crate) session_id: u128,
    pub(crate) session_index: u32,
    /// 1-based index of the event in its session (client_session `eventIndex`).
    pub(crate) event_index: u32,
    pub(crate) first_event_id: u128,
    pub(crate) first_event_time: u64,
    /// 0 for a user's first session.
    pub(crate) previous_session: u128,
    pub(crate) session_mode: SessionMode,
    /// Index into [`catalog::DEVICES`].
    pub(crate) device: u8,
    /// Whether the YAUAA entity is in `derived_contexts`.
    pub(crate) yauaa: bool,
    /// Index into [`catalog::GEOS`].
    pub(crate) geo: u8,
    pub(crate) page: Page,
    pub(crate) page_view_id: u128,
    /// Index into [`catalog::CAMPAIGNS`] when the page URL carries campaign parameters.
    pub(crate) campaign: Option<u8>,
    pub(crate) kind: Kind,
    /// The ecommerce action schema is 1-0-0 rather than 1-0-2.
    pub(crate) action_v100: bool,
    /// The contexts envelope is 1-0-1 rather than 1-0-0.
    pub(crate) envelope_v101: bool,
    pub(crate) items: [Item; MAX_ITEMS],
    pub(crate) n_items: u8,
    pub(crate) list: ListName,
    /// Cart total in cents after the event (cart events, checkout steps, transactions).
    pub(crate) cart_total: u64,
    pub(crate) step: u8,
    /// Order number of a transaction.
    pub(crate) order: u64,
    /// Index into [`catalog::PAYMENT_METHODS`].
    pub(crate) payment: u8,
    /// Variant of struct and link-click events.
    pub(crate) variant: u8,
    /// Index into [`catalog::PROMOTIONS`] (promotion views and clicks).
    pub(crate) promo: u8,
}

impl Event {
    /// The products of the event.
    pub(crate) fn items(&self) -> &[Item] {
        &self.items[..self.n_items as usize]
    }

    /// Whether the event comes from a native app (`platform=mob`).
    pub(crate) fn is_app(&self) -> bool {
        catalog::DEVICES[self.device as usize].app.is_some()
    }
}

/// Next thing a shopper does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Nav(Page),
    ProductView(u32),
    ListView(ListName),
    ListClick,
    AddToCart(u32),
    Remove,
    Checkout(u8),
    Transaction,
    Struct,
    LinkClick,
    /// A banner seen; both hold an index into [`catalog::PROMOTIONS`].
    PromoView(u8),
    /// The banner clicked.
    PromoClick(u8),
}

#[derive(Debug)]
struct Session {
    id: u128,
    first_event_id: u128,
    start: u64,
    /// Events emitted so far.
    index: u32,
    events_left: u64,
    budget_end: u64,
    /// Event index from which `user_id` is set (`u32::MAX`: never this session).
    login_at: u32,
    device: u8,
    geo: u8,
    travel_at: u32,
    travel_geo: u8,
    action_v100: bool,
    page: Page,
    page_view_id: u128,
    campaign: Option<u8>,
    cart: [Item; MAX_ITEMS],
    cart_len: u8,
    checkout_step: u8,
    list: [Item; MAX_ITEMS],
    list_len: u8,
    list_name: ListName,
    follow: Option<Action>,
    /// The promotion event still to come on this page; after `follow`, which belongs to the
    /// page itself.
    promo: Option<Action>,
}

#[derive(Debug)]
struct User {
    ip: u32,
    account: bool,
    device: u8,
    second_device: Option<u8>,
    app_user: bool,
    geo: u8,
    favourites: [u32; 3],
    /// Mean natural time between two events of a session, ms.
    gap_ms: u32,
    /// Clock skew of the user's device, ms.
    skew_ms: i32,
    events_left: u64,
    sessions_left: u32,
    session_index: u32,
    previous_session: u128,
    session: Option<Box<Session>>,
}

/// The simulation: produces events in non-decreasing event time.
#[derive(Debug)]
pub(crate) struct Sim {
    rng: Rng,
    seed: u64,
    end: u64,
    users: Vec<User>,
    schedule: BinaryHeap<Reverse<(u64, u32)>>,
    orders: u64,
    /// Share of page views with a promotion view.
    promotions: f64,
    /// A stream of its own, like the other optional draws: which banner, and whether it is
    /// clicked, never moves the simulation's own stream.
    promo_rng: Rng,
}

/// Time to keep free for the natural duration of `events` future events: at most 60% of the
/// free time, so that session starts always keep some randomness even for busy users.
fn reserve(free: u64, events: u64, gap_ms: u32) -> u64 {
    (free / 5 * 3).min(events.saturating_mul(gap_ms as u64))
}

/// A per-user UUID derived from the seed, so that identities need no storage.
fn user_uuid(seed: u64, user: u32, salt: u64) -> u128 {
    let mut s = seed ^ (user as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt;
    let hi = (splitmix64(&mut s) & !0xF000) | 0x4000;
    let lo = (splitmix64(&mut s) & !(0b11 << 62)) | (0b10 << 62);
    ((hi as u128) << 64) | lo as u128
}

fn pick_device(rng: &mut Rng, class: DeviceClass) -> u8 {
    let list = match class {
        DeviceClass::Desktop => DESKTOPS,
        DeviceClass::Phone => PHONES,
        DeviceClass::Tablet => TABLETS,
    };
    list[rng.below(list.len() as u64) as usize]
}

fn pick_class(rng: &mut Rng) -> DeviceClass {
    match rng.weighted(&[55, 35, 10]) {
        0 => DeviceClass::Desktop,
        1 => DeviceClass::Phone,
        _ => DeviceClass::Tablet,
    }
}

/// A category index skewed towards the popular (low) ones.
fn skewed(rng: &mut Rng, n: usize, power: f64) -> usize {
    ((rng.f64().powf(power) * n as f64) as usize).min(n.saturating_sub(1))
}

impl Sim {
    pub(crate) fn new(options: &GenerateOptions, catalog: &Catalog) -> Sim {
        let mut rng = super::rng::Rng::new(options.seed, 1);
        let start = options.start_ms;
        let end = start + options.span_ms - 1;
        let geo_weights: Vec<u32> = GEOS.iter().map(|g| g.weight).collect();
        let n_users = options.users as usize;
        let mut users = Vec::with_capacity(n_users);
        let mut weights = Vec::with_capacity(n_users);
        let mut per_session = Vec::with_capacity(n_users);
        for i in 0..n_users {
            let class = pick_class(&mut rng);
            let device = pick_device(&mut rng, class);
            let second_device = if rng.chance(0.25) {
                let class = pick_class(&mut rng);
                Some(pick_device(&mut rng, class))
            } else {
                None
            };
            let mut favourites = [0u32; 3];
            for f in &mut favourites {
                *f = skewed(&mut rng, catalog.categories.len(), 1.5) as u32;
            }
            let mut s = options.seed ^ ((i as u64) << 1);
            let ip = (splitmix64(&mut s) as u32) | 0x0100_0000;
            users.push(User {
                ip,
                account: rng.chance(0.5),
                device,
                second_device,
                app_user: rng.chance(0.35),
                geo: rng.weighted(&geo_weights) as u8,
                favourites,
                gap_ms: rng.range(8_000, 40_000) as u32,
                skew_ms: rng.range(0, 10_000) as i32 - 5_000,
                events_left: 0,
                sessions_left: 0,
                session_index: 0,
                previous_session: 0,
                session: None,
            });
            // Activity is skewed: an exponential share plus a few power shoppers.
            let mut w = 0.2 + -(1.0 - rng.f64()).ln();
            if rng.chance(0.05) {
                w *= 4.0;
            }
            weights.push((w * 1_000_000.0) as u64 + 1);
            per_session.push(rng.range(6, 30));
        }
        let total_weight: u128 = weights.iter().map(|&w| w as u128).sum();
        let events = options.events as u128;
        // Mandatory gaps take at most half the span, so session timing keeps some freedom.
        let max_sessions = 1 + (options.span_ms / 2) / SESSION_SEPARATION_MS;
        let mut schedule = BinaryHeap::with_capacity(n_users);
        let mut cumulative = 0u128;
        for (i, user) in users.iter_mut().enumerate() {
            let before = events * cumulative / total_weight;
            cumulative += weights[i] as u128;
            let after = events * cumulative / total_weight;
            let count = (after - before) as u64;
            if count == 0 {
                continue;
            }
            let sessions =
                ((count + per_session[i] / 2) / per_session[i]).clamp(1, max_sessions.min(count));
            user.events_left = count;
            user.sessions_left = sessions as u32;
            let free = (end - start).saturating_sub((sessions - 1) * SESSION_SEPARATION_MS);
            let reserve = reserve(free, count, user.gap_ms);
            let offset = rng.below(free - reserve + 1);
            schedule.push(Reverse((start + offset, i as u32)));
        }
        Sim {
            rng,
            seed: options.seed,
            end,
            users,
            schedule,
            orders: 0,
            promotions: options.promotions,
            promo_rng: Rng::new(options.seed, 6),
        }
    }

    /// The next event in event-time order, `None` once every user has used up its events.
    pub(crate) fn next_event(&mut self, catalog: &Catalog) -> Option<Event> {
        let Reverse((time, u)) = self.schedule.pop()?;
        if self.users[u as usize].session.is_none() {
            self.start_session(u, time);
        }
        let event = self.step(u, time, catalog);
        self.schedule_next(u, time);
        Some(event)
    }

    fn start_session(&mut self, u: u32, now: u64) {
        let rng = &mut self.rng;
        let user = &mut self.users[u as usize];
        let sessions_left = user.sessions_left as u64;
        let events_left = user.events_left;
        let n = if sessions_left <= 1 {
            events_left
        } else {
            let avg = events_left / sessions_left;
            let lo = (avg / 2).max(1);
            let hi = (events_left - (sessions_left - 1))
                .min(avg + avg / 2 + 1)
                .max(lo);
            rng.range(lo, hi)
        };
        let free = self
            .end
            .saturating_sub(now)
            .saturating_sub((sessions_left.saturating_sub(1)) * SESSION_SEPARATION_MS);
        let natural = (n as f64 * user.gap_ms as f64 * (0.5 + rng.f64())) as u64;
        let natural = natural.min((n - 1) * SESSION_GAP_MS);
        let share = (free as u128 * n as u128 / events_left.max(1) as u128) as u64;
        let duration = natural.min(share);

        let device = match user.second_device {
            Some(d) if rng.chance(0.3) => d,
            _ => user.device,
        };
        let class = catalog::DEVICES[device as usize].class;
        let device = if class != DeviceClass::Desktop && user.app_user && rng.chance(0.7) {
            catalog::app_for(device)
        } else {
            device
        };
        // Phones travel more than desktops.
        let travel_p = if class == DeviceClass::Desktop {
            0.01
        } else {
            0.08
        };
        let travel_at = if n > 2 && rng.chance(travel_p) {
            rng.range(1, n - 1) as u32
        } else {
            u32::MAX
        };
        let login_at = if !user.account {
            u32::MAX
        } else {
            match rng.weighted(&[60, 30, 10]) {
                0 => 0,
                1 if n > 1 => rng.range(1, n - 1) as u32,
                _ => u32::MAX,
            }
        };
        user.session_index += 1;
        let id = rng.uuid();
        user.session = Some(Box::new(Session {
            id,
            first_event_id: 0,
            start: now,
            index: 0,
            events_left: n,
            budget_end: now + duration,
            login_at,
            device,
            geo: user.geo,
            travel_at,
            travel_geo: GEOS[user.geo as usize].neighbour,
            action_v100: rng.chance(0.15),
            page: Page::Home,
            page_view_id: 0,
            campaign: None,
            cart: [Item::default(); MAX_ITEMS],
            cart_len: 0,
            checkout_step: 0,
            list: [Item::default(); MAX_ITEMS],
            list_len: 0,
            list_name: ListName::Merch(0),
            follow: None,
            promo: None,
        }));
    }

    /// Schedules the user's next event (same session, or the next session), if any is left.
    fn schedule_next(&mut self, u: u32, now: u64) {
        let rng = &mut self.rng;
        let user = &mut self.users[u as usize];
        let Some(session) = user.session.as_mut() else {
            return;
        };
        if session.events_left > 0 {
            let remaining = session.budget_end.saturating_sub(now);
            let gap = match session.follow.or(session.promo) {
                // The page's own events fire with the page view, often in the same millisecond.
                Some(
                    Action::ProductView(_)
                    | Action::ListView(_)
                    | Action::Checkout(1)
                    | Action::PromoView(_),
                ) => {
                    if rng.chance(0.4) {
                        0
                    } else {
                        rng.range(1, 30)
                    }
                }
                // A click loads the next page.
                Some(Action::Nav(_)) => rng.range(200, 1_500),
                // The banner caught the eye, after a while.
                Some(Action::PromoClick(_)) => rng.range(2_000, 8_000),
                _ if rng.chance(0.02) => 0,
                _ => rng.below(
                    (2 * remaining)
                        .checked_div(session.events_left)
                        .unwrap_or(0)
                        + 1,
                ),
            };
            let gap = gap.min(remaining).min(SESSION_GAP_MS);
            self.schedule.push(Reverse((now + gap, u)));
            return;
        }
        user.previous_session = session.id;
        user.session = None;
        user.sessions_left -= 1;
        if user.sessions_left == 0 {
            return;
        }
        let after = user.sessions_left as u64;
        let free = self
            .end
            .saturating_sub(now)
            .saturating_sub(after * SESSION_SEPARATION_MS);
        let reserve = reserve(free, user.events_left, user.gap_ms);
        let slack = free - reserve;
        let extra = ((slack as f64 * rng.spacing(after as u32 + 1)) as u64).min(slack);
        self.schedule
            .push(Reverse((now + SESSION_SEPARATION_MS + extra, u)));
    }

    fn pick_product(rng: &mut Rng, catalog: &Catalog, favourites: &[u32; 3]) -> u32 {
        if rng.chance(0.7) {
            let c = favourites[rng.below(3) as usize] as usize;
            let list = &catalog.by_category[c];
            if !list.is_empty() {
                return list[skewed(rng, list.len(), 1.8)];
            }
        }
        skewed(rng, catalog.products.len(), 2.5) as u32
    }

    fn choose(rng: &mut Rng, s: &Session, user: &User, catalog: &Catalog) -> Action {
        if let Some(action) = s.follow.or(s.promo) {
            return action;
        }
        let has_cart = s.cart_len > 0;
        let mut w = [0u32; 9];
        // [nav, list_click, add, remove, checkout(next), transaction, recommended list, struct, link]
        w[0] = 40;
        w[7] = 2;
        w[8] = 1;
        if s.list_len > 0 {
            w[1] = 45;
        }
        match s.page {
            Page::Product(_) => {
                w[1] /= 2;
                w[2] = 12;
                w[6] = 6;
            }
            Page::Cart if has_cart => w[4] = 35,
            Page::Checkout if has_cart => {
                if s.checkout_step < CHECKOUT_STEPS {
                    w[4] = 120;
                } else {
                    w[5] = 110;
                }
            }
            _ => {}
        }
        if has_cart {
            w[3] = 4;
            if s.page != Page::Checkout {
                w[4] += 6;
            }
        }
        match rng.weighted(&w) {
            0 => Action::Nav(Self::pick_page(rng, s, user, catalog)),
            1 => Action::ListClick,
            2 => match s.page {
                Page::Product(p) => Action::AddToCart(p),
                _ => Action::Nav(Page::Home),
            },
            3 => Action::Remove,
            4 if s.page == Page::Checkout => Action::Checkout(s.checkout_step + 1),
            4 if s.page == Page::Cart || !has_cart => Action::Nav(Page::Checkout),
            4 => Action::Nav(Page::Cart),
            5 => Action::Transaction,
            6 => Action::ListView(ListName::Merch(2)),
            7 => Action::Struct,
            _ => Action::LinkClick,
        }
    }

    fn pick_page(rng: &mut Rng, s: &Session, user: &User, catalog: &Catalog) -> Page {
        match rng.weighted(&[45, 20, 15, 10, 10]) {
            0 => Page::Product(Self::pick_product(rng, catalog, &user.favourites)),
            1 => {
                let c = if rng.chance(0.7) {
                    user.favourites[rng.below(3) as usize]
                } else {
                    skewed(rng, catalog.categories.len(), 1.5) as u32
                };
                Page::Category(c)
            }
            2 => Page::Search(rng.below(catalog::SEARCH_TERMS.len() as u64) as u16),
            3 if s.cart_len > 0 => Page::Cart,
            _ => Page::Home,
        }
    }

    fn landing(rng: &mut Rng, s: &mut Session, user: &User, catalog: &Catalog) -> Action {
        let app = catalog::DEVICES[s.device as usize].app.is_some();
        if !app && rng.chance(0.2) {
            s.campaign = Some(rng.below(catalog::CAMPAIGNS.len() as u64) as u8);
        }
        let page = match rng.weighted(&[40, 25, 15, 20]) {
            0 => Page::Home,
            1 => Page::Category(user.favourites[rng.below(3) as usize]),
            2 => Page::Search(rng.below(catalog::SEARCH_TERMS.len() as u64) as u16),
            _ => Page::Product(Self::pick_product(rng, catalog, &user.favourites)),
        };
        Action::Nav(page)
    }

    fn fill_list(rng: &mut Rng, s: &mut Session, user: &User, catalog: &Catalog, name: ListName) {
        let n = rng.range(4, MAX_ITEMS as u64) as usize;
        let mut len = 0;
        for _ in 0..n {
            let product = match name {
                ListName::Category(c) => {
                    let list = &catalog.by_category[c as usize];
                    if list.is_empty() {
                        break;
                    }
                    list[skewed(rng, list.len(), 1.3)]
                }
                _ => Self::pick_product(rng, catalog, &user.favourites),
            };
            if s.list[..len].iter().any(|i| i.product == product) {
                continue;
            }
            s.list[len] = Item {
                product,
                quantity: 1,
                position: len as u16 + 1,
            };
            len += 1;
        }
        s.list_len = len as u8;
        s.list_name = name;
    }

    fn cart_total(s: &Session, catalog: &Catalog) -> u64 {
        s.cart[..s.cart_len as usize]
            .iter()
            .map(|i| catalog.products[i.product as usize].price_cents * i.quantity as u64)
            .sum()
    }

    /// Produces the user's event at `time` and advances the session's state.
    fn step(&mut self, u: u32, time: u64, catalog: &Catalog) -> Event {
        let rng = &mut self.rng;
        let user = &mut self.users[u as usize];
        let Some(mut s) = user.session.take() else {
            // Unreachable by construction (a session is started before stepping); an empty
            // page view keeps the stream valid rather than panicking.
            return Self::blank(u, time, self.seed);
        };
        let app = catalog::DEVICES[s.device as usize].app.is_some();
        let mut action = if s.index == 0 {
            Self::landing(rng, &mut s, user, catalog)
        } else {
            Self::choose(rng, &s, user, catalog)
        };
        s.follow = None;
        if app && action == Action::LinkClick {
            action = Action::Struct;
        }
        let mut items = [Item::default(); MAX_ITEMS];
        let mut n_items = 0u8;
        let mut list = s.list_name;
        let mut step = 0u8;
        let mut order = 0u64;
        let mut payment = 0u8;
        let mut variant = 0u8;
        let mut promo = 0u8;
        let kind = match action {
            Action::Nav(page) => {
                if s.index > 0 {
                    s.campaign = None;
                }
                s.page = page;
                s.page_view_id = rng.uuid();
                s.list_len = 0;
                s.follow = match page {
                    Page::Product(p) => Some(Action::ProductView(p)),
                    Page::Category(c) => Some(Action::ListView(ListName::Category(c))),
                    Page::Search(_) => Some(Action::ListView(ListName::Search)),
                    Page::Home if rng.chance(0.6) => {
                        Some(Action::ListView(ListName::Merch(rng.below(2) as u8)))
                    }
                    Page::Checkout => Some(Action::Checkout(1)),
                    _ => None,
                };
                if page == Page::Checkout {
                    s.checkout_step = 0;
                }
                if app {
                    Kind::ScreenView
                } else {
                    Kind::PageView
                }
            }
            Action::ProductView(p) => {
                items[0] = Item {
                    product: p,
                    quantity: 1,
                    position: 0,
                };
                n_items = 1;
                Kind::ProductView
            }
            Action::ListView(name) => {
                Self::fill_list(rng, &mut s, user, catalog, name);
                n_items = s.list_len;
                items = s.list;
                list = name;
                Kind::ListView
            }
            Action::ListClick => {
                let pick = s.list[rng.below(s.list_len.max(1) as u64) as usize];
                items[0] = pick;
                n_items = 1;
                list = s.list_name;
                s.follow = Some(Action::Nav(Page::Product(pick.product)));
                Kind::ListClick
            }
            Action::AddToCart(p) => {
                let quantity = if rng.chance(0.8) {
                    1
                } else {
                    rng.range(2, 3) as u16
                };
                let len = s.cart_len as usize;
                if let Some(line) = s.cart[..len].iter_mut().find(|i| i.product == p) {
                    line.quantity += quantity;
                } else if len < MAX_ITEMS {
                    s.cart[len] = Item {
                        product: p,
                        quantity,
                        position: 0,
                    };
                    s.cart_len += 1;
                } else {
                    // A full cart: the shopper can only look at it.
                    s.cart[len - 1].quantity += quantity;
                    s.cart[len - 1].product = p;
                }
                items[0] = Item {
                    product: p,
                    quantity,
                    position: 0,
                };
                n_items = 1;
                Kind::AddToCart
            }
            Action::Remove if s.cart_len > 0 => {
                let idx = rng.below(s.cart_len as u64) as usize;
                let line = s.cart[idx];
                let quantity = if line.quantity > 1 && rng.chance(0.3) {
                    1
                } else {
                    line.quantity
                };
                if quantity == line.quantity {
                    let len = s.cart_len as usize;
                    s.cart.copy_within(idx + 1..len, idx);
                    s.cart_len -= 1;
                } else {
                    s.cart[idx].quantity -= quantity;
                }
                items[0] = Item {
                    product: line.product,
                    quantity,
                    position: 0,
                };
                n_items = 1;
                Kind::RemoveFromCart
            }
            Action::Checkout(n) if s.cart_len > 0 => {
                s.checkout_step = n;
                step = n;
                payment = rng.below(catalog::PAYMENT_METHODS.len() as u64) as u8;
                Kind::CheckoutStep
            }
            Action::Transaction if s.cart_len > 0 => {
                n_items = s.cart_len;
                items = s.cart;
                self.orders += 1;
                order = self.orders;
                payment = rng.below(catalog::PAYMENT_METHODS.len() as u64) as u8;
                Kind::Transaction
            }
            Action::Struct => {
                variant = rng.below(catalog::STRUCT_EVENTS.len() as u64) as u8;
                Kind::Struct
            }
            Action::LinkClick => {
                variant = rng.below(catalog::LINK_TARGETS.len() as u64) as u8;
                Kind::LinkClick
            }
            Action::PromoView(p) => {
                promo = p;
                s.promo = self
                    .promo_rng
                    .chance(PROMO_CLICK_RATE)
                    .then_some(Action::PromoClick(p));
                Kind::PromoView
            }
            Action::PromoClick(p) => {
                promo = p;
                s.promo = None;
                // The banner leads to its category's page.
                let category = p as u32 % catalog.categories.len().max(1) as u32;
                s.follow = Some(Action::Nav(Page::Category(category)));
                Kind::PromoClick
            }
            // An action whose precondition no longer holds becomes a look at the home page.
            _ => {
                s.page = Page::Home;
                s.page_view_id = rng.uuid();
                s.campaign = None;
                if app {
                    Kind::ScreenView
                } else {
                    Kind::PageView
                }
            }
        };
        // Skipped at rate 0 so that shops without promotions keep their bytes.
        if self.promotions > 0.0 && matches!(kind, Kind::PageView | Kind::ScreenView) {
            // A new page replaces the old one's banner, clicked or not.
            s.promo = self
                .promo_rng
                .chance(self.promotions)
                .then(|| Action::PromoView(self.promo_rng.below(PROMOTIONS.len() as u64) as u8));
        }
        let cart_total = Self::cart_total(&s, catalog);
        if kind == Kind::Transaction {
            s.cart_len = 0;
            s.checkout_step = 0;
        }
        let event_id = rng.uuid();
        if s.index == 0 {
            s.first_event_id = event_id;
        }
        let send_delay = if rng.chance(0.02) {
            rng.range(400, 5_000)
        } else {
            rng.range(1, 400)
        };
        let dvce_created = (time as i64 + user.skew_ms as i64).max(0) as u64;
        let session_mode = match rng.below(100) {
            0 => SessionMode::Neither,
            1 | 2 => SessionMode::NoEntity,
            _ => SessionMode::Entity,
        };
        let event = Event {
            time,
            dvce_created,
            dvce_sent: dvce_created + send_delay,
            collector: time + send_delay,
            etl: time + send_delay + rng.range(800, 3_000),
            event_id,
            user_num: u,
            logged_in: s.index >= s.login_at,
            duid: user_uuid(self.seed, u, 0xD0),
            nuid: user_uuid(self.seed, u, 0x4E),
            ip: user.ip,
            session_id: s.id,
            session_index: user.session_index,
            event_index: s.index + 1,
            first_event_id: s.first_event_id,
            first_event_time: s.start,
            previous_session: user.previous_session,
            session_mode,
            device: s.device,
            yauaa: rng.chance(0.95),
            geo: if s.index >= s.travel_at {
                s.travel_geo
            } else {
                s.geo
            },
            page: s.page,
            page_view_id: s.page_view_id,
            campaign: s.campaign,
            kind,
            action_v100: s.action_v100,
            envelope_v101: rng.chance(0.1),
            items,
            n_items,
            list,
            cart_total,
            step,
            order,
            payment,
            variant,
            promo,
        };
        s.index += 1;
        s.events_left -= 1;
        user.events_left -= 1;
        user.session = Some(s);
        event
    }

    fn blank(u: u32, time: u64, seed: u64) -> Event {
        Event {
            time,
            dvce_created: time,
            dvce_sent: time,
            collector: time,
            etl: time,
            event_id: user_uuid(seed, u, time),
            user_num: u,
            logged_in: false,
            duid: user_uuid(seed, u, 0xD0),
            nuid: user_uuid(seed, u, 0x4E),
            ip: 0x0A00_0001,
            session_id: 0,
            session_index: 0,
            event_index: 0,
            first_event_id: 0,
            first_event_time: time,
            previous_session: 0,
            session_mode: SessionMode::Neither,
            device: 0,
            yauaa: false,
            geo: 0,
            page: Page::Home,
            page_view_id: 0,
            campaign: None,
            kind: Kind::PageView,
            action_v100: false,
            envelope_v101: false,
            items: [Item::default(); MAX_ITEMS],
            n_items: 0,
            list: ListName::Merch(0),
            cart_total: 0,
            step: 0,
            order: 0,
            payment: 0,
            variant: 0,
            promo: 0,
        }
    }
}
