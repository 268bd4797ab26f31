//! Bad input: every `Reason`, in every encoding where it can arise. Nothing may panic, and every
//! rejected record must come back as a bad row with the field at fault.

use jobs::parse::{
    encode_batch, parse_event, parse_record, BadRow, Compression, Limits, ParseError, Reason,
    FIELD_NAMES,
};

fn sample(line: usize) -> String {
    let path = format!(
        "{}/tests/fixtures/snowplow/snowplow-enriched-samples.tsv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().nth(line).unwrap().to_owned()
}

/// Line 2 of the Snowplow samples (a transaction) with fields replaced.
fn tsv_with(changes: &[(&str, &str)]) -> Vec<u8> {
    let line = sample(1);
    let mut fields: Vec<&str> = line.split('\t').collect();
    for (name, value) in changes {
        let i = FIELD_NAMES.iter().position(|n| n == name).unwrap();
        fields[i] = value;
    }
    fields.join("\t").into_bytes()
}

fn err(record: &[u8]) -> ParseError {
    match parse_event(record, &Limits::default()) {
        Ok(e) => panic!("parsed: {e:?}"),
        Err(e) => e,
    }
}

fn reject(record: &[u8], field: &str, reason: Reason) {
    let e = err(record);
    assert_eq!(
        (e.field, e.reason),
        (field, reason),
        "{}",
        String::from_utf8_lossy(record)
    );
}

fn invalid_json(record: &[u8], field: &str) {
    let e = err(record);
    assert_eq!(e.field, field, "{e}");
    assert!(matches!(e.reason, Reason::InvalidJson { .. }), "{e}");
}

const FLINK_OK: &str = r#"{"id":"e9081481-82fb-4e7f-9771-82ce58dc22a3","type":"add_to_cart","timestamp":"2025-04-04T14:33:39.968Z","payload":{"product":{"id":"5","price":42.99},"cart":{"total_value":42.99}},"enrich":{"user":{"domain_userid":"d1"},"marketing":null,"platform":"web"},"session":{"sessionId":"s1"}}"#;
const SNOWPLOW_OK: &str = r#"{"event_id":"2a2e92cb-d65b-4978-bf65-498850bd8c08","event":"unstruct","collector_tstamp":"2024-08-14T15:27:51.686Z","domain_userid":"d1","contexts_com_snowplowanalytics_snowplow_ecommerce_product_1":[{"id":"P1","price":"12.5"}],"unstruct_event_com_snowplowanalytics_snowplow_ecommerce_snowplow_ecommerce_action_1":{"type":"product_view"}}"#;

#[test]
fn well_formed_baselines_parse() {
    for record in [sample(1).into_bytes(), FLINK_OK.into(), SNOWPLOW_OK.into()] {
        parse_event(&record, &Limits::default()).unwrap();
    }
}

#[test]
fn not_an_encoding() {
    reject(b"", "record", Reason::UnknownEncoding);
    reject(b"hello world", "record", Reason::UnknownEncoding);
    reject(
        b"\xff\xfe\x00\x01garbage\x80\x81",
        "record",
        Reason::UnknownEncoding,
    );
    reject(b"[1,2,3]", "record", Reason::UnknownEncoding);
    reject(
        br#"{"foo": 1, "bar": [true]}"#,
        "record",
        Reason::UnknownEncoding,
    );
    // Pseudo-random bytes, a few with tabs: always a bad row, never a panic.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 7, 64, 300, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(parse_event(&bytes, &Limits::default()).is_err());
    }
}

#[test]
fn wrong_field_count() {
    let line = sample(0);
    let short = line.rsplit_once('\t').unwrap().0;
    reject(
        short.as_bytes(),
        "record",
        Reason::FieldCount { found: 130 },
    );
    reject(
        format!("{line}\t").as_bytes(),
        "record",
        Reason::FieldCount { found: 132 },
    );
    reject(b"a\tb", "record", Reason::FieldCount { found: 2 });
    // A CSV-style quoted tab is not an escape: it is a field separator.
    let quoted = line.replacen("Snowplow JavaScript Tracker Demo", "\"Snowplow\tDemo\"", 1);
    reject(
        quoted.as_bytes(),
        "record",
        Reason::FieldCount { found: 132 },
    );
}

#[test]
fn broken_json_in_each_column() {
    for column in ["contexts", "derived_contexts", "unstruct_event"] {
        invalid_json(
            &tsv_with(&[(
                column,
                r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"#,
            )]),
            column,
        );
        invalid_json(&tsv_with(&[(column, "not json")]), column);
        invalid_json(
            &tsv_with(&[(column, r#"{"schema":"x","data":[]} trailing"#)]),
            column,
        );
    }
    // Well-formed JSON of the wrong shape.
    invalid_json(
        &tsv_with(&[(
            "contexts",
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":{}}"#,
        )]),
        "contexts",
    );
    invalid_json(
        &tsv_with(&[(
            "contexts",
            r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-1","data":[{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0","data":[1]}]}"#,
        )]),
        "contexts",
    );
    // Snowplow JSON and flink JSON: the top-level key at fault is named.
    invalid_json(
        SNOWPLOW_OK
            .replace(r#"[{"id":"P1""#, r#"[{"id":"P1"]"#)
            .as_bytes(),
        "contexts_com_snowplowanalytics_snowplow_ecommerce_product_1",
    );
    invalid_json(
        SNOWPLOW_OK
            .replace(r#"[{"id":"P1","#, r#"{"id":"P1","#)
            .replace(r#""12.5"}]"#, r#""12.5"}"#)
            .as_bytes(),
        "contexts_com_snowplowanalytics_snowplow_ecommerce_product_1",
    );
    invalid_json(
        FLINK_OK
            .replace(r#""payload":{"product""#, r#""payload":[{"product""#)
            .as_bytes(),
        "payload",
    );
    invalid_json(
        FLINK_OK
            .replace(r#""marketing":null"#, r#""marketing":"none""#)
            .as_bytes(),
        "enrich",
    );
    invalid_json(&FLINK_OK.as_bytes()[..FLINK_OK.len() - 1], "record");
    invalid_json(format!("{FLINK_OK} x").as_bytes(), "record");
    invalid_json(br#"{"event_id": "#, "event_id");
    reject(b"{\"event_id\": \"\xff\"}", "record", Reason::InvalidUtf8);
}

#[test]
fn unexpected_envelope_schema() {
    let e = err(&tsv_with(&[(
        "contexts",
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/2-0-0","data":[]}"#,
    )]));
    assert_eq!(e.field, "contexts");
    assert!(
        matches!(e.reason, Reason::UnexpectedSchema { ref schema } if schema.ends_with("2-0-0")),
        "{e}"
    );
    let e = err(&tsv_with(&[(
        "unstruct_event",
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":{"schema":"x","data":{}}}"#,
    )]));
    assert_eq!(e.field, "unstruct_event");
}

#[test]
fn bad_timestamps() {
    reject(
        &tsv_with(&[("derived_tstamp", "2024-13-01 00:00:00")]),
        "derived_tstamp",
        Reason::InvalidTimestamp,
    );
    reject(
        &tsv_with(&[("derived_tstamp", ""), ("collector_tstamp", "yesterday")]),
        "collector_tstamp",
        Reason::InvalidTimestamp,
    );
    reject(
        &tsv_with(&[("derived_tstamp", ""), ("collector_tstamp", "")]),
        "collector_tstamp",
        Reason::MissingTimestamp,
    );
    reject(
        FLINK_OK
            .replace("2025-04-04T14:33:39.968Z", "04/04/2025")
            .as_bytes(),
        "timestamp",
        Reason::InvalidTimestamp,
    );
    reject(
        FLINK_OK
            .replace(r#""timestamp":"2025-04-04T14:33:39.968Z","#, "")
            .as_bytes(),
        "timestamp",
        Reason::MissingTimestamp,
    );
    reject(
        SNOWPLOW_OK
            .replace("2024-08-14T15:27:51.686Z", "2024-08-14T15:27:51.686+25:99x")
            .as_bytes(),
        "collector_tstamp",
        Reason::InvalidTimestamp,
    );
    reject(
        SNOWPLOW_OK
            .replace(r#""collector_tstamp":"2024-08-14T15:27:51.686Z","#, "")
            .as_bytes(),
        "collector_tstamp",
        Reason::MissingTimestamp,
    );
    reject(
        SNOWPLOW_OK
            .replace(r#""2024-08-14T15:27:51.686Z""#, "1723649271686")
            .as_bytes(),
        "collector_tstamp",
        Reason::NotAString,
    );
}

#[test]
fn no_user_key() {
    let none = [
        ("user_id", ""),
        ("domain_userid", ""),
        ("network_userid", ""),
    ];
    reject(&tsv_with(&none), "user_id", Reason::MissingUserKey);
    reject(
        SNOWPLOW_OK
            .replace(r#""domain_userid":"d1","#, r#""user_id":"","#)
            .as_bytes(),
        "user_id",
        Reason::MissingUserKey,
    );
    reject(
        FLINK_OK
            .replace(r#""domain_userid":"d1""#, r#""user_id":null"#)
            .as_bytes(),
        "enrich.user",
        Reason::MissingUserKey,
    );
    reject(
        FLINK_OK
            .replace(r#""user":{"domain_userid":"d1"},"#, "")
            .as_bytes(),
        "enrich.user",
        Reason::MissingUserKey,
    );
}

#[test]
fn bad_event_ids() {
    reject(
        &tsv_with(&[("event_id", "not-a-uuid")]),
        "event_id",
        Reason::InvalidEventId,
    );
    reject(
        &tsv_with(&[("event_id", "694a1d25-b2ba-4fef-ac66-f65d835297d")]),
        "event_id",
        Reason::InvalidEventId,
    );
    reject(
        &tsv_with(&[("event_id", "")]),
        "event_id",
        Reason::MissingEventId,
    );
    reject(
        FLINK_OK
            .replace("e9081481-82fb-4e7f-9771-82ce58dc22a3", "e9081481")
            .as_bytes(),
        "id",
        Reason::InvalidEventId,
    );
    reject(
        FLINK_OK
            .replace(r#""e9081481-82fb-4e7f-9771-82ce58dc22a3""#, "42")
            .as_bytes(),
        "id",
        Reason::NotAString,
    );
    reject(
        SNOWPLOW_OK
            .replace(r#""event_id":"2a2e92cb-d65b-4978-bf65-498850bd8c08","#, "")
            .as_bytes(),
        "event_id",
        Reason::MissingEventId,
    );
}

#[test]
fn bad_numbers() {
    let contexts = |data: &str| {
        format!(
            r#"{{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{data}]}}"#
        )
    };
    let product = contexts(
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0","data":{"id":"P1","price":"cheap"}}"#,
    );
    reject(
        &tsv_with(&[("contexts", &product)]),
        "product.price",
        Reason::InvalidNumber,
    );
    let cart = contexts(
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/cart/jsonschema/1-0-1","data":{"total_value":true}}"#,
    );
    reject(
        &tsv_with(&[("contexts", &cart)]),
        "cart.total_value",
        Reason::InvalidNumber,
    );
    let step = contexts(
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/checkout_step/jsonschema/1-0-0","data":{"step":2.5}}"#,
    );
    reject(
        &tsv_with(&[("contexts", &step)]),
        "checkout_step.step",
        Reason::InvalidNumber,
    );
    let revenue = contexts(
        r#"{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/transaction/jsonschema/1-0-0","data":{"revenue":1e400}}"#,
    );
    assert!(parse_event(&tsv_with(&[("contexts", &revenue)]), &Limits::default()).is_err());
    reject(
        FLINK_OK
            .replace(r#""total_value":42.99"#, r#""total_value":"NaN""#)
            .as_bytes(),
        "cart.total_value",
        Reason::InvalidNumber,
    );
    reject(
        SNOWPLOW_OK.replace(r#""12.5""#, r#""12,5""#).as_bytes(),
        "product.price",
        Reason::InvalidNumber,
    );
}

#[test]
fn invalid_utf8() {
    let mut record = tsv_with(&[("user_id", "XX")]);
    let at = record.windows(2).position(|w| w == b"XX").unwrap();
    record[at] = 0xFF;
    reject(&record, "user_id", Reason::InvalidUtf8);
    // In a field the job does not read, it does not matter.
    let mut record = tsv_with(&[("page_title", "XX")]);
    let at = record.windows(2).position(|w| w == b"XX").unwrap();
    record[at] = 0xFF;
    parse_event(&record, &Limits::default()).unwrap();
}

#[test]
fn display_names_field_and_reason() {
    let e = err(&tsv_with(&[("derived_tstamp", "soon")]));
    assert_eq!(e.to_string(), "derived_tstamp: unparsable timestamp");
    let e = err(b"a\tb");
    assert_eq!(
        e.to_string(),
        "record: expected 131 tab-separated fields, found 2"
    );
    let e = err(&tsv_with(&[("contexts", "{")]));
    assert!(
        e.to_string().starts_with("contexts: invalid JSON: EOF"),
        "{e}"
    );
}

fn run(record: &[u8]) -> (usize, Vec<BadRow>) {
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    parse_record(record, &Limits::default(), &mut events, &mut bad);
    (events.len(), bad)
}

fn one_bad_batch(record: &[u8], detail_has: &str) {
    let (good, bad) = run(record);
    assert_eq!((good, bad.len()), (0, 1));
    assert_eq!(bad[0].original, record, "the whole record is kept");
    assert_eq!(bad[0].error.field, "record");
    match &bad[0].error.reason {
        Reason::BadBatch { detail } => assert!(detail.contains(detail_has), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn broken_batches() {
    let mut zstd = vec![0x28, 0xB5, 0x2F, 0xFD];
    zstd.extend_from_slice(b"definitely not zstd");
    one_bad_batch(&zstd, "Zstd decompression failed");
    one_bad_batch(&[0x1F, 0x8B, 1, 2, 3], "Gzip decompression failed");
    let good = encode_batch(&[sample(0).as_bytes()], Compression::Gzip);
    one_bad_batch(&good[..good.len() / 2], "Gzip decompression failed");
    // Decompresses, but the framing is broken.
    let raw = zstd::bulk::compress(&[1, 1, 0, 0, 1, 0, b'x'], 1).unwrap();
    one_bad_batch(&raw, "claims 256 bytes");
    let raw = zstd::bulk::compress(&[2, 1, 0, 0, 0, 0], 1).unwrap();
    one_bad_batch(&raw, "format version 2");
    let mut framed = vec![1u8, 1];
    let line = sample(0);
    framed.extend_from_slice(&(line.len() as u32).to_be_bytes());
    framed.extend_from_slice(line.as_bytes());
    framed.extend_from_slice(&[0, 0]);
    let raw = zstd::bulk::compress(&framed, 1).unwrap();
    one_bad_batch(&raw, "truncated length prefix after 1 events");
}

#[test]
fn bad_event_inside_a_good_batch() {
    let good_a = sample(0);
    let good_b = sample(1);
    let bad_event = good_a.replacen("2a2e92cb-d65b-4978-bf65-498850bd8c08", "nope", 1);
    for compression in [Compression::Zstd, Compression::Gzip] {
        let batch = encode_batch(
            &[
                good_a.as_bytes(),
                bad_event.as_bytes(),
                b"",
                good_b.as_bytes(),
            ],
            compression,
        );
        let (good, bad) = run(&batch);
        assert_eq!(good, 2);
        assert_eq!(bad.len(), 2);
        assert_eq!(
            bad[0].original,
            bad_event.as_bytes(),
            "only the bad event is kept"
        );
        assert_eq!(
            bad[0].error,
            ParseError {
                field: "event_id",
                reason: Reason::InvalidEventId
            }
        );
        assert_eq!(bad[1].original, b"");
        assert_eq!(bad[1].error.reason, Reason::UnknownEncoding);
    }
}

#[test]
fn uncompressed_bad_record_is_kept_whole() {
    let (good, bad) = run(b"a\tb\tc");
    assert_eq!(good, 0);
    assert_eq!(
        bad,
        vec![BadRow {
            error: ParseError {
                field: "record",
                reason: Reason::FieldCount { found: 3 }
            },
            original: b"a\tb\tc".to_vec()
        }]
    );
}
