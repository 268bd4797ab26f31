//! Tests of the synthetic shop generator: determinism, counts, encodings, arrival-order bound,
//! session structure, option validation, and agreement with the job's own parser.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jobs::event::{EventKind, ShopperEvent};
use jobs::fields::{EntityFields, NO_FIELDS};
use jobs::parse::time::parse_timestamp;
use live_shopper::generate::{
    write_records, Encoding, GenerateOptions, Record, Shop, SESSION_GAP_MS,
};
use serde_json::Value;

const ENCODINGS: [Encoding; 3] = [Encoding::Tsv, Encoding::SnowplowJson, Encoding::FlinkJson];

fn options(encoding: Encoding, users: u64, events: u64) -> GenerateOptions {
    GenerateOptions {
        users,
        events,
        encoding,
        ..GenerateOptions::default()
    }
}

fn records(options: GenerateOptions) -> Vec<Record> {
    Shop::new(options).expect("valid options").collect()
}

fn fields(record: &Record) -> Vec<&str> {
    std::str::from_utf8(&record.bytes)
        .expect("TSV is UTF-8")
        .split('\t')
        .collect()
}

fn parse_one(bytes: &[u8]) -> Result<ShopperEvent, String> {
    let mut events = Vec::new();
    let mut bad = Vec::new();
    jobs::parse::parse_record(
        bytes,
        &jobs::parse::Limits::default(),
        &mut events,
        &mut bad,
    );
    match (events.len(), bad.len()) {
        (1, 0) => Ok(events.pop().expect("one event")),
        (0, 1) => Err(bad[0].error.to_string()),
        (e, b) => panic!("one record gave {e} events and {b} bad rows"),
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for encoding in ENCODINGS {
        let mut a = options(encoding, 100, 3000);
        a.malformed_rate = 0.02;
        let first = records(a.clone());
        let second = records(a.clone());
        assert_eq!(
            first, second,
            "{encoding}: same seed must give the same records"
        );
        let mut b = a.clone();
        b.seed = 43;
        let other = records(b);
        assert_ne!(
            first, other,
            "{encoding}: another seed must give other records"
        );

        let mut out_a = Vec::new();
        let mut out_b = Vec::new();
        write_records(a.clone(), &mut out_a).expect("write to a Vec");
        write_records(a, &mut out_b).expect("write to a Vec");
        assert_eq!(out_a, out_b);
    }
}

#[test]
fn exactly_the_requested_number_of_records() {
    for (users, events) in [
        (1, 0),
        (1, 1),
        (1, 500),
        (7, 13),
        (50, 1000),
        (5000, 1234),
        (300, 20_000),
    ] {
        for encoding in ENCODINGS {
            let mut o = options(encoding, users, events);
            o.malformed_rate = 0.05;
            let shop = Shop::new(o.clone()).expect("valid options");
            assert_eq!(shop.size_hint(), (events as usize, Some(events as usize)));
            assert_eq!(shop.count() as u64, events, "{encoding} users={users}");
            let mut out = Vec::new();
            let written = write_records(o, &mut out).expect("write to a Vec");
            assert_eq!(written, events);
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count() as u64, events);
            assert!(out.is_empty() || out.ends_with(b"\n"));
        }
    }
}

#[test]
fn next_into_matches_the_iterator() {
    let o = options(Encoding::SnowplowJson, 40, 2000);
    let expected = records(o.clone());
    let mut shop = Shop::new(o).expect("valid options");
    let mut key = String::from("stale");
    let mut buf = b"stale".to_vec();
    let mut i = 0;
    while let Some(time) = shop.next_into(&mut key, &mut buf) {
        assert_eq!(expected[i].key, key);
        assert_eq!(expected[i].bytes, buf);
        assert_eq!(expected[i].event_time_ms, time);
        i += 1;
    }
    assert_eq!(i, expected.len());
    assert_eq!(shop.next_into(&mut key, &mut buf), None);
}

#[test]
fn tsv_lines_have_131_fields_and_valid_json_columns() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/jobs/tests/fixtures/snowplow/enriched-fields.tsv"
    );
    let names: Vec<String> = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .skip(1)
        .map(|l| l.split('\t').nth(1).unwrap_or("").to_string())
        .collect();
    assert_eq!(names.len(), 131, "{path} lists the 131 enriched fields");
    for record in records(options(Encoding::Tsv, 200, 5000)) {
        assert!(!record.bytes.contains(&b'\n'));
        let f = fields(&record);
        assert_eq!(f.len(), 131, "{}", String::from_utf8_lossy(&record.bytes));
        for col in [52, 58, 122] {
            if !f[col].is_empty() {
                let v: Value = serde_json::from_str(f[col]).expect("JSON column parses");
                assert!(v["schema"].as_str().is_some_and(|s| s.starts_with("iglu:")));
            }
        }
        // Event time is derived_tstamp; the collector saw it a little later.
        let derived = parse_timestamp(f[124]).expect("derived_tstamp");
        let collector = parse_timestamp(f[3]).expect("collector_tstamp");
        assert_eq!(derived, record.event_time_ms);
        assert!(collector > derived && collector - derived <= 5_000);
        assert!(parse_timestamp(f[2]).expect("etl_tstamp") > collector);
        assert_eq!(names[124], "derived_tstamp");
    }
}

#[test]
fn json_encodings_are_single_line_json_objects() {
    for encoding in [Encoding::SnowplowJson, Encoding::FlinkJson] {
        for record in records(options(encoding, 200, 5000)) {
            assert!(!record.bytes.contains(&b'\n'));
            let v: Value = serde_json::from_slice(&record.bytes).expect("valid JSON");
            assert!(v.is_object());
            if encoding == Encoding::FlinkJson {
                for key in [
                    "id",
                    "type",
                    "timestamp",
                    "payload",
                    "enrich",
                    "session",
                    "metadata",
                ] {
                    assert!(v.get(key).is_some(), "flink JSON lacks {key}");
                }
                let time = parse_timestamp(v["timestamp"].as_str().expect("timestamp"));
                assert_eq!(time, Some(record.event_time_ms));
            } else {
                let time = parse_timestamp(v["derived_tstamp"].as_str().expect("derived_tstamp"));
                assert_eq!(time, Some(record.event_time_ms));
            }
        }
    }
}

#[test]
fn arrival_disorder_is_bounded_and_times_stay_in_the_span() {
    for disorder in [0, 2_000, 60_000] {
        let mut o = options(Encoding::Tsv, 300, 30_000);
        o.disorder_ms = disorder;
        o.malformed_rate = 0.01;
        let mut latest = 0;
        let mut out_of_order = 0;
        for record in Shop::new(o.clone()).expect("valid options") {
            let t = record.event_time_ms;
            assert!(t >= o.start_ms && t < o.start_ms + o.span_ms);
            assert!(
                t + disorder >= latest,
                "{t} arrived more than {disorder} ms after {latest}"
            );
            if t < latest {
                out_of_order += 1;
            }
            latest = latest.max(t);
        }
        if disorder == 0 {
            assert_eq!(out_of_order, 0);
        } else {
            assert!(
                out_of_order > 100,
                "disorder {disorder}: only {out_of_order} late records"
            );
        }
    }
}

#[test]
fn dense_and_tiny_spans_keep_counts_and_bounds() {
    for span in [1, 1_000, 60_000, 31 * 60 * 1000, 48 * 3_600_000] {
        let mut o = options(Encoding::Tsv, 20, 5_000);
        o.span_ms = span;
        let got = records(o.clone());
        assert_eq!(got.len(), 5_000);
        for r in &got {
            assert!(r.event_time_ms >= o.start_ms && r.event_time_ms < o.start_ms + span);
        }
    }
}

/// `(time, user, domain_userid, session id)` per TSV record, checking on the way that the
/// client_session entity (when present) names the same session as `domain_sessionid`.
fn session_view(record: &Record) -> (u64, String, Option<String>) {
    let f = fields(record);
    let time = parse_timestamp(f[124]).expect("derived_tstamp");
    let session = (!f[123].is_empty()).then(|| f[123].to_string());
    if !f[52].is_empty() {
        let contexts: Value = serde_json::from_str(f[52]).expect("contexts");
        for entity in contexts["data"].as_array().expect("entities") {
            if entity["schema"]
                .as_str()
                .is_some_and(|s| s.contains("/client_session/"))
            {
                assert_eq!(entity["data"]["sessionId"].as_str(), session.as_deref());
                assert_eq!(entity["data"]["userId"].as_str(), Some(f[15]));
            }
        }
    }
    (time, f[15].to_string(), session)
}

#[test]
fn sessions_have_short_gaps_inside_and_long_gaps_between() {
    for (span, users, events) in [
        (2 * 3_600_000, 100, 20_000),
        (24 * 3_600_000, 50, 20_000),
        (40 * 60_000, 30, 3000),
    ] {
        let mut o = options(Encoding::Tsv, users, events);
        o.span_ms = span;
        let mut sessions: HashMap<String, (String, Vec<u64>)> = HashMap::new();
        let mut without = 0;
        for record in records(o) {
            let (time, user, session) = session_view(&record);
            match session {
                Some(id) => sessions
                    .entry(id)
                    .or_insert_with(|| (user, Vec::new()))
                    .1
                    .push(time),
                None => without += 1,
            }
        }
        assert!(
            without > 0 && without < events as usize / 20,
            "{without} events without session"
        );
        let mut by_user: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
        for (id, (user, mut times)) in sessions {
            times.sort_unstable();
            for pair in times.windows(2) {
                assert!(
                    pair[1] - pair[0] <= SESSION_GAP_MS,
                    "session {id}: gap {} ms",
                    pair[1] - pair[0]
                );
            }
            by_user
                .entry(user)
                .or_default()
                .push((times[0], times[times.len() - 1]));
        }
        let mut multi = 0;
        for (user, mut spans) in by_user {
            spans.sort_unstable();
            multi += usize::from(spans.len() > 1);
            for pair in spans.windows(2) {
                assert!(
                    pair[1].0 > pair[0].1 + SESSION_GAP_MS,
                    "user {user}: sessions {:?} and {:?} are not 30 min apart",
                    pair[0],
                    pair[1]
                );
            }
        }
        if span >= 2 * 3_600_000 {
            assert!(multi > 0, "no user has more than one session");
        }
    }
}

#[test]
fn options_are_validated_with_the_option_named() {
    type Breaker = fn(&mut GenerateOptions);
    let cases: [(Breaker, &str); 7] = [
        (|o| o.users = 0, "users"),
        (|o| o.span_ms = 0, "span_ms"),
        (|o| o.products = 0, "products"),
        (|o| o.categories = 0, "categories"),
        (|o| o.malformed_rate = 1.5, "malformed_rate"),
        (|o| o.promotions = -0.1, "promotions"),
        (|o| o.start_ms = u64::MAX - 10, "start_ms"),
    ];
    for (break_it, name) in cases {
        let mut o = GenerateOptions::default();
        break_it(&mut o);
        let err = Shop::new(o.clone()).expect_err("invalid options");
        assert!(err.contains(name), "{err:?} does not name {name}");
        let io = write_records(o, &mut Vec::new()).expect_err("invalid options");
        assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    }
    let nan = GenerateOptions {
        malformed_rate: f64::NAN,
        ..GenerateOptions::default()
    };
    assert!(Shop::new(nan).is_err());

    assert_eq!("tsv".parse::<Encoding>(), Ok(Encoding::Tsv));
    assert_eq!(
        "snowplow-json".parse::<Encoding>(),
        Ok(Encoding::SnowplowJson)
    );
    assert_eq!("flink-json".parse::<Encoding>(), Ok(Encoding::FlinkJson));
    let err = "xml".parse::<Encoding>().expect_err("unknown encoding");
    assert!(
        err.contains("xml") && err.contains("tsv, snowplow-json, flink-json"),
        "{err}"
    );
    for e in ENCODINGS {
        assert_eq!(e.to_string().parse::<Encoding>(), Ok(e));
    }
}

#[test]
fn defaults_are_as_documented() {
    let o = GenerateOptions::default();
    assert_eq!(
        (o.users, o.events, o.span_ms, o.disorder_ms, o.seed),
        (1000, 100_000, 7_200_000, 2000, 42)
    );
    assert_eq!(parse_timestamp("2026-01-01T00:00:00Z"), Some(o.start_ms));
    assert_eq!(
        (o.products, o.categories, o.encoding),
        (500, 20, Encoding::Tsv)
    );
    assert_eq!(o.malformed_rate, 0.0);
    assert_eq!(o.promotions, 0.0);
}

/// The job's parser accepts every generated record, agrees with the record's key and time, and
/// rejects every malformed one. Malformed records are found by difference: the malformed choice
/// draws from its own random stream, so the same seed without malformed records gives the same
/// records except at the replaced positions.
#[test]
fn the_parser_accepts_good_records_and_rejects_malformed_ones() {
    for encoding in ENCODINGS {
        let clean_options = options(encoding, 150, 8000);
        let mut dirty_options = clean_options.clone();
        dirty_options.malformed_rate = 0.1;
        let clean = records(clean_options);
        let dirty = records(dirty_options);
        assert_eq!(clean.len(), dirty.len());
        let mut malformed = 0;
        let mut reasons = BTreeSet::new();
        for (good, maybe_bad) in clean.iter().zip(&dirty) {
            assert_eq!(good.event_time_ms, maybe_bad.event_time_ms);
            let event = parse_one(&good.bytes).unwrap_or_else(|e| {
                panic!(
                    "{encoding}: rejected ({e}): {}",
                    String::from_utf8_lossy(&good.bytes)
                )
            });
            assert_eq!(event.time, good.event_time_ms);
            assert_eq!(event.user, good.key);
            if good.bytes != maybe_bad.bytes {
                malformed += 1;
                match parse_one(&maybe_bad.bytes) {
                    Err(reason) => {
                        reasons.insert(reason.split(':').next().unwrap_or("").to_string());
                    }
                    Ok(_) => panic!(
                        "{encoding}: malformed record accepted: {}",
                        String::from_utf8_lossy(&maybe_bad.bytes)
                    ),
                }
            } else {
                assert_eq!(good.key, maybe_bad.key);
            }
        }
        assert!(
            (500..1100).contains(&malformed),
            "{encoding}: {malformed} malformed of 8000"
        );
        assert!(
            reasons.len() >= 4,
            "{encoding}: few kinds of rejection: {reasons:?}"
        );
    }
}

/// The three encodings of one simulated stream parse to the same events (the flink shape has no
/// geo fields and no YAUAA entity, so location and device class may differ there).
#[test]
fn the_three_encodings_parse_to_the_same_events() {
    let parsed: Vec<Vec<ShopperEvent>> = ENCODINGS
        .iter()
        .map(|&e| {
            records(options(e, 120, 6000))
                .iter()
                .map(|r| parse_one(&r.bytes).expect("good record"))
                .collect()
        })
        .collect();
    let rows = parsed[0].iter().zip(&parsed[1]).zip(&parsed[2]);
    for (i, ((tsv, sp), flink)) in rows.enumerate() {
        assert_eq!(tsv, sp, "record {i}: TSV and Snowplow JSON differ");
        let mut flink = flink.clone();
        flink.country = tsv.country.clone();
        flink.region = tsv.region.clone();
        flink.device_class = tsv.device_class.clone();
        assert_eq!(tsv, &flink, "record {i}: TSV and flink JSON differ");
    }
}

/// The stream looks like a shop: the event mix, identities, devices, places and campaigns the
/// features need are all there, in plausible shares.
#[test]
fn the_shop_is_realistic() {
    let generated = records(options(Encoding::Tsv, 400, 40_000));
    let events: Vec<ShopperEvent> = generated
        .iter()
        .map(|r| parse_one(&r.bytes).expect("good record"))
        .collect();
    let n = events.len() as f64;
    let mut kinds: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *kinds.entry(e.kind.as_str().to_string()).or_default() += 1;
    }
    let share = |k: &str| kinds.get(k).copied().unwrap_or(0) as f64 / n;
    assert!(
        share("page_view") > 0.2 && share("page_view") < 0.5,
        "{kinds:?}"
    );
    assert!(share("product_view") > 0.1, "{kinds:?}");
    for k in [
        "list_view",
        "list_click",
        "add_to_cart",
        "remove_from_cart",
        "checkout_step",
        "transaction",
        "struct",
        "unstruct",
    ] {
        assert!(kinds.contains_key(k), "no {k}: {kinds:?}");
    }
    assert!(
        share("transaction") < share("checkout_step")
            && share("checkout_step") < share("add_to_cart")
    );

    let platforms: BTreeSet<_> = events.iter().filter_map(|e| e.platform.clone()).collect();
    assert_eq!(
        platforms,
        ["mob", "web"].iter().map(|s| s.to_string()).collect()
    );
    let devices: BTreeSet<_> = events
        .iter()
        .filter_map(|e| e.device_class.clone())
        .collect();
    for class in ["Desktop", "Phone", "Tablet"] {
        assert!(devices.contains(class), "{devices:?}");
    }
    assert!(events.iter().filter(|e| e.campaign.is_some()).count() > 50);
    assert!(events.iter().filter(|e| e.is_search).count() as f64 > n * 0.03);

    // About half of the users log in; some of them in the middle of a session.
    let logged_in: BTreeSet<_> = events
        .iter()
        .filter(|e| e.user.starts_with("user-"))
        .map(|e| &e.user)
        .collect();
    let mut session_users: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut session_regions: HashMap<&str, BTreeSet<Option<&str>>> = HashMap::new();
    for e in &events {
        if let Some(s) = &e.session {
            session_users.entry(s).or_default().insert(&e.user);
            session_regions
                .entry(s)
                .or_default()
                .insert(e.region.as_deref());
        }
    }
    let active_users = 400.0;
    assert!(
        (logged_in.len() as f64) > active_users * 0.3
            && (logged_in.len() as f64) < active_users * 0.7
    );
    assert!(
        session_users.values().filter(|u| u.len() > 1).count() > 5,
        "no mid-session logins"
    );
    assert!(
        session_regions.values().filter(|r| r.len() > 1).count() > 2,
        "no region changes"
    );
    assert!(events.iter().filter(|e| e.session.is_none()).count() as f64 > n * 0.003);

    // Same-millisecond events of one user happen.
    let mut seen: BTreeMap<(&str, u64), usize> = BTreeMap::new();
    for e in &events {
        *seen.entry((&e.user, e.time)).or_default() += 1;
    }
    assert!(seen.values().any(|&c| c > 1));

    // Prices: whole dollars (JSON integers) and cents both occur.
    let prices: BTreeSet<i64> = events
        .iter()
        .flat_map(|e| e.products.iter().filter_map(|p| p.price.map(|p| p.0)))
        .collect();
    assert!(prices.iter().any(|p| p % 1_000_000 == 0) && prices.iter().any(|p| p % 1_000_000 != 0));
    // Every product has a category, and product ids look like P00042.
    for e in &events {
        for p in &e.products {
            assert!(p.category.is_some());
            assert!(p.id.len() == 6 && p.id.starts_with('P'));
        }
    }
    // Transactions: revenue is the cart; checkout steps 1..3.
    let steps: BTreeSet<u32> = events.iter().filter_map(|e| e.checkout_step).collect();
    assert_eq!(steps, [1, 2, 3].into_iter().collect());
    for e in events.iter().filter(|e| e.kind == EventKind::Transaction) {
        assert!(e.revenue.is_some_and(|r| r.0 > 0) && !e.products.is_empty());
    }
    for e in events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::AddToCart | EventKind::RemoveFromCart))
    {
        assert!(e.cart_total.is_some() && e.products.len() == 1);
    }
    for e in events.iter().filter(|e| e.kind == EventKind::ListView) {
        assert!(e.list_name.is_some());
    }
}

/// A transaction's revenue is what its product lines add up to, and its total quantity their
/// quantities (checked on the Snowplow JSON, which keeps `quantity`).
#[test]
fn transactions_add_up() {
    let mut transactions = 0;
    for record in records(options(Encoding::SnowplowJson, 200, 20_000)) {
        let v: Value = serde_json::from_slice(&record.bytes).expect("JSON");
        let Some(t) = v["contexts_com_snowplowanalytics_snowplow_ecommerce_transaction_1"].get(0)
        else {
            continue;
        };
        transactions += 1;
        let products = v["contexts_com_snowplowanalytics_snowplow_ecommerce_product_1"]
            .as_array()
            .expect("products");
        let cents: i64 = products
            .iter()
            .map(|p| {
                (p["price"].as_f64().expect("price") * 100.0).round() as i64
                    * p["quantity"].as_i64().expect("quantity")
            })
            .sum();
        let quantity: i64 = products
            .iter()
            .map(|p| p["quantity"].as_i64().expect("quantity"))
            .sum();
        assert_eq!(
            (t["revenue"].as_f64().expect("revenue") * 100.0).round() as i64,
            cents
        );
        assert_eq!(t["total_quantity"].as_i64(), Some(quantity));
        assert!(t["transaction_id"]
            .as_str()
            .is_some_and(|id| id.starts_with('T')));
    }
    assert!(transactions > 10);
}

/// The promotions the generator draws from.
const PROMOTION_IDS: [&str; 12] = [
    "promo-spring-01",
    "promo-spring-02",
    "promo-summer-01",
    "promo-summer-02",
    "promo-autumn-01",
    "promo-autumn-02",
    "promo-winter-01",
    "promo-winter-02",
    "promo-flash-01",
    "promo-flash-02",
    "promo-member-01",
    "promo-shipping-01",
];

/// `live-shopper generate` with these arguments (and a small shop), its output.
fn generate_cli(encoding: Encoding, extra: &[&str]) -> Vec<u8> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_live-shopper"))
        .args(["generate", "--users", "200", "--events", "12000"])
        .args(["--encoding", encoding.name()])
        .args(extra)
        .output()
        .expect("run live-shopper generate");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// The events of `generate --promotions 0.3` in `encoding`, parsed keeping `fields`; none of
/// them is a bad row.
fn generated_events(encoding: Encoding, fields: &EntityFields) -> Vec<ShopperEvent> {
    let output = generate_cli(encoding, &["--promotions", "0.3"]);
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    let limits = jobs::parse::Limits::default();
    for line in output.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        jobs::parse::parse_record_keeping(line, &limits, fields, &mut events, &mut bad);
    }
    assert!(bad.is_empty(), "{encoding}: bad rows {:?}", &bad[..1]);
    events
}

/// `--promotions 0.3`: banners are seen on about that share of page views, a fifth of them are
/// clicked, and the job's parser reads every one with its promotion, in every encoding alike.
/// Rate 0 is the shop without promotions, byte for byte.
#[test]
fn promotions_are_generated_and_parsed() {
    let mut parsed = Vec::new();
    for encoding in ENCODINGS {
        let events = generated_events(encoding, &NO_FIELDS);
        assert_eq!(events.len(), 12_000, "{encoding}");
        let count = |kind: EventKind| events.iter().filter(|e| e.kind == kind).count();
        let (views, clicks) = (count(EventKind::PromoView), count(EventKind::PromoClick));
        let pages = count(EventKind::PageView);
        assert!(
            views > pages / 10 && views < pages / 2,
            "{encoding}: {views} promotion views, {pages} page views"
        );
        assert!(
            clicks > views / 10 && clicks < views * 3 / 10,
            "{encoding}: {clicks} clicks of {views} views"
        );
        let mut seen = BTreeSet::new();
        for e in &events {
            let promo = matches!(e.kind, EventKind::PromoView | EventKind::PromoClick);
            match (&e.promotion, promo) {
                (Some(p), true) => {
                    assert!(PROMOTION_IDS.contains(&p.id.as_str()), "{encoding}: {p:?}");
                    assert!(p.name.is_some(), "{encoding}: {p:?}");
                    seen.insert(p.id.clone());
                }
                (None, false) => {}
                (p, _) => panic!("{encoding}: {:?} with promotion {p:?}", e.kind),
            }
        }
        assert!(seen.len() > 6, "{encoding}: only {seen:?}");
        parsed.push(events);

        let without = generate_cli(encoding, &[]);
        assert_eq!(
            generate_cli(encoding, &["--promotions", "0"]),
            without,
            "{encoding}: --promotions 0 changed the output"
        );
        let mut library = Vec::new();
        let mut o = options(encoding, 200, 12_000);
        o.promotions = 0.0;
        write_records(o, &mut library).expect("write to a Vec");
        assert_eq!(
            library, without,
            "{encoding}: the CLI and the library differ"
        );
    }
    // The flink shape has no geo fields and no YAUAA entity.
    for (i, ((tsv, sp), flink)) in parsed[0].iter().zip(&parsed[1]).zip(&parsed[2]).enumerate() {
        assert_eq!(tsv, sp, "record {i}: TSV and Snowplow JSON differ");
        let flink = ShopperEvent {
            country: tsv.country.clone(),
            region: tsv.region.clone(),
            device_class: tsv.device_class.clone(),
            ..flink.clone()
        };
        assert_eq!(tsv, &flink, "record {i}: TSV and flink JSON differ");
    }
}

/// Entity fields beyond the event model's, kept for a catalogue, are read alike from every
/// encoding of the same shop, and each one is found where the generator writes it.
#[test]
fn kept_entity_fields_are_parsed_alike_in_every_encoding() {
    use jobs::fields::{EntityKind, FieldType};
    let mut fields = EntityFields::default();
    let wanted = [
        (EntityKind::Product, "quantity", FieldType::Number),
        (EntityKind::Product, "currency", FieldType::Text),
        (EntityKind::Product, "position", FieldType::Number),
        (EntityKind::Cart, "currency", FieldType::Text),
        (EntityKind::CheckoutStep, "delivery_method", FieldType::Text),
        (EntityKind::Promotion, "type", FieldType::Text),
        (EntityKind::Promotion, "position", FieldType::Number),
        (EntityKind::Transaction, "payment_method", FieldType::Text),
        (EntityKind::Transaction, "total_quantity", FieldType::Number),
    ];
    for (entity, key, kind) in wanted {
        fields.add(entity, key, kind).expect("a slot");
    }
    let mut parsed = Vec::new();
    for encoding in ENCODINGS {
        parsed.push(generated_events(encoding, &fields));
    }
    for (i, ((tsv, sp), flink)) in parsed[0].iter().zip(&parsed[1]).zip(&parsed[2]).enumerate() {
        assert_eq!(
            tsv.fields, sp.fields,
            "record {i}: TSV and Snowplow JSON differ"
        );
        assert_eq!(
            tsv.fields, flink.fields,
            "record {i}: TSV and flink JSON differ"
        );
    }
    for (slot, field) in fields.iter().enumerate() {
        let slot = slot as u16;
        let seen = parsed[0]
            .iter()
            .filter(|e| jobs::fields::field_of(e, slot).is_some())
            .count();
        assert!(seen > 10, "{}: in {seen} events", field.name);
    }
}
