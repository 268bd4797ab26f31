//! Redis loses the job's data in the middle of a run: it restarts empty (no persistence) or is
//! flushed. Change-only emission alone would never write again the features whose values do not
//! change; the job must notice the loss (its marker key is gone), count it, have every current
//! feature written again, and end with exactly the Redis contents of an undisturbed run.
//!
//! The Redis runs keep closed sessions for 30 days (`lanes.session.retention`): the job
//! republishes a closed session's values while its retention lasts in event time, and the
//! reference, a file-sink run, keeps them for ever. Retention changes expiries only, not values.

mod support;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use live_shopper::generate::kafka::{produce_records, KafkaTarget};
use live_shopper::generate::Record;
use live_shopper::metrics::Metrics;
use live_shopper::sink::redis::marker;
use rdkafka::mocking::MockCluster;
use support::RedisServer;

const TOPIC: &str = "snowplow-enriched-good";
const BAD_ROWS: &str = "snowplow-live-shopper-bad";

/// Waits for `done`, failing the test with `what` after a minute.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within a minute"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn write_records(pipe: &mut File, records: &[Record]) {
    for record in records {
        pipe.write_all(&record.bytes).expect("write a record");
        pipe.write_all(b"\n").expect("write a record");
    }
    pipe.flush().expect("flush the pipe");
}

/// The final state of an undisturbed run over `records`, and the file it read.
fn reference(records: &[Record], dir: &Path) -> std::collections::BTreeMap<String, String> {
    let input = dir.join("shop.tsv");
    support::write_records(records, &input);
    let out = dir.join("reference.jsonl");
    support::run_file_reference(&input, &out, &dir.join("reference-bad.jsonl"));
    support::final_state(&out)
}

/// Runs the job (one worker) on a named pipe that the test fills part by part, and has `lose`
/// make Redis lose its data once the first half of the input is written there, with sessions
/// closed and rolling windows emptied by then. The next part must make the job notice; the rest
/// comes only after, so that the operators still have emissions to make.
fn lose_data_mid_run(lose: impl FnOnce(&mut RedisServer)) {
    let records = support::shop(support::shop_options(20_000, 500, 0.0));
    let dir = tempfile::tempdir().expect("temporary directory");
    let expected = reference(&records, dir.path());
    assert!(expected.len() > 1_000, "too few keys to compare");

    let fifo = dir.path().join("events.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    // Opened for reading too, so that opening does not wait for the job; closing it ends the
    // job's input.
    let mut pipe = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&fifo)
        .expect("open the pipe");

    let mut redis = RedisServer::start();
    let sets = vec![
        "source.kind=file".to_string(),
        format!("source.path={}", fifo.display()),
        "source.batch_size=500".to_string(),
        format!(
            "output.bad_rows_file={}",
            dir.path().join("bad.jsonl").display()
        ),
        "output.sink=redis".to_string(),
        format!("redis.url={}", redis.url()),
        "redis.max_backoff=200ms".to_string(),
        "lanes.session.retention=30d".to_string(),
    ];
    let metrics = Arc::new(Metrics::default());
    let job = {
        let metrics = metrics.clone();
        std::thread::spawn(move || support::run_job_with(&sets, 1, metrics))
    };

    let (first, rest) = records.split_at(records.len() / 2);
    let (next, last) = rest.split_at(2_000);
    write_records(&mut pipe, first);
    wait_until("reading the first half", || {
        assert!(!job.is_finished(), "the job ended early");
        Metrics::get(&metrics.records) >= first.len() as u64
    });
    // Let the sink take the last batch's answers.
    std::thread::sleep(Duration::from_millis(500));
    let before = redis.state();
    assert!(
        before.keys().any(|k| k.starts_with("session:")) && before.len() > 500,
        "too little in Redis before the loss: {} keys",
        before.len()
    );
    assert_eq!(redis.markers().len(), 1, "the worker's marker");
    lose(&mut redis);
    assert_eq!(redis.dbsize(), 0, "Redis lost everything");

    write_records(&mut pipe, next);
    wait_until("noticing the loss", || {
        assert!(!job.is_finished(), "the job ended early");
        Metrics::get(&metrics.redis_resets) > 0
    });
    write_records(&mut pipe, last);
    drop(pipe);
    job.join()
        .expect("the job thread")
        .expect("the job survives the loss");

    assert_eq!(Metrics::get(&metrics.records), records.len() as u64);
    assert_eq!(
        Metrics::get(&metrics.redis_resets),
        1,
        "one loss noticed once"
    );
    let diff = support::differences(&expected, &redis.state());
    assert!(
        diff.is_empty(),
        "Redis after the loss differs from an undisturbed run: {diff}"
    );
    let markers: Vec<String> = redis.markers().into_keys().collect();
    assert_eq!(markers, vec![marker::key(0)]);
}

#[test]
fn a_redis_restarted_empty_mid_run_gets_every_feature_again() {
    lose_data_mid_run(|redis| redis.restart());
}

#[test]
fn a_flushed_redis_gets_every_feature_again() {
    lose_data_mid_run(|redis| {
        let mut conn = redis.connection().expect("connect");
        redis::cmd("FLUSHALL")
            .query::<()>(&mut conn)
            .expect("FLUSHALL");
        // The connection stays up: only the periodic check can tell, once it is due.
        std::thread::sleep(marker::CHECK_EVERY + Duration::from_millis(500));
    });
}

#[test]
fn two_workers_reading_kafka_republish_into_a_redis_restarted_empty() {
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
    assert_eq!(support::retained(&brokers, TOPIC), records.len() as i64);
    let dir = tempfile::tempdir().expect("temporary directory");
    let expected = reference(&records, dir.path());

    let mut redis = RedisServer::start();
    let sets = vec![
        "source.kind=kafka".to_string(),
        "source.bounded=true".to_string(),
        format!("kafka.topic={TOPIC}"),
        format!("kafka.bad_rows_topic={BAD_ROWS}"),
        "kafka.group_id=restart-empty".to_string(),
        "source.batch_size=500".to_string(),
        format!("kafka.properties.bootstrap.servers={brokers}"),
        "output.sink=redis".to_string(),
        format!("redis.url={}", redis.url()),
        "redis.max_backoff=200ms".to_string(),
        "time.idle_timeout=off".to_string(),
        "lanes.session.retention=30d".to_string(),
    ];
    let job = std::thread::spawn(move || support::run_job(&sets, 2));
    // Halfway, by the number of keys: stop Redis there (the job waits for it), then restart it
    // empty.
    wait_until("half the features", || {
        redis.dbsize() as usize > expected.len() / 2
    });
    redis.pause();
    assert!(
        !job.is_finished(),
        "the job ended before Redis could be restarted: give the test more events"
    );
    redis.restart();
    let metrics = job
        .join()
        .expect("the job thread")
        .expect("the job survives the restart");

    assert_eq!(Metrics::get(&metrics.records), records.len() as u64);
    // The worker that had written noticed; the other one may not have connected before.
    let resets = Metrics::get(&metrics.redis_resets);
    assert!((1..=2).contains(&resets), "{resets} losses noticed");
    let diff = support::differences(&expected, &redis.state());
    assert!(
        diff.is_empty(),
        "Redis after the restart differs from an undisturbed run: {diff}"
    );
    let markers: Vec<String> = redis.markers().into_keys().collect();
    assert_eq!(markers, vec![marker::key(0), marker::key(1)]);
}

/// A closed session's value written again (after a loss of data) keeps the expiry of a key
/// Redis still holds, and only a missing key gets the expiry the job computed. The job knows
/// what remains of a closed session's retention only in event time, which in a replay runs far
/// ahead of Redis's clock: a plain `SET PX` would make a session that Redis still holds vanish
/// seconds later.
#[test]
fn a_closed_sessions_value_written_again_keeps_the_expiry_redis_has() {
    use live_shopper::config::RedisSettings;
    use live_shopper::sink::redis::RedisWriter;
    use operators::republish::Republish;
    use operators::FeatureWrite;

    let redis = RedisServer::start();
    let mut conn = redis
        .connection()
        .expect("connect to the test redis-server");
    let _: () = redis::cmd("SET")
        .arg("session:s1:session_duration")
        .arg("120000")
        .arg("PX")
        .arg(600_000)
        .query(&mut conn)
        .expect("SET");
    let settings = RedisSettings {
        url: redis.url(),
        max_backoff: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(5),
        reply_timeout: Duration::from_secs(5),
    };
    let mut writer = RedisWriter::new(&settings, Arc::new(Metrics::default()), Republish::new())
        .expect("a writer");
    let again = |key: &str, value: &str, keep_expiry| FeatureWrite {
        key: key.to_string(),
        value: Some(value.to_string()),
        ttl_ms: 2_000,
        keep_expiry,
    };
    writer.send(&[
        again("session:s1:session_duration", "125000", true),
        again("session:s2:session_duration", "5000", true),
        again("user:u1:view_count_5m", "3", false),
    ]);
    writer.finish();
    let read = |conn: &mut redis::Connection, key: &str| -> (Option<String>, i64) {
        let value = redis::cmd("GET").arg(key).query(conn).expect("GET");
        let ttl = redis::cmd("PTTL").arg(key).query(conn).expect("PTTL");
        (value, ttl)
    };
    let (value, ttl) = read(&mut conn, "session:s1:session_duration");
    assert_eq!(value.as_deref(), Some("125000"), "the value is written");
    assert!(
        ttl > 500_000,
        "the key Redis held keeps its expiry: {ttl} ms left"
    );
    let (value, ttl) = read(&mut conn, "session:s2:session_duration");
    assert_eq!(value.as_deref(), Some("5000"));
    assert!(
        (1..=2_000).contains(&ttl),
        "a missing key gets the job's: {ttl} ms"
    );
    let (value, ttl) = read(&mut conn, "user:u1:view_count_5m");
    assert_eq!(value.as_deref(), Some("3"));
    assert!(
        (1..=2_000).contains(&ttl),
        "other writes set their expiry: {ttl} ms"
    );
}
