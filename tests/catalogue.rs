//! The shipped feature catalogue (`config/features.toml`) reproduces SPEC section 3: its lanes
//! take exactly the events SPEC's lanes take, and its features, computed incrementally by the
//! catalogue's aggregations (records entering in arrival order and leaving as windows slide),
//! equal the brute-force reference's values key for key, in every window of every shopper at
//! every time a value can change, and in every session after each of its events. A catalogue
//! with mistakes is refused with a message naming the lane, the feature and what is allowed.

mod reference;
mod support;

use std::collections::BTreeMap;

use jobs::catalogue::{Accumulators, Catalogue, Lane, Plan, Windowing};
use jobs::event::ShopperEvent;
use operators::symbols::Symbols;
use reference::Values;

/// A generated shop with ties (a 5 s time grain), parsed; duplicates of an event (same key,
/// time and id) kept once, as the job counts them.
fn events() -> Vec<ShopperEvent> {
    let mut options = support::shop_options(40_000, 300, 0.0);
    options.span_ms = 3 * 3_600_000;
    options.time_grain_ms = 5_000;
    let limits = jobs::parse::Limits::default();
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    for record in support::shop(options) {
        jobs::parse::parse_record(&record.bytes, &limits, &mut events, &mut bad);
    }
    let mut seen = std::collections::BTreeSet::new();
    events.retain(|e| seen.insert((e.user.clone(), e.session.clone(), e.time, e.event_id)));
    assert!(events.len() > 30_000, "the shop parses: {}", events.len());
    events
}

/// The catalogue's written values of `lane` over `accumulators`, as store keys.
fn written(plan: &Plan, accumulators: &Accumulators, key: impl Fn(&str) -> String) -> Values {
    let mut out = Values::new();
    let features = &plan.lane().features;
    for (feature, value) in features.iter().zip(accumulators.values(plan)) {
        if let (true, Some(value)) = (feature.output, value) {
            out.insert(key(&feature.name), value.render());
        }
    }
    out
}

type Reference = fn(&str, &str, &[&ShopperEvent]) -> Values;

/// Which events a lane of the reference takes.
type Member = fn(&ShopperEvent) -> bool;

/// Compares one rolling lane with the reference in every window of every user at every time a
/// value can change; returns how many windows were compared.
fn check_rolling(
    lane: &Lane,
    events: &[ShopperEvent],
    member: Member,
    reference: Reference,
) -> usize {
    let Windowing::Rolling(windows) = &lane.windowing else {
        panic!("lane {} has rolling windows", lane.name);
    };
    let mut by_user: BTreeMap<&str, Vec<&ShopperEvent>> = BTreeMap::new();
    for e in events {
        assert_eq!(lane.takes(e), member(e), "lane {} takes {e:?}", lane.name);
        if member(e) {
            by_user.entry(&e.user).or_default().push(e);
        }
    }
    let mut compared = 0;
    for (user, arrived) in &by_user {
        for (window, length) in windows {
            compared += slide(lane, user, window, *length, arrived, reference);
        }
    }
    compared
}

/// Slides one window over one user's events (in arrival order) and compares at each time.
fn slide(
    lane: &Lane,
    user: &str,
    window: &str,
    length: u64,
    arrived: &[&ShopperEvent],
    reference: Reference,
) -> usize {
    let mut symbols = Symbols::default();
    let records: Vec<_> = arrived
        .iter()
        .map(|e| lane.record(e).expect("a lane record").store(&mut symbols))
        .collect();
    let mut times: Vec<u64> = arrived
        .iter()
        .flat_map(|e| [e.time, e.time + length])
        .collect();
    times.sort_unstable();
    times.dedup();
    let mut inside = vec![false; arrived.len()];
    let plan = Plan::new(std::sync::Arc::new(lane.clone()), true);
    let mut accumulators = Accumulators::new(&plan);
    let mut compared = 0;
    for t in times {
        for (i, e) in arrived.iter().enumerate() {
            let order = (e.time, e.event_id);
            let belongs = e.time <= t && e.time + length > t;
            if belongs && !inside[i] {
                accumulators.insert(&plan, order, &records[i]);
            } else if !belongs && inside[i] {
                accumulators.remove(&plan, order, &records[i]);
            }
            inside[i] = belongs;
        }
        let covered: Vec<&ShopperEvent> = arrived
            .iter()
            .zip(&inside)
            .filter(|(_, &inside)| inside)
            .map(|(e, _)| *e)
            .collect();
        let expected = reference(user, window, &covered);
        let actual = if covered.is_empty() {
            Values::new()
        } else {
            written(&plan, &accumulators, |f| {
                format!("user:{user}:{f}_{window}")
            })
        };
        assert_eq!(
            actual, expected,
            "lane {}, {user}, {window} at {t}",
            lane.name
        );
        compared += 1;
    }
    compared
}

#[test]
fn the_shipped_rolling_lanes_equal_the_reference() {
    let catalogue = Catalogue::builtin().expect("the shipped catalogue");
    let events = events();
    let lane = |name| catalogue.lane(name).expect("a shipped lane");
    let lanes: [(&str, Member, Reference); 4] = [
        (
            "product",
            |e| e.kind == jobs::event::EventKind::ProductView && !e.products.is_empty(),
            reference::product_features,
        ),
        (
            "category",
            |e| reference::category_of(e).is_some(),
            reference::category_features,
        ),
        (
            "cart",
            |e| {
                use jobs::event::EventKind::*;
                matches!(e.kind, AddToCart | RemoveFromCart)
            },
            reference::cart_features,
        ),
        (
            "purchase",
            |e| e.kind == jobs::event::EventKind::Transaction,
            reference::purchase_features,
        ),
    ];
    for (name, member, reference) in lanes {
        let compared = check_rolling(lane(name), &events, member, reference);
        assert!(compared > 300, "lane {name}: {compared} windows compared");
    }
}

#[test]
fn the_shipped_session_lane_equals_the_reference() {
    let catalogue = Catalogue::builtin().expect("the shipped catalogue");
    let lane = catalogue.lane("session").expect("the session lane");
    let Windowing::Session { gap } = lane.windowing else {
        panic!("a session lane");
    };
    let events = events();
    let mut by_session: BTreeMap<&str, Vec<&ShopperEvent>> = BTreeMap::new();
    for e in &events {
        let member = reference::is_session_event(e) && e.session.is_some();
        assert_eq!(lane.takes(e), member, "the session lane takes {e:?}");
        if let (true, Some(sid)) = (member, e.session.as_deref()) {
            by_session.entry(sid).or_default().push(e);
        }
    }
    let mut compared = 0;
    for (sid, mut all) in by_session {
        all.sort_by_key(|e| (e.time, e.event_id));
        for run in runs(&all, gap) {
            // Arrival order within the run: a fixed shuffle, so later records also land
            // between earlier ones.
            let mut arrival: Vec<&ShopperEvent> = run.to_vec();
            let n = arrival.len();
            for i in 0..n {
                arrival.swap(i, (i * 7919 + 13) % n);
            }
            let plan = Plan::new(std::sync::Arc::new(lane.clone()), false);
            let mut accumulators = Accumulators::new(&plan);
            let mut seen: Vec<&ShopperEvent> = Vec::new();
            let mut symbols = Symbols::default();
            for e in arrival {
                let record = lane
                    .record(e)
                    .expect("a session record")
                    .store(&mut symbols);
                accumulators.insert(&plan, (e.time, e.event_id), &record);
                seen.push(e);
                seen.sort_by_key(|e| (e.time, e.event_id));
                let actual = written(&plan, &accumulators, |f| format!("session:{sid}:{f}"));
                assert_eq!(
                    actual,
                    reference::session_features(sid, &seen),
                    "session {sid}"
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 10_000, "{compared} session states compared");
}

/// The runs of a session key's sorted events: a gap longer than `gap` starts a new one.
fn runs<'a>(events: &[&'a ShopperEvent], gap: u64) -> Vec<Vec<&'a ShopperEvent>> {
    let mut runs: Vec<Vec<&ShopperEvent>> = Vec::new();
    for e in events {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|l| e.time - l.time <= gap) => run.push(e),
            _ => runs.push(vec![e]),
        }
    }
    runs
}

/// The shipped catalogue writes exactly SPEC section 3's keys, lane by lane.
#[test]
fn the_shipped_catalogue_names_spec_features() {
    let catalogue = Catalogue::builtin().expect("the shipped catalogue");
    let names = |lane: &str| -> Vec<String> {
        let lane = catalogue.lane(lane).expect("a shipped lane");
        lane.features
            .iter()
            .filter(|f| f.output)
            .map(|f| f.name.clone())
            .collect()
    };
    // SPEC section 3, lane by lane.
    let spec: [(&str, &[&str]); 5] = [
        (
            "product",
            &[
                "product_view_count",
                "product_views",
                "avg_viewed_price",
                "price_range_viewed",
                "return_view_count",
            ],
        ),
        (
            "category",
            &["top_category", "unique_categories", "category_view_count"],
        ),
        (
            "cart",
            &[
                "cart_add_count",
                "cart_remove_count",
                "cart_update_frequency",
                "cart_value",
            ],
        ),
        (
            "purchase",
            &["orders_count", "order_value", "avg_order_value"],
        ),
        (
            "session",
            &[
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
            ],
        ),
    ];
    for (lane, features) in spec {
        assert_eq!(names(lane), features, "lane {lane}");
    }
}

fn refused(text: &str) -> String {
    match Catalogue::parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const LANE: &str =
    "[lanes.views]\nkey = \"user\"\nevents = [\"product_view\"]\nwindows = [\"5m\"]\n";

#[test]
fn mistakes_are_named_with_their_lane_feature_and_what_is_allowed() {
    let feature = |f: &str| format!("{LANE}features = [{f}]\n");
    let cases = [
        (
            feature(r#"{ name = "v", aggregation = "avg", property = "product.price" }"#),
            vec![
                "lane `views`",
                "feature `v`",
                "unknown aggregation `avg`",
                "mean",
            ],
        ),
        (
            feature(r#"{ name = "v", aggregation = "sum", property = "shopper.cost" }"#),
            vec![
                "feature `v`",
                "unknown property `shopper.cost`",
                "product.price",
                "`<entity>.<field>`",
                "checkout_step",
            ],
        ),
        (
            feature(r#"{ name = "v", aggregation = "sum", property = "product.cost" }"#),
            vec![
                "feature `v`",
                "`sum` needs numbers",
                "`product.cost` is read as text",
                r#"`[fields]` table: `"product.cost" = "number"`"#,
            ],
        ),
        (
            feature(r#"{ name = "v", aggregation = "mean", property = "product.category" }"#),
            vec!["feature `v`", "`product.category` is not a number"],
        ),
        (
            format!(
                "[fields]\n\"product.cost\" = \"money\"\n{}",
                feature(r#"{ name = "n", aggregation = "count" }"#)
            ),
            vec!["`product.cost`", "type `money`", "text, number, bool"],
        ),
        (
            format!(
                "[fields]\n\"product.price\" = \"text\"\n{}",
                feature(r#"{ name = "n", aggregation = "count" }"#)
            ),
            vec!["`product.price`", "a named property"],
        ),
        (
            format!(
                "[fields]\n\"basket.size\" = \"number\"\n{}",
                feature(r#"{ name = "n", aggregation = "count" }"#)
            ),
            vec!["`basket.size`", "not `<entity>.<field>`", "product, cart"],
        ),
        (
            feature(r#"{ name = "r", aggregation = "ratio", of = ["a", "b"] }"#),
            vec!["feature `r`", "`of` names `a`", "not a feature"],
        ),
        (
            feature(
                r#"{ name = "n", aggregation = "count" }, { name = "n", aggregation = "count" }"#,
            ),
            vec!["feature `n`", "two features"],
        ),
        (
            feature(r#"{ name = "v", aggregation = "sum" }"#),
            vec!["feature `v`", "needs a `property`"],
        ),
        (
            feature(r#"{ name = "g", aggregation = "groups_at_least", group = "product.id" }"#),
            vec!["feature `g`", "at_least"],
        ),
        (
            feature(r#"{ name = "c", aggregation = "changes", property = "platform" }"#),
            vec!["feature `c`", "session lane"],
        ),
        (
            feature(r#"{ name = "a", aggregation = "count", events = ["add_to_cart"] }"#),
            vec!["feature `a`", "`add_to_cart` is not one the lane takes"],
        ),
        (
            LANE.replace("[\"5m\"]", "[\"five minutes\"]")
                + "features = [{ name = \"n\", aggregation = \"count\" }]\n",
            vec![
                "lane `views`",
                "window `five minutes` is not a duration",
                "\"5m\"",
            ],
        ),
        (
            LANE.replace("\"user\"", "\"shopper\"")
                + "features = [{ name = \"n\", aggregation = \"count\" }]\n",
            vec!["lane `views`", "key `shopper`", "user, session"],
        ),
        (
            LANE.replace("product_view", "product_seen")
                + "features = [{ name = \"n\", aggregation = \"count\" }]\n",
            vec![
                "lane `views`",
                "unknown event type `product_seen`",
                "product_view",
            ],
        ),
        (
            LANE.replace("[lanes.views]", "[lanes.\"my views\"]")
                + "features = [{ name = \"n\", aggregation = \"count\" }]\n",
            vec!["lane `my views`", "only letters, digits"],
        ),
        (
            format!(
                "{}features = [{{ name = \"n\", aggregation = \"count\" }}]\n{}features = [{{ name = \"n\", aggregation = \"count\" }}]\n",
                LANE,
                LANE.replace("views", "pages").replace("product_view", "page_view")
            ),
            vec!["feature `n`", "also writes `user:<id>:n_5m`"],
        ),
    ];
    for (text, expected) in cases {
        let message = refused(&text);
        for part in expected {
            assert!(
                message.contains(part),
                "{message:?} should contain {part:?}"
            );
        }
    }
}

/// A catalogue file that adds a lane (page views, searches and platforms per user) and writes a
/// feature the shipped product lane only computes (`max_viewed_price`): run with it, with no
/// code change, Redis holds exactly the shipped features plus the new ones, with the values a
/// computation from scratch gives at the last emission.
#[test]
fn features_added_in_a_catalogue_file_appear_in_redis() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut options = support::shop_options(20_000, 200, 0.0);
    options.span_ms = 2 * 3_600_000;
    let records = support::shop(options);
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);

    let shipped = jobs::catalogue::DEFAULT_CATALOGUE;
    let max_line = r#"{ name = "max_viewed_price", aggregation = "max", property = "product.price", output = false }"#;
    assert!(shipped.contains(max_line), "the shipped product lane");
    let edited = shipped.replace(max_line, &max_line.replace(", output = false", ""))
        + r#"
[lanes.pages]
key = "user"
events = ["page_view"]
windows = ["5m", "1h"]
features = [
  { name = "page_views", aggregation = "count" },
  { name = "search_pages", aggregation = "count", where = { "page.is_search" = true } },
  { name = "platforms", aggregation = "distinct_list", property = "platform" },
]
"#;
    let catalogue = dir.path().join("features.toml");
    std::fs::write(&catalogue, edited).expect("write the catalogue");

    let redis = support::RedisServer::start();
    let sets = vec![
        "source.kind=file".to_string(),
        format!("source.path={}", input.display()),
        format!(
            "output.bad_rows_file={}",
            dir.path().join("bad.jsonl").display()
        ),
        format!("redis.url={}", redis.url()),
        format!("features.file={}", catalogue.display()),
    ];
    support::run_job(&sets, 2).expect("the run with the edited catalogue");

    let reference = dir.path().join("reference.jsonl");
    support::run_file_reference(&input, &reference, &dir.path().join("ref-bad.jsonl"));
    let mut expected = support::final_state(&reference);
    let added = added_features(&records);
    assert!(
        added.keys().any(|k| k.contains(":max_viewed_price_"))
            && added.keys().any(|k| k.contains(":search_pages_"))
            && added.keys().any(|k| k.contains(":platforms_")),
        "the new features have values: {} keys",
        added.len()
    );
    expected.extend(added);
    let diff = support::differences(&expected, &redis.state());
    assert!(diff.is_empty(), "Redis after the edited catalogue: {diff}");
}

/// The new features at the last emission, from scratch.
fn added_features(records: &[live_shopper::generate::Record]) -> Values {
    let limits = jobs::parse::Limits::default();
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    for record in records {
        jobs::parse::parse_record(&record.bytes, &limits, &mut events, &mut bad);
    }
    let mut seen = std::collections::BTreeSet::new();
    events.retain(|e| seen.insert((e.user.clone(), e.time, e.event_id)));
    let last = events.iter().map(|e| e.time).max().expect("events");
    let now = last.div_ceil(1_000) * 1_000;
    let mut out = Values::new();
    for (window, length) in [("5m", 300_000u64), ("1h", 3_600_000)] {
        let inside = |e: &&ShopperEvent| e.time <= now && e.time + length > now;
        let mut pages: BTreeMap<&str, Vec<&ShopperEvent>> = BTreeMap::new();
        let mut prices: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for e in events.iter().filter(inside) {
            match e.kind {
                jobs::event::EventKind::PageView => pages.entry(&e.user).or_default().push(e),
                jobs::event::EventKind::ProductView => {
                    if let Some(product) = e.products.first() {
                        let user = prices.entry(&e.user).or_default();
                        user.extend(product.price.map(|p| p.0));
                    }
                }
                _ => {}
            }
        }
        for (user, views) in pages {
            let key = |f: &str| format!("user:{user}:{f}_{window}");
            out.insert(key("page_views"), views.len().to_string());
            let searches = views.iter().filter(|e| e.is_search).count();
            out.insert(key("search_pages"), searches.to_string());
            let platforms = views.iter().filter_map(|e| e.platform.as_deref());
            out.insert(
                key("platforms"),
                jobs::catalogue::format::string_list(platforms),
            );
        }
        for (user, prices) in prices {
            if let Some(&max) = prices.iter().max() {
                out.insert(
                    format!("user:{user}:max_viewed_price_{window}"),
                    jobs::catalogue::format::price(jobs::event::Price(max)),
                );
            }
        }
    }
    out
}

/// The shipped checkout-funnel lane, switched on in a copy of the catalogue: every session's
/// furthest step, whether it reached checkout, and the time from its first cart add to its
/// first checkout step, as a computation from scratch gives them, beside the shipped features.
#[test]
fn the_checkout_funnel_example_lane_computes_each_sessions_funnel() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut options = support::shop_options(20_000, 200, 0.0);
    options.span_ms = 2 * 3_600_000;
    let records = support::shop(options);
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let shipped = jobs::catalogue::DEFAULT_CATALOGUE;
    let off = "[lanes.checkout]\nenabled = false";
    assert!(shipped.contains(off), "the shipped funnel lane is off");
    let catalogue = dir.path().join("features.toml");
    std::fs::write(
        &catalogue,
        shipped.replace(off, "[lanes.checkout]\nenabled = true"),
    )
    .expect("write the catalogue");

    let output = dir.path().join("out.jsonl");
    let sets = vec![
        "source.kind=file".to_string(),
        format!("source.path={}", input.display()),
        format!(
            "output.bad_rows_file={}",
            dir.path().join("bad.jsonl").display()
        ),
        "output.sink=file".to_string(),
        format!("output.file={}", output.display()),
        format!("features.file={}", catalogue.display()),
    ];
    support::run_job(&sets, 2).expect("the run with the funnel lane");

    let reference = dir.path().join("reference.jsonl");
    support::run_file_reference(&input, &reference, &dir.path().join("ref-bad.jsonl"));
    let mut expected = support::final_state(&reference);
    let funnel = funnel_features(&records);
    assert!(
        funnel.values().any(|v| v == "true")
            && funnel.keys().any(|k| k.ends_with(":cart_to_checkout_ms")),
        "sessions reach checkout: {} funnel keys",
        funnel.len()
    );
    expected.extend(funnel);
    let diff = support::differences(&expected, &support::final_state(&output));
    assert!(diff.is_empty(), "with the funnel lane: {diff}");
}

/// Each session's funnel values at the end, from scratch: runs of the session's cart adds,
/// checkout steps and transactions with gaps of at most 30 minutes; a later run writes over the
/// keys it has.
fn funnel_features(records: &[live_shopper::generate::Record]) -> Values {
    use jobs::event::EventKind::*;
    let limits = jobs::parse::Limits::default();
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    for record in records {
        jobs::parse::parse_record(&record.bytes, &limits, &mut events, &mut bad);
    }
    let mut by_session: BTreeMap<String, Vec<ShopperEvent>> = BTreeMap::new();
    for e in events {
        if let (true, Some(sid)) = (
            matches!(e.kind, AddToCart | CheckoutStep | Transaction),
            e.session.clone(),
        ) {
            by_session.entry(sid).or_default().push(e);
        }
    }
    let mut out = Values::new();
    for (sid, mut events) in by_session {
        events.sort_by_key(|e| (e.time, e.event_id));
        events.dedup_by_key(|e| (e.time, e.event_id));
        let refs: Vec<&ShopperEvent> = events.iter().collect();
        for run in runs(&refs, 1_800_000) {
            let key = |f: &str| format!("session:{sid}:{f}");
            let steps: Vec<&&ShopperEvent> =
                run.iter().filter(|e| e.kind == CheckoutStep).collect();
            if let Some(max) = steps.iter().filter_map(|e| e.checkout_step).max() {
                out.insert(key("checkout_furthest_step"), max.to_string());
            }
            out.insert(key("reached_checkout"), (!steps.is_empty()).to_string());
            let first_add = run.iter().find(|e| e.kind == AddToCart).map(|e| e.time);
            if let (Some(add), Some(step)) = (first_add, steps.first().map(|e| e.time)) {
                let ms = step as i64 - add as i64;
                out.insert(key("cart_to_checkout_ms"), ms.to_string());
            }
        }
    }
    out
}

/// An entity field a catalogue reads, through the whole job: the one event whose field does not
/// hold its declared type is a bad row naming the field, and every other event counts.
#[test]
fn a_broken_entity_field_is_a_bad_row_naming_it_and_the_rest_count() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut records = support::shop(support::shop_options(5_000, 50, 0.0));
    let needle = b"\"quantity\":";
    let broken = records
        .iter()
        .position(|r| r.bytes.windows(needle.len()).any(|w| w == needle))
        .expect("a cart line with a quantity");
    let bytes = &records[broken].bytes;
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + needle.len())
        .expect("the quantity");
    let digits = bytes[at..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let mut changed = bytes[..at].to_vec();
    changed.extend_from_slice(b"\"lots\"");
    changed.extend_from_slice(&bytes[at + digits..]);
    records[broken].bytes = changed;
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let catalogue = dir.path().join("features.toml");
    std::fs::write(
        &catalogue,
        "[fields]\n\"product.quantity\" = \"number\"\n\n[lanes.basket]\nkey = \"user\"\n\
         events = [\"add_to_cart\", \"remove_from_cart\"]\nwindows = [\"5m\"]\nfeatures = [\n  \
         { name = \"units\", aggregation = \"sum\", property = \"product.quantity\" },\n]\n",
    )
    .expect("write the catalogue");
    let (output, bad_rows) = (dir.path().join("out.jsonl"), dir.path().join("bad.jsonl"));
    let mut sets = support::file_run(&input, &output, &bad_rows);
    sets.push(format!("features.file={}", catalogue.display()));
    let metrics = support::run_job(&sets, 1).expect("the job runs");
    let bad = std::fs::read_to_string(&bad_rows).expect("the bad rows");
    let rows: Vec<serde_json::Value> = bad
        .lines()
        .map(|l| serde_json::from_str(l).expect("a bad row is JSON"))
        .collect();
    assert_eq!(rows.len(), 1, "{bad}");
    assert_eq!(rows[0]["field"], "product.quantity", "{bad}");
    assert!(
        rows[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not a valid number")),
        "{bad}"
    );
    let events = metrics.events.load(Ordering::Relaxed);
    assert_eq!(events, records.len() as u64 - 1);
    let written = std::fs::read_to_string(&output).expect("the output");
    assert!(written.contains(":units_5m\""), "no units written");
}
