//! The parser against real Snowplow events (tests/fixtures/snowplow) and the project's own
//! fixtures (tests/fixtures, see generate.py there): every encoding, and batches.

use jobs::event::{EventKind, Price, Product, ShopperEvent};
use jobs::parse::{encode_batch, parse_event, parse_record, Compression, Limits};

fn shared(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/snowplow/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn own(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

fn parse(line: &str) -> ShopperEvent {
    parse_event(line.as_bytes(), &Limits::default()).unwrap_or_else(|e| panic!("{e}: {line}"))
}

fn id(uuid: &str) -> u128 {
    u128::from_str_radix(&uuid.replace('-', ""), 16).unwrap()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn price(units: i64) -> Option<Price> {
    Some(Price(units * Price::SCALE))
}

fn product(id: &str, category: Option<&str>, price: Option<Price>) -> Product {
    Product {
        id: id.to_owned(),
        name: None,
        category: category.map(str::to_owned),
        brand: None,
        variant: None,
        price,
    }
}

/// `product` with the `name` and `brand` its entity gives.
fn named(product: Product, name: &str, brand: Option<&str>) -> Product {
    Product {
        name: s(name),
        brand: brand.map(str::to_owned),
        ..product
    }
}

/// The three real events, as the TSV parser must derive them.
fn expected_samples() -> Vec<ShopperEvent> {
    let page_view = ShopperEvent {
        time: 1_723_649_271_685, // derived_tstamp 2024-08-14 15:27:51.685
        event_id: id("2a2e92cb-d65b-4978-bf65-498850bd8c08"),
        user: "a5f5d234-78c9-4062-9076-a2ea9ada4fe9".into(), // domain_userid: user_id is empty
        session: s("64af7b17-c715-4560-acf4-b68c8f3a1acc"),  // domain_sessionid
        kind: EventKind::PageView,
        products: vec![],
        list_name: None,
        cart_total: None,
        revenue: None,
        checkout_step: None,
        promotion: None,
        is_search: false,
        page_url: s("http://localhost:3000/"),
        platform: s("web"),
        campaign: None,
        device_class: s("Desktop"), // Firefox on a Mac, no YAUAA entity
        country: None,
        region: None,
        fields: Vec::new(),
    };
    let transaction = ShopperEvent {
        time: 1_723_649_273_080,
        event_id: id("694a1d25-b2ba-4fef-ac66-f65d835297dd"),
        kind: EventKind::Transaction,
        products: vec![
            named(
                product("P125", Some("Mens/Apparel"), price(200)),
                "Baseball T",
                Some("Snowplow"),
            ),
            named(
                product("P175", Some("Mens/Apparel"), price(150)),
                "Shorts",
                Some("Snowplow"),
            ),
        ],
        revenue: price(230),
        ..page_view.clone()
    };
    let legacy = ShopperEvent {
        time: 1_557_499_235_972, // derived_tstamp 2019-05-10 14:40:35.972
        event_id: id("e9234345-f042-46ad-b1aa-424464066a33"),
        user: "user<built-in function input>".into(),
        // Its client_session entity (in derived_contexts) has no sessionId, and there is no
        // domain_sessionid.
        session: None,
        kind: EventKind::Other("unstruct".into()), // legacy add_to_cart schema, not ecommerce
        page_url: None,
        platform: s("pc"),
        device_class: s("Unknown"), // from the YAUAA entity in the 1-0-1 derived_contexts
        ..page_view.clone()
    };
    vec![page_view, transaction, legacy]
}

/// tests/fixtures/ecommerce-enriched.tsv, line by line (see generate.py).
fn expected_variants() -> Vec<ShopperEvent> {
    let base = ShopperEvent {
        time: 1_723_649_273_080,
        event_id: 0,
        user: "a5f5d234-78c9-4062-9076-a2ea9ada4fe9".into(),
        session: s("64af7b17-c715-4560-acf4-b68c8f3a1acc"),
        kind: EventKind::Transaction,
        products: vec![],
        list_name: None,
        cart_total: None,
        revenue: None,
        checkout_step: None,
        promotion: None,
        is_search: false,
        page_url: s("http://localhost:3000/"),
        platform: s("web"),
        campaign: None,
        device_class: s("Desktop"),
        country: None,
        region: None,
        fields: Vec::new(),
    };
    vec![
        ShopperEvent {
            time: 1_723_649_280_001,
            event_id: id("11111111-2222-4333-8444-555555555555"),
            user: "shopper@example.com".into(),
            session: s("c1c1c1c1-0000-4000-8000-000000000001"),
            kind: EventKind::ProductView,
            products: vec![named(
                product("5", Some("Kid shoes"), Some(Price(42_990_000))),
                "SP Flex Runner 2",
                None,
            )],
            is_search: true,
            page_url: s("http://localhost:3000/products?q=run&page=2"),
            campaign: s("spring_sale"),
            device_class: s("Phone"),
            country: s("NL"),
            region: s("NH"),
            ..base.clone()
        },
        ShopperEvent {
            event_id: id("22222222-2222-4333-8444-555555555555"),
            user: "nuid-0001".into(),
            kind: EventKind::AddToCart,
            products: vec![
                product("P125", Some("Mens/Apparel"), price(200)),
                product("P176", Some("Mens/Apparel"), Some(Price(15_500_000))),
            ],
            cart_total: Some(Price(215_500_000)),
            ..base.clone()
        },
        ShopperEvent {
            event_id: id("33333333-2222-4333-8444-555555555555"),
            kind: EventKind::ListView,
            products: vec![
                product("7", Some("Kid shoes"), None),
                product("17", Some("Kid shoes"), None),
            ],
            list_name: s("Kid shoes"),
            ..base.clone()
        },
        ShopperEvent {
            event_id: id("44444444-2222-4333-8444-555555555555"),
            kind: EventKind::CheckoutStep,
            checkout_step: Some(2),
            cart_total: price(99),
            ..base.clone()
        },
        ShopperEvent {
            event_id: id("55555555-2222-4333-8444-555555555555"),
            kind: EventKind::Other("unstruct".into()),
            ..base.clone()
        },
        ShopperEvent {
            event_id: id("66666666-2222-4333-8444-555555555555"),
            kind: EventKind::RemoveFromCart,
            products: vec![product("P125", Some("Mens/Apparel"), price(200))],
            is_search: true,
            page_url: s("https://shop.example/search"),
            device_class: s("Tablet"),
            ..base.clone()
        },
    ]
}

#[test]
fn shared_enriched_samples() {
    let text = shared("snowplow-enriched-samples.tsv");
    let got: Vec<_> = lines(&text).into_iter().map(parse).collect();
    assert_eq!(got, expected_samples());
}

#[test]
fn field_names_match_the_shared_list() {
    let text = shared("enriched-fields.tsv");
    let names: Vec<_> = lines(&text)
        .into_iter()
        .skip(1)
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(names, jobs::parse::FIELD_NAMES.to_vec());
}

#[test]
fn enriched_variants() {
    let text = String::from_utf8(own("ecommerce-enriched.tsv")).unwrap();
    let got: Vec<_> = lines(&text).into_iter().map(parse).collect();
    assert_eq!(got, expected_variants());
}

#[test]
fn snowplow_json_matches_the_tsv() {
    let text = String::from_utf8(own("snowplow-json.jsonl")).unwrap();
    let got: Vec<_> = lines(&text).into_iter().map(parse).collect();
    let mut expected = expected_samples();
    expected.extend(expected_variants());
    assert_eq!(got, expected);
}

#[test]
fn flink_live_shopper_json() {
    let text = String::from_utf8(own("flink-live-shopper.jsonl")).unwrap();
    let got: Vec<_> = lines(&text).into_iter().map(parse).collect();
    let samples = expected_samples();
    let variants = expected_variants();
    // No geo fields and no YAUAA in this shape; the transform keeps only the first product of
    // product views and cart actions.
    let flinked = |e: &ShopperEvent, device: &str| ShopperEvent {
        country: None,
        region: None,
        device_class: s(device),
        ..e.clone()
    };
    let first_product = |e: ShopperEvent| ShopperEvent {
        products: e.products.into_iter().take(1).collect(),
        ..e
    };
    let expected = vec![
        // `"session": {"domain_sessionid", ...}` fallback, `"marketing": null`.
        flinked(&samples[0], "Desktop"),
        // payload.transaction with payload.products.
        flinked(&samples[1], "Desktop"),
        ShopperEvent {
            kind: EventKind::Other("unstruct".into()),
            ..flinked(&samples[2], "Unknown")
        },
        // payload.product, marketing.mkt_campaign, sessionId; the Safari UA says Desktop where
        // YAUAA (not in this shape) said Phone.
        flinked(&variants[0], "Desktop"),
        // payload.product (first only) and payload.cart.
        first_product(flinked(&variants[1], "Desktop")),
        // payload.products and payload.list_name.
        flinked(&variants[2], "Desktop"),
        // payload.checkout_step and payload.cart.
        flinked(&variants[3], "Desktop"),
        // A model-2 action: the transform finds no `_1` body and writes "unknown_ecommerce".
        ShopperEvent {
            kind: EventKind::Other("unknown_ecommerce".into()),
            ..flinked(&variants[4], "Desktop")
        },
        flinked(&variants[5], "Tablet"),
    ];
    assert_eq!(got.len(), expected.len());
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "flink line {}", i + 1);
    }
}

#[test]
fn flink_product_view_example() {
    // The shape of flink-live-shopper's .example/product_view.json (trimmed).
    let json = r#"{
      "id": "e9081481-82fb-4e7f-9771-82ce58dc22a3", "type": "product_view",
      "timestamp": "2025-04-04T14:33:39.968Z",
      "payload": {"product": {"name": "SP Flex Runner 2", "category": "Kid shoes", "id": "5", "price": 42.99},
                  "specification": {"id": "035b0ebc-0622-4a86-9941-97c48f2ab302"}},
      "enrich": {"client": {"useragent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/134.0.0.0 Safari/537.36",
                            "browser": {"viewport": "2056x631", "cookiesEnabled": true},
                            "page": {"page_url": "http://localhost:3000/product/5", "page_referrer": "http://localhost:3000/search?q=run"}},
                 "performance": {"domComplete": 439.59999999403954},
                 "user": {"user_id": "trent@snowplowanalytics.com", "domain_userid": "67430c52-68fb-4277-baeb-b6033403094a"},
                 "marketing": null, "platform": "web"},
      "session": {"sessionId": "116cf32d-74ac-4d54-aae1-65277a0ea749", "eventIndex": 365},
      "metadata": {"event_version": "1-0-2"}
    }"#;
    let e = parse(json);
    assert_eq!(e.time, 1_743_777_219_968);
    assert_eq!(e.event_id, id("e9081481-82fb-4e7f-9771-82ce58dc22a3"));
    assert_eq!(e.kind, EventKind::ProductView);
    assert_eq!(e.user, "trent@snowplowanalytics.com");
    assert_eq!(
        e.session.as_deref(),
        Some("116cf32d-74ac-4d54-aae1-65277a0ea749")
    );
    assert_eq!(
        e.products,
        vec![named(
            product("5", Some("Kid shoes"), Some(Price(42_990_000))),
            "SP Flex Runner 2",
            None
        )]
    );
    assert_eq!(
        e.page_url.as_deref(),
        Some("http://localhost:3000/product/5")
    );
    assert_eq!(e.device_class.as_deref(), Some("Desktop"));
    assert_eq!(e.campaign, None);
    assert!(!e.is_search, "the referrer is a search, the page is not");
}

#[test]
fn flink_empty_payload_objects_mean_none() {
    let json = r#"{"id":"e9081481-82fb-4e7f-9771-82ce58dc22a3","type":"add_to_cart","timestamp":"2025-04-04T14:33:39.96Z",
      "payload":{"product":{},"cart":{}},"enrich":{"user":{"network_userid":"n1"},"marketing":{"mkt_campaign":"c"}},
      "session":{}}"#;
    let e = parse(json);
    assert_eq!(e.time, 1_743_777_219_960);
    assert_eq!(
        (e.kind, e.products, e.cart_total),
        (EventKind::AddToCart, vec![], None)
    );
    assert_eq!(
        (e.user.as_str(), e.session, e.campaign.as_deref()),
        ("n1", None, Some("c"))
    );
    assert_eq!((e.device_class, e.platform), (None, None));
}

#[test]
fn compressed_batches_from_the_command_line_tools() {
    for name in ["batch.zst", "batch.gz"] {
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(&own(name), &Limits::default(), &mut events, &mut bad);
        assert_eq!(bad, vec![], "{name}");
        assert_eq!(events, expected_samples(), "{name}");
    }
}

#[test]
fn encoded_batches_mix_encodings() {
    let tsv = shared("snowplow-enriched-samples.tsv");
    let json = String::from_utf8(own("snowplow-json.jsonl")).unwrap();
    let flink = String::from_utf8(own("flink-live-shopper.jsonl")).unwrap();
    let records: Vec<&[u8]> = [lines(&tsv)[0], lines(&json)[1], lines(&flink)[0]]
        .into_iter()
        .map(str::as_bytes)
        .collect();
    for compression in [Compression::Zstd, Compression::Gzip] {
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(
            &encode_batch(&records, compression),
            &Limits::default(),
            &mut events,
            &mut bad,
        );
        assert!(bad.is_empty(), "{bad:?}");
        let kinds: Vec<_> = events.iter().map(|e| e.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                EventKind::PageView,
                EventKind::Transaction,
                EventKind::PageView
            ]
        );
    }
}

#[test]
fn file_lines_with_terminators_parse() {
    let text = shared("snowplow-enriched-samples.tsv");
    let line = format!("{}\r\n", lines(&text)[0]);
    assert_eq!(parse(&line), expected_samples()[0]);
}
