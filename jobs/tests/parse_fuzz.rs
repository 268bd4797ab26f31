//! Property tests of the parser over mutated fixtures: every encoding of `tests/fixtures` and
//! compressed batches of them, with byte flips, truncation, splices, field swaps, huge numbers,
//! odd timestamps and deep JSON nesting, under random limits.
//!
//! For every record: no panic; every record comes back as events or bad rows (a record that
//! yields neither is a failure, except a well-formed batch of no events); a batch is either one
//! bad row holding the whole record or one result per frame; no event is dated past the limits;
//! and parsing again gives the same result.
//!
//! The run is bounded by case count so that it fits CI (5000 cases per property, about ten
//! seconds in release), with a fixed seed so that CI runs are repeatable. For a longer search,
//! set `PARSER_FUZZ_CASES` (a count) and `PARSER_FUZZ_SEED` (a number, or `random`). A failure
//! prints the shrunk input and is kept in `parse_fuzz.proptest-regressions` beside this file,
//! which later runs try first.

use std::io::{Read, Write};
use std::sync::OnceLock;

use jobs::event::ShopperEvent;
use jobs::parse::time::{format_iso8601, format_timestamp, parse_timestamp};
use jobs::parse::{
    parse_event, parse_record, BadRow, InflationLimit, Limits, Reason, FIELD_NAMES, MAX_EVENT_TIME,
};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::RngSeed;

/// Every event of the fixtures, one record each.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let mut seeds = Vec::new();
        for name in [
            "ecommerce-enriched.tsv",
            "snowplow-json.jsonl",
            "flink-live-shopper.jsonl",
            "snowplow/snowplow-enriched-samples.tsv",
        ] {
            let text = std::fs::read(format!("{dir}/{name}")).expect("fixture");
            seeds.extend(
                text.split(|&b| b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(<[u8]>::to_vec),
            );
        }
        assert!(seeds.len() >= 20, "fixtures missing");
        seeds
    })
}

/// The compressed batch fixtures.
fn batch_fixtures() -> &'static [Vec<u8>] {
    static BATCHES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BATCHES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        ["batch.zst", "batch.gz"]
            .iter()
            .map(|name| std::fs::read(format!("{dir}/{name}")).expect("fixture"))
            .collect()
    })
}

const HUGE_NUMBERS: &[&str] = &[
    "18446744073709551616",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "99999999999999999999999999999999999999999999999999",
    "1e400",
    "-1e400",
    "1e-400",
    "1E308",
    "-0",
    "0.0000000000000000000000000000001",
    "NaN",
    "Infinity",
    "4294967296",
    "2147483648",
];

const ODD_TIMESTAMPS: &[&str] = &[
    "9999-12-31 23:59:59.999",
    "9999-12-31T23:59:59.999Z",
    "9999-12-31T23:59:59.999-00:01",
    "9999-12-31T23:59:60Z",
    "10000-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00Z",
    "1970-01-01T00:00:00+00:01",
    "2024-02-29T12:00:00Z",
    "2023-02-29T12:00:00Z",
    "2024-08-14T15:27:51.685999999999999999999999Z",
    "2024-08-14T15:27:51+23:59",
    "2024-08-14T15:27:51-23:59",
    "2024-08-14T15:27:51+24:00",
    "2024-08-14T15:27:51.Z",
    "2024-08-14 15:27:51 ",
    "2024-08-14",
    "",
    "now",
];

/// What to do to a record's bytes.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR one byte.
    Flip(Index, u8),
    /// Keep a prefix.
    Truncate(Index),
    /// Insert a piece of another seed.
    Splice {
        seed: Index,
        from: Index,
        len: usize,
        at: Index,
    },
    /// Insert arbitrary bytes.
    Insert(Index, Vec<u8>),
    /// Swap two fields (TSV) or two comma-separated pieces (JSON).
    Swap(Index, Index),
    /// Replace a run of digits with a huge or odd number.
    Number(Index, &'static str),
    /// Set every event-time field to this text.
    Timestamp(String),
    /// Nest a value this deep, in arrays or in objects.
    Nest { depth: usize, arrays: bool },
}

fn timestamp_text() -> impl Strategy<Value = String> {
    prop_oneof![
        select(ODD_TIMESTAMPS).prop_map(String::from),
        (0..=MAX_EVENT_TIME + 1000, any::<bool>()).prop_map(|(t, iso)| if iso {
            format_iso8601(t)
        } else {
            format_timestamp(t)
        }),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[ Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,30})?(Z|z|[+-][0-9]{2}:?[0-9]{2})?",
        ".{0,40}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        1 => (any::<Index>(), any::<Index>(), 0..200usize, any::<Index>())
            .prop_map(|(seed, from, len, at)| Mutation::Splice { seed, from, len, at }),
        1 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(i, bytes)| Mutation::Insert(i, bytes)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        2 => (any::<Index>(), select(HUGE_NUMBERS)).prop_map(|(i, n)| Mutation::Number(i, n)),
        3 => timestamp_text().prop_map(Mutation::Timestamp),
        1 => (prop_oneof![1..200usize, 100..100_000usize], any::<bool>())
            .prop_map(|(depth, arrays)| Mutation::Nest { depth, arrays }),
    ]
}

fn apply(record: &mut Vec<u8>, mutation: &Mutation) {
    match mutation {
        Mutation::Flip(i, x) if !record.is_empty() => {
            let at = i.index(record.len());
            record[at] ^= x;
        }
        Mutation::Flip(..) => {}
        Mutation::Truncate(i) => record.truncate(i.index(record.len() + 1)),
        Mutation::Splice {
            seed,
            from,
            len,
            at,
        } => {
            let source = &seeds()[seed.index(seeds().len())];
            let start = from.index(source.len());
            let piece = source[start..(start + len).min(source.len())].to_vec();
            let at = at.index(record.len() + 1);
            record.splice(at..at, piece);
        }
        Mutation::Insert(i, bytes) => {
            let at = i.index(record.len() + 1);
            record.splice(at..at, bytes.iter().copied());
        }
        Mutation::Swap(a, b) => {
            let separator = if record.contains(&b'\t') { b'\t' } else { b',' };
            let mut pieces: Vec<Vec<u8>> = record
                .split(|&c| c == separator)
                .map(<[u8]>::to_vec)
                .collect();
            let (a, b) = (a.index(pieces.len()), b.index(pieces.len()));
            pieces.swap(a, b);
            *record = pieces.join(&separator);
        }
        Mutation::Number(i, number) => {
            let runs = digit_runs(record);
            if !runs.is_empty() {
                let (start, end) = runs[i.index(runs.len())];
                record.splice(start..end, number.bytes());
            }
        }
        Mutation::Timestamp(text) => set_times(record, text),
        Mutation::Nest { depth, arrays } => nest(record, *depth, *arrays),
    }
}

fn digit_runs(record: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < record.len() {
        if record[i].is_ascii_digit() {
            let start = i;
            while i < record.len() && record[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// Sets the event-time fields: TSV columns by name, JSON string values by key.
fn set_times(record: &mut Vec<u8>, text: &str) {
    let fields: Vec<&[u8]> = record.split(|&c| c == b'\t').collect();
    if fields.len() == FIELD_NAMES.len() {
        let mut fields: Vec<Vec<u8>> = fields.into_iter().map(<[u8]>::to_vec).collect();
        for name in ["derived_tstamp", "collector_tstamp"] {
            let i = FIELD_NAMES.iter().position(|n| *n == name).expect("field");
            fields[i] = text.as_bytes().to_vec();
        }
        *record = fields.join(&b'\t');
        return;
    }
    let escaped = serde_json::to_string(text).expect("a string");
    for key in [
        "\"derived_tstamp\":",
        "\"collector_tstamp\":",
        "\"timestamp\":",
    ] {
        let Some(at) = find(record, key.as_bytes()) else {
            continue;
        };
        let start = at + key.len();
        if record.get(start) != Some(&b'"') {
            continue;
        }
        let Some(len) = record[start + 1..].iter().position(|&c| c == b'"') else {
            continue;
        };
        record.splice(start..start + len + 2, escaped.bytes());
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Nests a value `depth` levels deep: an extra key of a JSON record, the contexts of a TSV line.
fn nest(record: &mut Vec<u8>, depth: usize, arrays: bool) {
    let (open, close): (&[u8], &[u8]) = if arrays {
        (b"[", b"]")
    } else {
        (b"{\"a\":", b"}")
    };
    let mut value = open.repeat(depth);
    value.extend_from_slice(b"1");
    value.extend_from_slice(&close.repeat(depth));
    let fields: Vec<&[u8]> = record.split(|&c| c == b'\t').collect();
    if fields.len() == FIELD_NAMES.len() {
        let mut fields: Vec<Vec<u8>> = fields.into_iter().map(<[u8]>::to_vec).collect();
        let i = FIELD_NAMES
            .iter()
            .position(|n| *n == "contexts")
            .expect("field");
        let mut contexts = br#"{"schema":"iglu:com.snowplowanalytics.snowplow/contexts/jsonschema/1-0-0","data":[{"schema":"iglu:com.snowplowanalytics.snowplow.ecommerce/product/jsonschema/1-0-0","data":"#.to_vec();
        contexts.extend_from_slice(&value);
        contexts.extend_from_slice(b"}]}");
        fields[i] = contexts;
        *record = fields.join(&b'\t');
    } else if let Some(at) = record.iter().position(|&c| c == b'{') {
        // Both as an unknown key and inside a key the parser reads.
        let mut insert = b"\"deep\":".to_vec();
        insert.extend_from_slice(&value);
        insert.extend_from_slice(b",");
        record.splice(at + 1..at + 1, insert);
        for key in [
            &b"\"payload\":"[..],
            b"\"contexts_com_snowplowanalytics_snowplow_ecommerce_product_1\":",
        ] {
            if let Some(at) = find(record, key) {
                let start = at + key.len();
                record.splice(start..start, open.repeat(depth));
                let Some(end) = value_end(record, start + open.len() * depth) else {
                    return;
                };
                record.splice(end..end, close.repeat(depth));
            }
        }
    }
}

/// The end of the JSON value starting at `start` (a crude scan that respects strings).
fn value_end(record: &[u8], start: usize) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0i64, false, false);
    for (i, &c) in record.iter().enumerate().skip(start) {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(i),
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b',' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn limits() -> impl Strategy<Value = Limits> {
    let caps = prop_oneof![
        3 => Just((Limits::DEFAULT_MAX_DECOMPRESSED, Limits::DEFAULT_MAX_COMPRESSION_RATIO)),
        1 => (1u64..4096, 1u64..50),
        1 => (1u64..(1 << 20), 1u64..1000),
    ];
    let latest = prop_oneof![
        3 => Just(MAX_EVENT_TIME),
        // Around the fixtures' times (2024 and 2025).
        2 => 1_700_000_000_000u64..1_760_000_000_000,
        1 => 0..=MAX_EVENT_TIME,
    ];
    (caps, latest).prop_map(
        |((max_decompressed, max_compression_ratio), latest)| Limits {
            latest_event_time: latest,
            max_decompressed,
            max_compression_ratio,
        },
    )
}

fn mutated_event() -> impl Strategy<Value = Vec<u8>> {
    (any::<Index>(), proptest::collection::vec(mutation(), 0..4)).prop_map(|(seed, mutations)| {
        let mut record = seeds()[seed.index(seeds().len())].clone();
        for m in &mutations {
            apply(&mut record, m);
        }
        record
    })
}

#[derive(Clone, Copy, Debug)]
enum Codec {
    Zstd,
    Gzip,
}

fn compress(raw: &[u8], codec: Codec) -> Vec<u8> {
    match codec {
        Codec::Zstd => zstd::bulk::compress(raw, 3).expect("zstd"),
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(raw).expect("gzip");
            e.finish().expect("gzip")
        }
    }
}

/// Batches of mutated events, with their framing and their compressed bytes mutated too.
fn mutated_batch() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(mutated_event(), 0..6),
        prop_oneof![Just(Codec::Zstd), Just(Codec::Gzip)],
        proptest::collection::vec(mutation(), 0..2),
        proptest::collection::vec(mutation(), 0..2),
        any::<bool>(),
    )
        .prop_map(|(events, codec, framing, compressed, concatenate)| {
            let mut raw = vec![1u8, 1];
            for event in &events {
                raw.extend_from_slice(&(event.len() as u32).to_be_bytes());
                raw.extend_from_slice(event);
            }
            for m in framing
                .iter()
                .filter(|m| matches!(m, Mutation::Flip(..) | Mutation::Truncate(_)))
            {
                apply(&mut raw, m);
            }
            let mut record = compress(&raw, codec);
            if concatenate {
                // Two frames (zstd) or members (gzip) make one stream.
                let half = raw.len() / 2;
                record = compress(&raw[..half], codec);
                record.extend_from_slice(&compress(&raw[half..], codec));
            }
            for m in compressed.iter().filter(|m| {
                matches!(
                    m,
                    Mutation::Flip(..) | Mutation::Truncate(_) | Mutation::Insert(..)
                )
            }) {
                apply(&mut record, m);
            }
            record
        })
}

/// The decompressed bytes of a batch by an independent reading (no window limit), up to
/// `cap + 1` bytes; `None` if the stream is broken.
fn reference_inflate(record: &[u8], cap: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let ok = if record.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        zstd::stream::read::Decoder::new(record)
            .and_then(|d| d.take(cap + 1).read_to_end(&mut out))
            .is_ok()
    } else {
        flate2::read::MultiGzDecoder::new(record)
            .take(cap + 1)
            .read_to_end(&mut out)
            .is_ok()
    };
    ok.then_some(out)
}

/// The frames of a decompressed batch, if its framing is sound.
fn reference_frames(raw: &[u8]) -> Option<Vec<&[u8]>> {
    let rest = raw.strip_prefix(&[1u8, 1])?;
    let mut rest = rest;
    let mut frames = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return None;
        }
        frames.push(&tail[..len]);
        rest = &tail[len..];
    }
    Some(frames)
}

fn parse(record: &[u8], limits: &Limits) -> (Vec<ShopperEvent>, Vec<BadRow>) {
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    parse_record(record, limits, &mut events, &mut bad);
    (events, bad)
}

/// The properties every record must have; a failure message otherwise.
fn check(record: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let (events, bad) = parse(record, limits);
    prop_assert_eq!(
        parse(record, limits),
        (events.clone(), bad.clone()),
        "parsing again differs"
    );
    for event in &events {
        prop_assert!(event.time <= limits.latest_event_time && event.time <= MAX_EVENT_TIME);
    }
    for row in &bad {
        // Every reason can be written out.
        prop_assert!(!row.error.to_string().is_empty());
    }
    let batch = record.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) || record.starts_with(&[0x1F, 0x8B]);
    if !batch {
        prop_assert_eq!(events.len() + bad.len(), 1, "one result per event record");
        if let [row] = &bad[..] {
            prop_assert_eq!(&row.original, record);
            let alone = parse_event(record, limits).err();
            prop_assert_eq!(alone.as_ref(), Some(&row.error));
        }
        return Ok(());
    }
    let (cap, _) = cap_of(record, limits);
    let inflated = reference_inflate(record, cap);
    let whole = matches!(&bad[..], [row] if row.original == record
        && matches!(row.error.reason, Reason::BadBatch { .. } | Reason::BatchTooLarge { .. }));
    if whole {
        prop_assert!(events.is_empty());
        match &bad[0].error.reason {
            Reason::BatchTooLarge { limit, compressed } => {
                prop_assert_eq!(*compressed, record.len());
                prop_assert_eq!(*limit, cap_of(record, limits).1);
                // Really past the cap, unless the stream breaks later (which the parser, having
                // stopped at the cap, cannot see).
                if let Some(inflated) = &inflated {
                    prop_assert!(inflated.len() as u64 > cap, "{} <= {cap}", inflated.len());
                }
            }
            Reason::BadBatch { detail } => {
                let sound = inflated
                    .as_deref()
                    .filter(|raw| raw.len() as u64 <= cap)
                    .and_then(reference_frames)
                    .is_some();
                // The zstd window limit refuses some frames that decode without it.
                prop_assert!(
                    !sound || detail.contains("memory"),
                    "sound batch refused: {detail}"
                );
            }
            _ => unreachable!(),
        }
        return Ok(());
    }
    let inflated = inflated.expect("the parser decoded what the reference could not");
    prop_assert!(inflated.len() as u64 <= cap);
    let frames = reference_frames(&inflated).expect("the parser accepted a broken framing");
    prop_assert_eq!(
        events.len() + bad.len(),
        frames.len(),
        "one result per frame"
    );
    // Bad rows hold their frame, in order.
    let mut frames_left = frames.iter();
    for row in &bad {
        prop_assert!(
            frames_left.any(|f| *f == row.original.as_slice()),
            "a bad row that is no frame of the batch"
        );
    }
    Ok(())
}

fn cap_of(record: &[u8], limits: &Limits) -> (u64, InflationLimit) {
    let by_ratio = (record.len() as u64).saturating_mul(limits.max_compression_ratio);
    if by_ratio < limits.max_decompressed {
        (
            by_ratio,
            InflationLimit::Ratio(limits.max_compression_ratio),
        )
    } else {
        (
            limits.max_decompressed,
            InflationLimit::Size(limits.max_decompressed),
        )
    }
}

fn cases() -> u32 {
    std::env::var("PARSER_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000)
}

fn seed() -> RngSeed {
    match std::env::var("PARSER_FUZZ_SEED").as_deref() {
        Ok("random") => RngSeed::Random,
        Ok(n) => RngSeed::Fixed(n.parse().expect("PARSER_FUZZ_SEED: a number or `random`")),
        Err(_) => RngSeed::Fixed(0x005E_ED0F_FA11),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        rng_seed: seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_events_are_events_or_bad_rows(record in mutated_event(), limits in limits()) {
        check(&record, &limits)?;
    }

    #[test]
    fn mutated_batches_are_events_or_bad_rows(record in mutated_batch(), limits in limits()) {
        check(&record, &limits)?;
    }

    #[test]
    fn mutated_fixture_batches_are_events_or_bad_rows(
        which in any::<Index>(),
        mutations in proptest::collection::vec(mutation(), 0..4),
        limits in limits(),
    ) {
        let mut record = batch_fixtures()[which.index(batch_fixtures().len())].clone();
        for m in &mutations {
            apply(&mut record, m);
        }
        check(&record, &limits)?;
    }

    #[test]
    fn arbitrary_bytes_are_events_or_bad_rows(
        record in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            // Behind a batch magic, so that the decoders see garbage too.
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| [&[0x28, 0xB5, 0x2F, 0xFD][..], &b].concat()),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(|b| [&[0x1F, 0x8B, 8, 0][..], &b].concat()),
        ],
        limits in limits(),
    ) {
        check(&record, &limits)?;
    }

    #[test]
    fn timestamps_parse_into_range_and_round_trip(text in timestamp_text()) {
        if let Some(t) = parse_timestamp(&text) {
            prop_assert!(t <= MAX_EVENT_TIME);
            prop_assert_eq!(parse_timestamp(&format_iso8601(t)), Some(t));
            prop_assert_eq!(parse_timestamp(&format_timestamp(t)), Some(t));
        }
    }
}

/// 200 000 levels of nesting, in an unknown key and in keys the parser reads: serde_json skips
/// unknown values (and unknown keys of nested objects) without recursing, and an array where an
/// object belongs is a bad row. Either way one result, and no stack overflow.
#[test]
fn deep_nesting_is_skipped_or_a_bad_row() {
    for seed in seeds() {
        for arrays in [true, false] {
            let mut record = seed.clone();
            nest(&mut record, 200_000, arrays);
            let (events, bad) = parse(&record, &Limits::default());
            assert_eq!(events.len() + bad.len(), 1);
            let read = seed.contains(&b'\t')
                || find(seed, b"\"payload\":").is_some()
                || find(
                    seed,
                    b"\"contexts_com_snowplowanalytics_snowplow_ecommerce_product_1\":",
                )
                .is_some();
            if read && arrays {
                assert!(
                    matches!(
                        bad.first().map(|r| &r.error.reason),
                        Some(Reason::InvalidJson { .. })
                    ),
                    "{:?} {arrays} {}",
                    bad.first().map(ToString::to_string),
                    String::from_utf8_lossy(seed)
                );
            }
        }
    }
}
