//! Redis goes away in the middle of a run and comes back: the job (reading Kafka, here
//! librdkafka's mock cluster) must hold back and retry with backoff, lose no write, and end with
//! exactly the Redis contents of an undisturbed run.
//!
//! The redis-server runs with `--appendonly yes --appendfsync always` in its own directory, so
//! that everything it acknowledged before being killed (SIGKILL) is still there after the
//! restart on the same port; a server that keeps nothing on disk would come back empty and the
//! keys written before the kill would be gone, which no job could notice or repair.

mod support;

use std::time::{Duration, Instant};

use live_shopper::generate::kafka::{produce_records, KafkaTarget};
use live_shopper::metrics::Metrics;
use rdkafka::mocking::MockCluster;

const TOPIC: &str = "snowplow-enriched-good";
const BAD_ROWS: &str = "snowplow-live-shopper-bad";

#[test]
fn a_redis_restart_mid_run_loses_nothing() {
    // The mock cluster keeps at most 5 MB per partition (older records are deleted), so the
    // topic has 32 partitions for these 30 000 records of about 2.3 kB.
    let records = support::shop(support::shop_options(30_000, 1_000, 0.0));
    let mock = MockCluster::new(1).expect("start librdkafka's mock cluster");
    mock.create_topic(TOPIC, 32, 1)
        .expect("create the events topic");
    mock.create_topic(BAD_ROWS, 1, 1)
        .expect("create the bad-rows topic");
    let brokers = mock.bootstrap_servers();
    produce_records(&records, &KafkaTarget::new(brokers.clone(), TOPIC)).expect("produce the shop");
    let kept = support::retained(&brokers, TOPIC);
    assert_eq!(
        kept,
        records.len() as i64,
        "the mock cluster kept every record"
    );

    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let reference_out = dir.path().join("reference.jsonl");
    support::run_file_reference(&input, &reference_out, &dir.path().join("bad.jsonl"));
    let expected = support::final_state(&reference_out);

    let mut redis = support::RedisServer::start_persistent();
    let sets = vec![
        "source.kind=kafka".to_string(),
        "source.bounded=true".to_string(),
        format!("kafka.topic={TOPIC}"),
        format!("kafka.bad_rows_topic={BAD_ROWS}"),
        "kafka.group_id=restart".to_string(),
        format!("kafka.properties.bootstrap.servers={brokers}"),
        "output.sink=redis".to_string(),
        format!("redis.url={}", redis.url()),
        "redis.max_backoff=500ms".to_string(),
        "time.idle_timeout=off".to_string(),
    ];
    let started = Instant::now();
    let job = std::thread::spawn(move || support::run_job(&sets, 2));

    // Kill Redis as soon as the first features are in.
    let deadline = Instant::now() + Duration::from_secs(60);
    while redis.dbsize() == 0 {
        assert!(
            Instant::now() < deadline,
            "no feature reached Redis within a minute"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        !job.is_finished(),
        "the job ended before Redis could be stopped: give the test more events"
    );
    let written_before = redis.dbsize();
    redis.kill();
    let killed_at = started.elapsed();
    std::thread::sleep(Duration::from_secs(3));
    assert!(!job.is_finished(), "the job cannot end while Redis is down");
    redis.restart();
    assert!(
        redis.dbsize() >= written_before,
        "the append-only file kept what Redis acknowledged"
    );

    let metrics = job
        .join()
        .expect("the job thread")
        .expect("the job survives the restart");
    assert_eq!(Metrics::get(&metrics.records), records.len() as u64);
    assert_eq!(
        Metrics::get(&metrics.redis_resets),
        0,
        "a Redis that kept its data (and the job's marker) lost nothing to republish"
    );
    eprintln!(
        "Redis killed {killed_at:?} into the run with {written_before} keys, back 3 s later; run took {:?}",
        started.elapsed()
    );
    let diff = support::differences(&expected, &redis.state());
    assert!(
        diff.is_empty(),
        "Redis after the restart differs from an undisturbed run: {diff}"
    );
}
