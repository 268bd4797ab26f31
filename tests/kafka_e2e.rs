//! End to end against real processes: a tansu broker (Kafka protocol) and a redis-server, both
//! on free loopback ports. A generated shop is produced to a 4-partition topic, the job runs as
//! two processes of the built binary (`-n 2 -p 0|1 -h hostfile`) reading the topic bounded and
//! writing Redis, and Redis must then hold exactly the final state of the same records run
//! through the file source.
//!
//! tansu is installed with
//! `cargo install --locked tansu --version 0.6.0 --features dynostore`; without it this test
//! fails (it does not skip) and says so.

mod support;

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use live_shopper::generate::kafka::{produce_records, KafkaTarget};

const TOPIC: &str = "snowplow-enriched-good";
const BAD_ROWS: &str = "snowplow-live-shopper-bad";

/// Waits for `child` at most until `deadline`; kills it after that.
fn wait_with_deadline(child: &mut Child, deadline: Instant) -> Option<std::process::ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(stderr) = child.stderr.as_mut() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}

#[test]
fn two_processes_from_tansu_to_redis_match_the_file_source() {
    let tansu = support::Tansu::start();
    let redis = support::RedisServer::start();
    let brokers = tansu.brokers();

    let records = support::shop(support::shop_options(20_000, 400, 0.01));
    let produced = produce_records(&records, &KafkaTarget::new(brokers.clone(), TOPIC))
        .unwrap_or_else(|e| panic!("produce to tansu: {e}\ntansu log:\n{}", tansu.log()));
    assert_eq!(produced.records, records.len() as u64);
    assert_eq!(produced.partitions, 4, "created with 4 partitions");

    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let reference_out = dir.path().join("reference.jsonl");
    let reference =
        support::run_file_reference(&input, &reference_out, &dir.path().join("bad.jsonl"));
    let expected = support::final_state(&reference_out);
    assert!(
        expected.len() > 1_000,
        "the shop gives features: {}",
        expected.len()
    );

    let hostfile = dir.path().join("hosts");
    std::fs::write(
        &hostfile,
        format!(
            "127.0.0.1:{}\n127.0.0.1:{}\n",
            support::free_port(),
            support::free_port()
        ),
    )
    .expect("write the hostfile");
    // Both processes write their parts of each checkpoint to one directory.
    let checkpoints = tempfile::tempdir().expect("a checkpoint directory");
    let binary = env!("CARGO_BIN_EXE_live-shopper");
    let mut processes: Vec<Child> = (0..2)
        .map(|process| {
            Command::new(binary)
                .arg("run")
                .arg("--bounded")
                .args(["-n", "2", "-p", &process.to_string(), "-h"])
                .arg(&hostfile)
                .args([
                    "--set",
                    &format!("kafka.properties.bootstrap.servers={brokers}"),
                ])
                .args(["--set", &format!("kafka.topic={TOPIC}")])
                .args(["--set", &format!("kafka.bad_rows_topic={BAD_ROWS}")])
                .args(["--set", "kafka.group_id=e2e"])
                .args(["--set", &format!("redis.url={}", redis.url())])
                .args(["--set", "time.idle_timeout=off"])
                .args(["--set", "checkpoint.interval=1s"])
                .args([
                    "--set",
                    &format!("checkpoint.dir={}", checkpoints.path().display()),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start the job")
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    for (process, child) in processes.iter_mut().enumerate() {
        let status = wait_with_deadline(child, deadline);
        let stderr = stderr_of(child);
        assert!(
            status.is_some_and(|s| s.success()),
            "process {process} failed ({status:?}):\n{stderr}\ntansu log:\n{}",
            tansu.log()
        );
    }

    let actual = redis.state();
    let diff = support::differences(&expected, &actual);
    assert!(diff.is_empty(), "Redis differs from the file run: {diff}");

    // Every record was read once and its offset committed; the bad rows are on their topic.
    let ends = support::end_offsets(&brokers, TOPIC);
    let committed = support::committed_offsets(&brokers, "e2e", TOPIC);
    let read: i64 = committed.values().sum();
    assert_eq!(
        read,
        records.len() as i64,
        "committed offsets {committed:?} (ListOffsets says {ends:?})"
    );
    let bad_rows = support::read_topic_count(&brokers, BAD_ROWS);
    assert_eq!(
        bad_rows,
        live_shopper::metrics::Metrics::get(&reference.bad_rows)
    );
}
