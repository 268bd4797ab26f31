//! The Kafka source and the Kafka bad-rows sink against librdkafka's mock cluster (three brokers
//! speaking the real protocol on loopback ports, inside the test process): a generated shop
//! produced to a 4-partition topic and read back by the job must give the same final feature
//! state as the same records read from a file; bad rows land on the bad-rows topic with their
//! reason; offsets are committed for the group, so that a second run reads nothing new.

mod support;

use std::collections::BTreeMap;

use live_shopper::generate::kafka::{produce_records, KafkaTarget};
use live_shopper::generate::Record;
use live_shopper::sink::bad_rows::decode_original;
use rdkafka::mocking::MockCluster;
use serde_json::Value;
use sha2::{Digest, Sha256};

const TOPIC: &str = "snowplow-enriched-good";
const BAD_ROWS: &str = "snowplow-live-shopper-bad";

/// A mock cluster holding the topics and `records`.
fn cluster_with(
    records: &[Record],
) -> (
    MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let mock = MockCluster::new(3).expect("start librdkafka's mock cluster");
    mock.create_topic(TOPIC, 4, 1)
        .expect("create the events topic");
    mock.create_topic(BAD_ROWS, 1, 1)
        .expect("create the bad-rows topic");
    let brokers = mock.bootstrap_servers();
    let produced = produce_records(records, &KafkaTarget::new(brokers.clone(), TOPIC))
        .expect("produce the shop");
    assert_eq!(produced.records, records.len() as u64);
    assert_eq!(produced.partitions, 4);
    assert!(!produced.created, "the topic existed");
    // (The mock cluster keeps at most 5 MB per partition: these small shops fit.)
    assert_eq!(support::retained(&brokers, TOPIC), records.len() as i64);
    (mock, brokers)
}

/// The multiset of (reason, field, original) of bad-row JSON documents.
fn bad_row_keys(rows: &[Value]) -> BTreeMap<(String, String, String), usize> {
    let mut keys = BTreeMap::new();
    for row in rows {
        let text = |name: &str| {
            row.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        *keys
            .entry((text("reason"), text("field"), text("original")))
            .or_insert(0) += 1;
    }
    keys
}

#[test]
fn kafka_source_matches_the_file_source_and_commits_its_offsets() {
    let records = support::shop(support::shop_options(4_000, 150, 0.02));
    let (_mock, brokers) = cluster_with(&records);
    let dir = tempfile::tempdir().expect("temporary directory");

    // The reference: the same records from a file.
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let reference_out = dir.path().join("reference.jsonl");
    let reference_bad = dir.path().join("reference-bad.jsonl");
    let reference = support::run_file_reference(&input, &reference_out, &reference_bad);
    let expected = support::final_state(&reference_out);
    assert!(
        expected.len() > 1_000,
        "the shop gives features: {}",
        expected.len()
    );

    // The same records from Kafka, two workers, two partitions each.
    let output = dir.path().join("kafka.jsonl");
    let metrics = support::run_job(
        &support::bounded_kafka_sets(&brokers, "mock-test", &output),
        2,
    )
    .expect("the Kafka run");
    let get = live_shopper::metrics::Metrics::get;
    assert_eq!(
        get(&metrics.records),
        records.len() as u64,
        "every record read once"
    );
    assert_eq!(get(&metrics.events), get(&reference.events));
    assert_eq!(get(&metrics.bad_rows), get(&reference.bad_rows));
    let actual = support::final_state(&output);
    let diff = support::differences(&expected, &actual);
    assert!(
        diff.is_empty(),
        "Kafka run differs from the file run: {diff}"
    );

    // Bad rows: on the topic, with their reason, the text and the exact bytes.
    let reference_rows: Vec<Value> = std::fs::read_to_string(&reference_bad)
        .expect("reference bad rows")
        .lines()
        .map(|l| serde_json::from_str(l).expect("bad row JSON"))
        .collect();
    assert!(!reference_rows.is_empty(), "the shop has malformed records");
    let topic_rows: Vec<Value> = support::read_topic(&brokers, BAD_ROWS)
        .iter()
        .map(|m| serde_json::from_slice(m).expect("bad-row message is JSON"))
        .collect();
    assert_eq!(bad_row_keys(&topic_rows), bad_row_keys(&reference_rows));
    let sent: std::collections::HashSet<&[u8]> =
        records.iter().map(|r| r.bytes.as_slice()).collect();
    for row in &topic_rows {
        let reason = row
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(!reason.is_empty(), "a reason: {row}");
        let original = row
            .get("original")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let (bytes, length, sha) = decode_original(row).expect("original_base64 and friends");
        assert_eq!(
            String::from_utf8_lossy(&bytes),
            original,
            "original is the lossy text of the bytes"
        );
        assert!(
            sent.contains(bytes.as_slice()),
            "original_base64 holds the exact bytes of a record: {row}"
        );
        assert_eq!(length, Some(bytes.len() as u64), "{row}");
        assert_eq!(sha, Some(format!("{:x}", Sha256::digest(&bytes))), "{row}");
        assert_eq!(row["truncated"], false, "{row}");
        let partition = row["partition"].as_i64().expect("a partition");
        assert!((0..4).contains(&partition), "{row}");
        assert!(row["offset"].as_i64().is_some_and(|o| o >= 0), "{row}");
    }

    // Offsets: committed up to the end of every partition.
    let ends = support::end_offsets(&brokers, TOPIC);
    assert_eq!(ends.values().sum::<i64>(), records.len() as i64);
    assert_eq!(
        support::committed_offsets(&brokers, "mock-test", TOPIC),
        ends
    );

    // A second run of the group starts there and finds nothing new.
    let again = dir.path().join("again.jsonl");
    let metrics = support::run_job(
        &support::bounded_kafka_sets(&brokers, "mock-test", &again),
        2,
    )
    .expect("the second run");
    assert_eq!(
        get(&metrics.records),
        0,
        "nothing new after the committed offsets"
    );
    assert!(support::final_state(&again).is_empty());
}

#[test]
fn any_number_of_workers_gives_the_same_state() {
    let records = support::shop(support::shop_options(3_000, 100, 0.0));
    let (_mock, brokers) = cluster_with(&records);
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut states = Vec::new();
    // 1 worker: all four partitions; 3 workers: two, one and one; 5 workers: one idle worker.
    for threads in [1, 3, 5] {
        let output = dir.path().join(format!("w{threads}.jsonl"));
        let group = format!("workers-{threads}");
        let metrics = support::run_job(
            &support::bounded_kafka_sets(&brokers, &group, &output),
            threads,
        )
        .expect("the Kafka run");
        assert_eq!(
            live_shopper::metrics::Metrics::get(&metrics.records),
            records.len() as u64
        );
        states.push((threads, support::final_state(&output)));
    }
    for (threads, state) in &states[1..] {
        let diff = support::differences(&states[0].1, state);
        assert!(
            diff.is_empty(),
            "{threads} workers differ from 1 worker: {diff}"
        );
    }
}

#[test]
fn a_missing_topic_is_a_clear_error() {
    let mock = MockCluster::new(1).expect("start librdkafka's mock cluster");
    let brokers = mock.bootstrap_servers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut sets = support::bounded_kafka_sets(&brokers, "missing", &dir.path().join("out.jsonl"));
    sets.push("kafka.topic=no-such-topic".to_string());
    let error = support::run_job(&sets, 1).expect_err("no topic, no run");
    assert!(
        error.contains("no-such-topic")
            && error.contains("kafka.topic")
            && error.contains(&brokers),
        "the error names the topic, the setting and the brokers: {error}"
    );
}
