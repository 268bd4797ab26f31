//! The parser's limits: events dated too far ahead of the wall clock, and compressed batches that
//! inflate past the caps, are bad rows with their own reasons; everything else is untouched.

use std::io::Write;

use jobs::parse::time::{format_iso8601, format_timestamp, parse_timestamp};
use jobs::parse::{
    encode_batch, parse_event, parse_record, BadRow, Compression, InflationLimit, Limits,
    ParseError, Reason, FIELD_NAMES, MAX_EVENT_TIME,
};

const MINUTE: u64 = 60_000;

/// The wall clock of these tests: 2026-12-01T12:00:00Z.
fn now() -> u64 {
    parse_timestamp("2026-12-01T12:00:00Z").unwrap()
}

/// The limits of a poll at [`now`] with the default `time.max_future` of 15 minutes.
fn live() -> Limits {
    Limits::default().at(now(), Some(15 * MINUTE))
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The transaction of the Snowplow samples with fields replaced.
fn tsv_with(changes: &[(&str, &str)]) -> Vec<u8> {
    let text = fixture("snowplow/snowplow-enriched-samples.tsv");
    let line = text.lines().nth(1).unwrap();
    let mut fields: Vec<&str> = line.split('\t').collect();
    for (name, value) in changes {
        let i = FIELD_NAMES.iter().position(|n| n == name).unwrap();
        fields[i] = value;
    }
    fields.join("\t").into_bytes()
}

/// The first Snowplow JSON fixture, dated `iso`.
fn snowplow_json_at(iso: &str) -> Vec<u8> {
    let line = fixture("snowplow-json.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let line = replace_value(&line, "derived_tstamp", iso);
    replace_value(&line, "collector_tstamp", iso).into_bytes()
}

/// The first flink-live-shopper JSON fixture, dated `iso`.
fn flink_json_at(iso: &str) -> Vec<u8> {
    let line = fixture("flink-live-shopper.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_owned();
    replace_value(&line, "timestamp", iso).into_bytes()
}

/// Replaces the string value of the top-level `"key":"..."` in a JSON line.
fn replace_value(line: &str, key: &str, value: &str) -> String {
    let marker = format!("\"{key}\":\"");
    let start = line
        .find(&marker)
        .unwrap_or_else(|| panic!("{key} in {line}"))
        + marker.len();
    let end = start + line[start..].find('"').unwrap();
    format!("{}{value}{}", &line[..start], &line[end..])
}

fn future(record: &[u8], limits: &Limits) -> ParseError {
    match parse_event(record, limits) {
        Ok(event) => panic!("accepted an event at {}", format_iso8601(event.time)),
        Err(e) => e,
    }
}

#[test]
fn an_event_too_far_ahead_is_a_bad_row_naming_its_field() {
    let ahead = now() + 16 * MINUTE;
    let latest = now() + 15 * MINUTE;
    let reason = Reason::FutureTimestamp {
        time: ahead,
        latest,
    };
    let sql = format_timestamp(ahead);
    let iso = format_iso8601(ahead);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (tsv_with(&[("derived_tstamp", &sql)]), "derived_tstamp"),
        (
            tsv_with(&[("derived_tstamp", ""), ("collector_tstamp", &sql)]),
            "collector_tstamp",
        ),
        (snowplow_json_at(&iso), "derived_tstamp"),
        (flink_json_at(&iso), "timestamp"),
    ];
    for (record, field) in cases {
        let e = future(&record, &live());
        assert_eq!((e.field, &e.reason), (field, &reason), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{field}: event time 2026-12-01T12:16:00.000Z is later than \
                 2026-12-01T12:15:00.000Z (the wall clock plus time.max_future)"
            )
        );
        // Through parse_record: one bad row holding the event.
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(&record, &live(), &mut events, &mut bad);
        assert_eq!((events.len(), bad.len()), (0, 1));
        assert_eq!(bad[0].original, record);
        assert_eq!(bad[0].error, e);
    }
}

#[test]
fn a_derived_time_ahead_is_not_replaced_by_the_collector_time() {
    // derived_tstamp is what the job would count the event at; falling back would move it.
    let ahead = format_timestamp(now() + 30 * MINUTE);
    let ok = format_timestamp(now());
    let e = future(
        &tsv_with(&[("derived_tstamp", &ahead), ("collector_tstamp", &ok)]),
        &live(),
    );
    assert_eq!(e.field, "derived_tstamp");
}

#[test]
fn the_year_9999_is_a_bad_row_today() {
    let e = future(
        &tsv_with(&[("derived_tstamp", "9999-12-31 23:59:59.999")]),
        &live(),
    );
    assert_eq!(
        e.reason,
        Reason::FutureTimestamp {
            time: MAX_EVENT_TIME,
            latest: now() + 15 * MINUTE
        }
    );
    // With the rule off it is a valid (if odd) time; past it nothing is.
    let off = Limits::default().at(now(), None);
    assert_eq!(
        parse_event(
            &tsv_with(&[("derived_tstamp", "9999-12-31 23:59:59.999")]),
            &off
        )
        .unwrap()
        .time,
        MAX_EVENT_TIME
    );
    for absurd in [
        "9999-12-31T23:59:59.999-00:01",
        "10000-01-01 00:00:00",
        "1969-12-31 23:59:59",
        "0000-01-01 00:00:00",
        "-001-01-01 00:00:00",
        "2026-12-01T12:00:00+99:00",
    ] {
        let e = future(&tsv_with(&[("derived_tstamp", absurd)]), &off);
        assert_eq!(
            (e.field, e.reason),
            ("derived_tstamp", Reason::InvalidTimestamp),
            "{absurd}"
        );
    }
}

#[test]
fn events_just_inside_the_limit_and_old_events_are_accepted() {
    for at in [
        now() + 14 * MINUTE,
        now() + 15 * MINUTE, // the limit itself
        now(),
        now() - 365 * 24 * 60 * MINUTE, // a replay of last year
        parse_timestamp("2024-08-14 15:27:51.685").unwrap(),
        0,
    ] {
        let records = [
            tsv_with(&[("derived_tstamp", &format_timestamp(at))]),
            snowplow_json_at(&format_iso8601(at)),
            flink_json_at(&format_iso8601(at)),
        ];
        for record in records {
            let event = parse_event(&record, &live())
                .unwrap_or_else(|e| panic!("{}: {e}", format_iso8601(at)));
            assert_eq!(event.time, at);
        }
    }
}

#[test]
fn a_future_event_in_a_batch_is_one_bad_row_of_its_own() {
    let ahead = format_timestamp(now() + 20 * MINUTE);
    let good = tsv_with(&[]);
    let bad_event = tsv_with(&[("derived_tstamp", &ahead)]);
    for compression in [Compression::Zstd, Compression::Gzip] {
        let batch = encode_batch(&[&good, &bad_event, &good], compression);
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(&batch, &live(), &mut events, &mut bad);
        assert_eq!((events.len(), bad.len()), (2, 1));
        assert_eq!(bad[0].original, bad_event);
        assert!(matches!(
            bad[0].error.reason,
            Reason::FutureTimestamp { .. }
        ));
    }
}

/// zstd of 100 MiB of zeros: about 3 KiB.
fn zstd_bomb() -> Vec<u8> {
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

fn gzip_bomb() -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

fn one_too_large(record: &[u8], limits: &Limits) -> BadRow {
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    parse_record(record, limits, &mut events, &mut bad);
    assert_eq!((events.len(), bad.len()), (0, 1));
    let row = bad.pop().unwrap();
    assert_eq!(
        row.original, record,
        "the bad row holds the compressed record"
    );
    assert_eq!(row.error.field, "record");
    row
}

#[test]
fn bombs_are_one_bad_row_holding_the_compressed_record() {
    for (bomb, name) in [(zstd_bomb(), "zstd"), (gzip_bomb(), "gzip")] {
        let row = one_too_large(&bomb, &live());
        assert_eq!(
            row.error.reason,
            Reason::BatchTooLarge {
                compressed: bomb.len(),
                limit: InflationLimit::Ratio(Limits::DEFAULT_MAX_COMPRESSION_RATIO)
            },
            "{name}"
        );
        assert!(row
            .error
            .to_string()
            .contains("times its size (source.max_compression_ratio)"));

        let no_ratio = Limits {
            max_compression_ratio: u64::MAX,
            ..live()
        };
        let row = one_too_large(&bomb, &no_ratio);
        assert_eq!(
            row.error.reason,
            Reason::BatchTooLarge {
                compressed: bomb.len(),
                limit: InflationLimit::Size(64 << 20)
            },
            "{name}"
        );
        assert_eq!(
            row.error.to_string(),
            format!(
                "record: compressed batch of {} bytes inflates past 67108864 bytes \
                 (source.max_decompressed_mib)",
                bomb.len()
            )
        );
    }
}

/// A batch of the sample transaction repeated, and its decompressed size.
fn batch_of_events(n: usize, compression: Compression) -> (Vec<u8>, u64) {
    let event = tsv_with(&[]);
    let events: Vec<&[u8]> = vec![&event; n];
    let size = 2 + n * (4 + event.len());
    (encode_batch(&events, compression), size as u64)
}

#[test]
fn batches_at_the_caps_parse_and_one_byte_more_does_not() {
    for compression in [Compression::Zstd, Compression::Gzip] {
        let (batch, size) = batch_of_events(300, compression);
        let at_size = Limits {
            max_decompressed: size,
            max_compression_ratio: u64::MAX,
            ..live()
        };
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(&batch, &at_size, &mut events, &mut bad);
        assert_eq!((events.len(), bad.len()), (300, 0), "{compression:?}");
        let under_size = Limits {
            max_decompressed: size - 1,
            ..at_size
        };
        let row = one_too_large(&batch, &under_size);
        assert!(matches!(
            row.error.reason,
            Reason::BatchTooLarge {
                limit: InflationLimit::Size(_),
                ..
            }
        ));

        let ratio = size.div_ceil(batch.len() as u64);
        let at_ratio = Limits {
            max_compression_ratio: ratio,
            ..live()
        };
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(&batch, &at_ratio, &mut events, &mut bad);
        assert_eq!((events.len(), bad.len()), (300, 0), "{compression:?}");
        let row = one_too_large(
            &batch,
            &Limits {
                max_compression_ratio: ratio - 1,
                ..at_ratio
            },
        );
        assert!(matches!(
            row.error.reason,
            Reason::BatchTooLarge {
                limit: InflationLimit::Ratio(r),
                ..
            } if r == ratio - 1
        ));
    }
}

#[test]
fn realistic_batches_are_far_inside_the_default_caps() {
    // The fixtures' batches, and a large batch of one repeated event (more alike than real
    // traffic), pass the defaults.
    let mut records = vec![
        std::fs::read(format!(
            "{}/tests/fixtures/batch.zst",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
        std::fs::read(format!(
            "{}/tests/fixtures/batch.gz",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    ];
    records.push(batch_of_events(500, Compression::Gzip).0);
    for record in records {
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        parse_record(&record, &live(), &mut events, &mut bad);
        assert!(bad.is_empty(), "{:?}", bad.first().map(ToString::to_string));
        assert!(!events.is_empty());
    }
}
