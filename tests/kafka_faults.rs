//! Faults on the Kafka side, against real servers (librdkafka's mock cluster, a tansu broker, a
//! silent TCP listener, a redis-server):
//!
//! - poison records: an unparsable record of 2 MB becomes a bad row cut to
//!   `kafka.bad_rows_max_bytes` that keeps the original's length and SHA-256; a record larger
//!   than the consumer may receive becomes a bad row naming its partition and offset, is
//!   skipped, and the bounded run ends with every good event counted;
//! - file bad rows: the same document, the same cap, and a fresh file every run;
//! - brokers that stall: a broker paused (tansu, SIGSTOP) or down (the mock cluster) for longer
//!   than the idle timeout while a backlog is read changes nothing in the settled Redis
//!   contents, compared with the same run undisturbed;
//! - an offset commit the coordinator refuses is sent again, even when no record follows;
//! - a tansu restarted without its data stops the job with a clear error instead of librdkafka's
//!   crash;
//! - brokers that do not answer: start-up fails within `kafka.timeout`, naming the brokers and
//!   the setting, and never showing a password.
//!
//! The tansu tests need `~/.cargo/bin/tansu` (see `support::TANSU_INSTALL`).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use live_shopper::generate::kafka::{produce_records, KafkaTarget};
use live_shopper::generate::Record;
use live_shopper::metrics::Metrics;
use live_shopper::sink::bad_rows::decode_original;
use rdkafka::mocking::MockCluster;
use serde_json::Value;
use sha2::{Digest, Sha256};

const TOPIC: &str = "snowplow-enriched-good";
const BAD_ROWS: &str = "snowplow-live-shopper-bad";
/// The default `kafka.bad_rows_max_bytes`.
const CAP: usize = 900_000;

type Mock = MockCluster<'static, rdkafka::producer::DefaultProducerContext>;

/// A mock cluster of one broker with the events topic (`partitions`) and the bad-rows topic.
fn mock_cluster(partitions: i32) -> (Mock, String) {
    let mock = MockCluster::new(1).expect("start librdkafka's mock cluster");
    mock.create_topic(TOPIC, partitions, 1)
        .expect("create the events topic");
    mock.create_topic(BAD_ROWS, 1, 1)
        .expect("create the bad-rows topic");
    let brokers = mock.bootstrap_servers();
    (mock, brokers)
}

/// Produces `records` to `TOPIC`, allowing messages of up to 200 MB, in batches of at most
/// 100 kB (so that the mock cluster's answers, which may exceed the fetch sizes by a batch per
/// partition, stay small).
fn produce(records: &[Record], brokers: &str) {
    let mut target = KafkaTarget::new(brokers, TOPIC);
    target.properties = vec![
        ("message.max.bytes".into(), "200000000".into()),
        ("batch.size".into(), "100000".into()),
    ];
    let produced = produce_records(records, &target).expect("produce the records");
    assert_eq!(produced.records, records.len() as u64);
}

/// A shop of `events` records with an unparsable record of `size` bytes in the middle.
fn shop_with_poison(events: u64, size: usize) -> (Vec<Record>, Vec<u8>) {
    let mut records = support::shop(support::shop_options(events, 80, 0.0));
    // Tabs but not 131 fields: read in full, rejected by the parser.
    let poison: Vec<u8> = b"poison\t".iter().copied().cycle().take(size).collect();
    let middle = records.len() / 2;
    records.insert(
        middle,
        Record {
            key: "poison-user".into(),
            bytes: poison.clone(),
            event_time_ms: records[middle].event_time_ms,
        },
    );
    (records, poison)
}

/// The bad-rows documents on the bad-rows topic.
fn bad_rows_on_topic(brokers: &str) -> Vec<(usize, Value)> {
    support::read_topic(brokers, BAD_ROWS)
        .iter()
        .map(|m| {
            (
                m.len(),
                serde_json::from_slice(m).expect("a bad row is JSON"),
            )
        })
        .collect()
}

/// The reference run of `records` through the file source: (metrics, final state, bad rows).
fn file_reference(
    records: &[Record],
    dir: &Path,
) -> (Arc<Metrics>, BTreeMap<String, String>, String) {
    let input = dir.join("reference.tsv");
    support::write_records(records, &input);
    let output = dir.join("reference.jsonl");
    let bad = dir.join("reference-bad.jsonl");
    let metrics = support::run_file_reference(&input, &output, &bad);
    let bad_rows = std::fs::read_to_string(&bad).expect("the reference's bad rows");
    (metrics, support::final_state(&output), bad_rows)
}

/// Asserts that `row` holds a prefix of `original`, its full length and its SHA-256.
fn assert_describes(row: &Value, original: &[u8]) {
    let (kept, length, sha) = decode_original(row).expect("original fields");
    assert!(original.starts_with(&kept), "a prefix of the original");
    assert!(
        kept.len() > CAP / 4,
        "the cap's room is used: {} bytes",
        kept.len()
    );
    assert_eq!(length, Some(original.len() as u64));
    assert_eq!(sha, Some(format!("{:x}", Sha256::digest(original))));
    assert_eq!(row["truncated"], true);
}

#[test]
fn a_two_megabyte_unparsable_record_is_a_capped_bad_row() {
    let (records, poison) = shop_with_poison(1_500, 2 << 20);
    let (_mock, brokers) = mock_cluster(2);
    produce(&records, &brokers);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (reference, expected, _) = file_reference(&records, dir.path());

    let output = dir.path().join("kafka.jsonl");
    let metrics = support::run_job(&support::bounded_kafka_sets(&brokers, "poison", &output), 2)
        .expect("a poison record does not stop the run");
    assert_eq!(Metrics::get(&metrics.records), records.len() as u64);
    assert_eq!(
        Metrics::get(&metrics.events),
        Metrics::get(&reference.events)
    );
    assert_eq!(Metrics::get(&metrics.bad_rows), 1);
    let diff = support::differences(&expected, &support::final_state(&output));
    assert!(diff.is_empty(), "differs from the file run: {diff}");

    let rows = bad_rows_on_topic(&brokers);
    assert_eq!(rows.len(), 1, "one bad row");
    let (size, row) = &rows[0];
    assert!(*size <= CAP, "the bad-rows message is {size} bytes");
    assert_describes(row, &poison);
    assert!(
        row["reason"].as_str().is_some_and(|r| r.contains("131")),
        "{}",
        row["reason"]
    );
    assert!(row["partition"].as_i64().is_some() && row["offset"].as_i64().is_some());
    assert_eq!(
        support::committed_offsets(&brokers, "poison", TOPIC)
            .values()
            .sum::<i64>(),
        records.len() as i64,
        "every offset committed, the poison record's too"
    );
}

#[test]
fn a_record_too_large_to_receive_is_skipped_as_a_bad_row() {
    // librdkafka's limit lowered to 1.5 MB, so that a 2 MB record stands for one above the
    // default 100 MB (the tansu test has the real size). The mock cluster answers a fetch with
    // up to its size plus a partition's share: the share is kept small.
    let (records, poison) = shop_with_poison(2_000, 2 << 20);
    let (_mock, brokers) = mock_cluster(3);
    produce(&records, &brokers);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (reference, expected, _) = file_reference(&records, dir.path());

    let output = dir.path().join("kafka.jsonl");
    let mut sets = support::bounded_kafka_sets(&brokers, "too-large", &output);
    sets.push("kafka.properties.receive.message.max.bytes=1500000".to_string());
    sets.push("kafka.properties.fetch.max.bytes=1000000".to_string());
    sets.push("kafka.properties.max.partition.fetch.bytes=200000".to_string());
    let metrics = support::run_job(&sets, 1).expect("the run ends");
    assert_eq!(Metrics::get(&metrics.records), records.len() as u64);
    assert_eq!(
        Metrics::get(&metrics.events),
        Metrics::get(&reference.events)
    );
    assert_eq!(Metrics::get(&metrics.bad_rows), 1);
    let diff = support::differences(&expected, &support::final_state(&output));
    assert!(diff.is_empty(), "differs from the file run: {diff}");

    let rows = bad_rows_on_topic(&brokers);
    assert_eq!(rows.len(), 1, "one bad row: {rows:?}");
    let row = &rows[0].1;
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("too large to receive") && reason.contains("receive.message.max.bytes"),
        "{reason}"
    );
    assert_eq!(row["original_length"], Value::Null);
    let (partition, offset) = (row["partition"].as_i64(), row["offset"].as_i64());
    let (Some(partition), Some(offset)) = (partition, offset) else {
        panic!("partition and offset: {row}");
    };
    assert_eq!(
        record_at(&brokers, partition as i32, offset).as_deref(),
        Some(poison.as_slice()),
        "the bad row points at the large record"
    );
    assert_eq!(
        support::committed_offsets(&brokers, "too-large", TOPIC)
            .values()
            .sum::<i64>(),
        records.len() as i64,
        "committed past the skipped record"
    );
}

/// The record at `offset` of `partition`, read with a consumer that may receive 200 MB.
fn record_at(brokers: &str, partition: i32, offset: i64) -> Option<Vec<u8>> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "record-at")
        .set("receive.message.max.bytes", "200000000")
        .set("fetch.max.bytes", "199000000")
        .create()
        .expect("a consumer");
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(TOPIC, partition, Offset::Offset(offset))
        .expect("offset");
    consumer.assign(&list).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            return Some(message.payload().unwrap_or_default().to_vec());
        }
    }
    None
}

#[test]
fn file_bad_rows_have_the_same_shape_and_cap_and_start_fresh() {
    let (records, poison) = shop_with_poison(300, 2 << 20);
    let dir = tempfile::tempdir().expect("temporary directory");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "a line from an earlier run\n").expect("write");
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let sets = vec![
        "source.kind=file".to_string(),
        format!("source.path={}", input.display()),
        "output.sink=discard".to_string(),
        format!("output.bad_rows_file={}", bad.display()),
    ];
    for run in 0..2 {
        let metrics = support::run_job(&sets, 3).expect("the file run");
        assert_eq!(Metrics::get(&metrics.bad_rows), 1);
        let text = std::fs::read_to_string(&bad).expect("bad rows");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1, "run {run}: only this run's bad row");
        assert!(lines[0].len() <= CAP, "{} bytes", lines[0].len());
        let row: Value = serde_json::from_str(lines[0]).expect("JSON");
        assert_describes(&row, &poison);
        assert_eq!(row["partition"], Value::Null);
        assert_eq!(
            row["offset"].as_u64(),
            Some(records.len() as u64 / 2),
            "its line"
        );
    }
}

/// The job as a child process, with its stderr collected line by line.
struct Job {
    child: std::process::Child,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Job {
    /// Starts `live-shopper run --progress` with two workers and `sets`.
    fn start(sets: &[String]) -> Job {
        use std::io::BufRead;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_live-shopper"));
        command.args(["run", "--progress", "-w", "2"]);
        command.args(["--set", "checkpoint.interval=0"]);
        for set in sets {
            command.args(["--set", set]);
        }
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the job");
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                sink.lock().expect("lines").push(line);
            }
        });
        Job { child, lines }
    }

    fn stderr(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// The event count of the latest progress line.
    fn events(&self) -> Option<u64> {
        let lines = self.lines.lock().expect("lines");
        lines.iter().rev().find_map(|line| {
            let rest = line.strip_prefix('[')?.split_once("] ")?.1;
            rest.split_once(" events")?.0.parse().ok()
        })
    }

    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the job ended ({status}):\n{}", self.stderr());
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings of an unbounded run from `brokers` into `redis`, with the default idleness (3 s,
/// then the wall clock).
fn unbounded_sets(brokers: &str, group: &str, redis: &support::RedisServer) -> Vec<String> {
    vec![
        format!("kafka.topic={TOPIC}"),
        format!("kafka.bad_rows_topic={BAD_ROWS}"),
        format!("kafka.group_id={group}"),
        format!("kafka.properties.bootstrap.servers={brokers}"),
        format!("redis.url={}", redis.url()),
    ]
}

/// Runs the job unbounded over the backlog on `TOPIC` (`total` records, `events` good ones),
/// calls `stall` once the first features are in Redis, and returns Redis once the run has
/// settled: every record read and committed, every partition idle, so that the watermark
/// follows the wall clock (the events are from January 2026): every rolling window is empty
/// and deleted, and every session closed with its final values. That end does not depend on
/// timing, unless a stall made records late.
fn settled_run(
    sets: Vec<String>,
    group: &str,
    brokers: &str,
    totals: (i64, u64),
    stall: impl FnOnce(&mut Job),
) -> (BTreeMap<String, String>, String) {
    let redis = support::RedisServer::start();
    let mut sets = sets;
    sets.extend(unbounded_sets(brokers, group, &redis));
    let mut job = Job::start(&sets);
    let deadline = Instant::now() + Duration::from_secs(300);
    while redis.dbsize() == 0 {
        job.assert_running();
        assert!(Instant::now() < deadline, "no features:\n{}", job.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    stall(&mut job);
    let mut last = (0, Instant::now());
    // What the last look saw, so that a run that never settles says which condition held it.
    let mut seen = String::new();
    loop {
        job.assert_running();
        assert!(
            Instant::now() < deadline,
            "the run did not settle ({seen}; want {} committed and {} events):\n{}",
            totals.0,
            totals.1,
            job.stderr()
        );
        std::thread::sleep(Duration::from_millis(500));
        let committed: i64 = support::committed_offsets(brokers, group, TOPIC)
            .values()
            .sum();
        let size = redis.dbsize();
        let rolling = redis.state().keys().any(|key| key.starts_with("user:"));
        seen = format!(
            "committed {committed}, {size} keys, user keys left: {rolling}, events {:?}",
            job.events()
        );
        if committed < totals.0 || rolling || size == 0 || size != last.0 {
            last = (size, Instant::now());
        } else if last.1.elapsed() >= Duration::from_secs(3) && job.events() == Some(totals.1) {
            break;
        }
    }
    (redis.state(), job.stderr())
}

/// Compares the settled Redis of a stalled run with an undisturbed one.
fn assert_same_end(expected: &BTreeMap<String, String>, actual: &BTreeMap<String, String>) {
    assert!(
        expected.len() > 500 && expected.keys().all(|k| k.starts_with("session:")),
        "the settled state holds the closed sessions only: {} keys",
        expected.len()
    );
    let diff = support::differences(expected, actual);
    assert!(diff.is_empty(), "the stall changed the features: {diff}");
}

#[test]
fn a_broker_down_for_seconds_during_a_backlog_changes_nothing() {
    let records = support::shop(support::shop_options(20_000, 400, 0.0));
    let (mock, brokers) = mock_cluster(16);
    produce(&records, &brokers);
    assert_eq!(support::retained(&brokers, TOPIC), records.len() as i64);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (reference, _, _) = file_reference(&records, dir.path());
    let totals = (records.len() as i64, Metrics::get(&reference.events));
    // Slow answers and small fetches make the backlog last several seconds.
    mock.broker_round_trip_time(1, Duration::from_millis(40))
        .expect("slow the broker down");
    let sets = vec!["kafka.properties.max.partition.fetch.bytes=20000".to_string()];

    let (expected, _) = settled_run(sets.clone(), "calm", &brokers, totals, |_| {});
    let (actual, stderr) = settled_run(sets, "stalled", &brokers, totals, |job| {
        mock.broker_down(1).expect("take the broker down");
        std::thread::sleep(Duration::from_secs(6));
        let during = job.events();
        mock.broker_up(1).expect("bring the broker back");
        assert!(
            during.is_some_and(|events| events < totals.1),
            "the broker went down in the middle of the backlog ({during:?} of {} events read)",
            totals.1
        );
    });
    assert!(
        stderr.contains(&brokers),
        "the outage is reported:
{stderr}"
    );
    assert_same_end(&expected, &actual);
}

/// Waits until `group` has committed `want` offsets in all, while the job runs.
fn wait_for_commits(job: &mut Job, brokers: &str, group: &str, want: i64) -> Result<(), i64> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut committed = 0;
    while Instant::now() < deadline {
        job.assert_running();
        committed = support::committed_offsets(brokers, group, TOPIC)
            .values()
            .sum();
        if committed == want {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(committed)
}

#[test]
fn a_refused_offset_commit_is_sent_again_when_nothing_more_comes() {
    let records = support::shop(support::shop_options(200, 20, 0.0));
    let (mock, brokers) = mock_cluster(1);
    produce(&records, &brokers);
    let redis = support::RedisServer::start();
    let mut job = Job::start(&unbounded_sets(&brokers, "refused", &redis));
    let read = records.len() as i64;
    wait_for_commits(&mut job, &brokers, "refused", read)
        .unwrap_or_else(|seen| panic!("{seen} of {read} committed:\n{}", job.stderr()));
    // The coordinator refuses the next commits, those of the one record that comes last; as
    // nothing comes after it, only sending the offsets again gets it committed.
    use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
    let refusal = RDKafkaRespErr::RD_KAFKA_RESP_ERR_OFFSET_METADATA_TOO_LARGE;
    mock.request_errors(RDKafkaApiKey::OffsetCommit, &[refusal; 3]);
    produce(&records[..1], &brokers);
    wait_for_commits(&mut job, &brokers, "refused", read + 1)
        .unwrap_or_else(|seen| panic!("{seen} of {} committed:\n{}", read + 1, job.stderr()));
    assert!(
        job.stderr().contains("Offset commit (manual) failed"),
        "the refusal is reported:\n{}",
        job.stderr()
    );
}

#[test]
fn on_tansu_a_150_megabyte_record_and_a_2_megabyte_one_are_bad_rows_and_the_run_ends() {
    let tansu = support::Tansu::start();
    let brokers = tansu.brokers();
    let (mut records, small_poison) = shop_with_poison(3_000, 2 << 20);
    // Above librdkafka's default receive.message.max.bytes (100 MB): it cannot be received.
    let huge: Vec<u8> = b"huge\t".iter().copied().cycle().take(150 << 20).collect();
    let at = records.len() / 4;
    records.insert(
        at,
        Record {
            key: "huge-user".into(),
            bytes: huge,
            event_time_ms: records[at].event_time_ms,
        },
    );
    produce(&records, &brokers);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (reference, expected, _) = file_reference(&records, dir.path());
    assert_eq!(Metrics::get(&reference.bad_rows), 2);

    let output = dir.path().join("kafka.jsonl");
    let metrics = support::run_job(&support::bounded_kafka_sets(&brokers, "huge", &output), 2)
        .unwrap_or_else(|e| panic!("the run ends: {e}\ntansu log:\n{}", tansu.log()));
    assert_eq!(Metrics::get(&metrics.records), records.len() as u64);
    assert_eq!(
        Metrics::get(&metrics.events),
        Metrics::get(&reference.events)
    );
    assert_eq!(Metrics::get(&metrics.bad_rows), 2);
    let diff = support::differences(&expected, &support::final_state(&output));
    assert!(diff.is_empty(), "differs from the file run: {diff}");

    let rows = bad_rows_on_topic(&brokers);
    assert_eq!(rows.len(), 2, "two bad rows");
    for (size, _) in &rows {
        assert!(*size <= CAP, "a bad-rows message of {size} bytes");
    }
    let parsed = rows
        .iter()
        .find(|(_, row)| row["original_length"].is_u64())
        .expect("the 2 MB record's bad row");
    assert_describes(&parsed.1, &small_poison);
    let skipped = rows
        .iter()
        .find(|(_, row)| row["original_length"].is_null())
        .expect("the 150 MB record's bad row");
    let reason = skipped.1["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("too large to receive"), "{reason}");
    assert!(skipped.1["partition"].is_i64() && skipped.1["offset"].is_i64());
}

/// The pid of the tansu listening on `port` (from the processes' command lines).
fn tansu_pid(port: u16) -> u32 {
    let url = format!("tcp://127.0.0.1:{port}");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|cmdline| {
                let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
                args.iter().any(|a| a.ends_with(b"tansu")) && args.contains(&url.as_bytes())
            })
        })
        .expect("the tansu process")
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

#[test]
fn a_paused_broker_during_a_backlog_changes_nothing() {
    let tansu = support::Tansu::start();
    let brokers = tansu.brokers();
    let records = support::shop(support::shop_options(20_000, 400, 0.0));
    produce(&records, &brokers);
    let dir = tempfile::tempdir().expect("temporary directory");
    let (reference, _, _) = file_reference(&records, dir.path());
    let totals = (records.len() as i64, Metrics::get(&reference.events));
    // tansu holds every fetch for the full wait: 300 ms per fetch of at most 1 MB makes the
    // backlog last several seconds. A 2 s kafka.timeout makes the fetches time out during the
    // pause, as they would in a longer one.
    let sets = vec![
        "kafka.properties.fetch.wait.max.ms=300".to_string(),
        "kafka.properties.fetch.max.bytes=1000000".to_string(),
        "kafka.timeout=2s".to_string(),
    ];
    let pid = tansu_pid(tansu.port);
    let (expected, _) = settled_run(sets.clone(), "calm", &brokers, totals, |_| {});
    let (actual, stderr) = settled_run(sets, "paused", &brokers, totals, |job| {
        signal(pid, "STOP");
        std::thread::sleep(Duration::from_secs(6));
        let during = job.events();
        signal(pid, "CONT");
        assert!(
            during.is_some_and(|events| events < totals.1),
            "the broker paused in the middle of the backlog ({during:?} of {} events read)",
            totals.1
        );
    });
    assert!(
        stderr.contains(&brokers) && stderr.contains("kafka.timeout = 2s"),
        "the unanswered fetches are reported with the broker and the setting:\n{stderr}"
    );
    assert_same_end(&expected, &actual);
}

/// Starts tansu (memory storage) on `port`.
fn tansu_on(port: u16, dir: &Path) -> std::process::Child {
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join(format!("tansu-{port}.log"))).expect("log");
    let binary = support::find_program("tansu", "TANSU").unwrap_or_else(|| {
        panic!(
            "tansu is not installed: {}; or set TANSU=/path/to/tansu",
            support::TANSU_INSTALL
        )
    });
    let child = std::process::Command::new(binary)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .current_dir(dir)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start tansu");
    assert!(
        support::wait_for_port(port, Duration::from_secs(30)),
        "tansu on {port}"
    );
    child
}

#[test]
fn a_broker_restarted_empty_stops_the_job_with_a_clear_error() {
    // librdkafka crashes (SIGSEGV) on tansu's fetch answer for a topic it does not know; the
    // source pauses on the lost connection and finds the topic gone before fetching again.
    let dir = tempfile::tempdir().expect("temporary directory");
    let port = support::free_port();
    let brokers = format!("127.0.0.1:{port}");
    let mut tansu = tansu_on(port, dir.path());
    let records = support::shop(support::shop_options(3_000, 100, 0.0));
    produce(&records, &brokers);
    let redis = support::RedisServer::start();
    let mut job = Job::start(&unbounded_sets(&brokers, "restart", &redis));
    let deadline = Instant::now() + Duration::from_secs(120);
    while job.events() != Some(records.len() as u64) {
        job.assert_running();
        assert!(
            Instant::now() < deadline,
            "the backlog is not read:\n{}",
            job.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = tansu.kill();
    let _ = tansu.wait();
    let mut tansu = tansu_on(port, dir.path());
    let status = loop {
        if let Ok(Some(status)) = job.child.try_wait() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the job goes on:\n{}",
            job.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(200));
    let stderr = job.stderr();
    let _ = tansu.kill();
    let _ = tansu.wait();
    assert_eq!(
        status.code(),
        Some(1),
        "a clear error, not a crash ({status}):\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("topic `{TOPIC}` (kafka.topic) is gone"))
            && stderr.contains(&brokers),
        "{stderr}"
    );
}

#[test]
fn a_silent_broker_fails_within_the_timeout_naming_it_and_no_password() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    // Accepts every connection and never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut sets = support::bounded_kafka_sets(&address, "silent", &dir.path().join("out.jsonl"));
    sets.extend([
        "kafka.timeout=2s".to_string(),
        "kafka.properties.security.protocol=SASL_PLAINTEXT".to_string(),
        "kafka.properties.sasl.mechanism=PLAIN".to_string(),
        "kafka.properties.sasl.username=reader".to_string(),
        "kafka.properties.sasl.password=hunter2-secret".to_string(),
    ]);
    let error = support::run_job(&sets, 1).expect_err("no answer, no run");
    assert!(
        error.contains(&address) && error.contains("kafka.timeout = 2s"),
        "names the broker and the setting: {error}"
    );
    assert!(!error.contains("hunter2"), "no password: {error}");
}
