//! Recovery end to end: the built binary reads a generated shop (26 h of events) from a
//! 4-partition topic of librdkafka's mock cluster (real Kafka protocol on loopback ports, inside
//! this test process) and writes a real redis-server, taking checkpoints into a temporary
//! directory. Each case breaks a run (SIGKILL of one or every process, a restore with more
//! workers, damaged or half-written checkpoints, other settings, SIGTERM) and restarts it; Redis
//! must then hold exactly what a run without faults leaves, key for key and value for value.
//! That fault-free state is itself checked against the same records run through the file source.

mod support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use live_shopper::checkpoint::store::{decode_part, Manifest, Store};
use live_shopper::checkpoint::{PartitionId, SavedPartition, SOURCE_PART};
use live_shopper::generate::kafka::{produce_records, KafkaTarget};
use rdkafka::mocking::MockCluster;

const TOPIC: &str = "snowplow-enriched-good";
const BAD_ROWS: &str = "snowplow-live-shopper-bad";
const EVENTS: u64 = 100_000;
const SPAN_MS: u64 = 26 * 3_600_000;
/// Longest a run (or the rest of one) may take.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What every case shares: the topic and the state a run without faults leaves in Redis.
struct Fixture {
    brokers: String,
    /// First event time of the shop.
    start_ms: u64,
    /// Redis after a run without faults, which equals the file source's final state.
    expected: BTreeMap<String, String>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        let mut options = support::shop_options(EVENTS, 2_000, 0.002);
        options.span_ms = SPAN_MS;
        let start_ms = options.start_ms;
        let records = support::shop(options);
        let mock = MockCluster::new(1).expect("start librdkafka's mock cluster");
        mock.create_topic(TOPIC, 4, 1)
            .expect("create the events topic");
        mock.create_topic(BAD_ROWS, 1, 1)
            .expect("create the bad-rows topic");
        let brokers = mock.bootstrap_servers();
        // The mock cluster keeps at most 5 MB per partition; compressed, the shop fits.
        let mut target = KafkaTarget::new(brokers.clone(), TOPIC);
        target
            .properties
            .push(("compression.codec".into(), "zstd".into()));
        let produced = produce_records(&records, &target).expect("produce the shop");
        assert_eq!(produced.records, EVENTS);
        assert_eq!(
            support::retained(&brokers, TOPIC),
            EVENTS as i64,
            "the mock cluster holds the whole shop"
        );
        // Every case reads the cluster until the test process ends.
        std::mem::forget(mock);

        let dir = tempfile::tempdir().expect("temporary directory");
        let input = dir.path().join("shop.tsv");
        support::write_records(&records, &input);
        drop(records);
        let output = dir.path().join("reference.jsonl");
        support::run_file_reference(&input, &output, &dir.path().join("bad.jsonl"));
        let reference = support::final_state(&output);
        assert!(
            reference.len() > 20_000,
            "the shop gives features: {}",
            reference.len()
        );

        let case = Case::new("fault-free", &brokers);
        let mut job = case.job(&["-w", "2"], "run");
        job.finish();
        let expected = case.redis.state();
        let diff = support::differences(&reference, &expected);
        assert!(
            diff.is_empty(),
            "a run without faults differs from the file source: {diff}\n{}",
            job.stderr()
        );
        Fixture {
            brokers,
            start_ms,
            expected,
        }
    })
}

/// A number in `[low, high)` drawn from `seed` (one SplitMix64 step), so that each seed kills
/// at its own point and a failure replays.
fn seeded(seed: u64, low: f64, high: f64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    low + (high - low) * (z >> 11) as f64 / (1u64 << 53) as f64
}

/// One case: its own Redis, checkpoint directory and consumer group.
struct Case {
    name: String,
    brokers: String,
    redis: support::RedisServer,
    dir: tempfile::TempDir,
    checkpoints: PathBuf,
}

impl Case {
    fn new(name: &str, brokers: &str) -> Case {
        let dir = tempfile::tempdir().expect("temporary directory");
        let checkpoints = dir.path().join("checkpoints");
        Case {
            name: name.to_string(),
            brokers: brokers.to_string(),
            redis: support::RedisServer::start(),
            dir,
            checkpoints,
        }
    }

    /// The job's arguments with this case's settings, then `args`.
    fn args(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = vec!["run".into(), "--bounded".into()];
        let sets = [
            format!("kafka.properties.bootstrap.servers={}", self.brokers),
            format!("kafka.topic={TOPIC}"),
            format!("kafka.bad_rows_topic={BAD_ROWS}"),
            format!("kafka.group_id={}", self.name),
            format!("redis.url={}", self.redis.url()),
            "time.idle_timeout=off".to_string(),
            // Small batches and a short interval: several checkpoints in a run of seconds.
            "source.batch_size=1024".to_string(),
            "checkpoint.interval=250ms".to_string(),
            "checkpoint.keep=3".to_string(),
            format!("checkpoint.dir={}", self.checkpoints.display()),
        ];
        for set in sets {
            all.push("--set".into());
            all.push(set);
        }
        // Later settings win, so a case's own come after the defaults above.
        all.extend(args.iter().map(|a| a.to_string()));
        all
    }

    /// Starts the job with `args` after this case's settings; `label` names it in messages.
    fn job(&self, args: &[&str], label: &str) -> Run {
        Run {
            job: support::Job::start(&self.args(args)),
            label: format!("{} {label}", self.name),
        }
    }

    /// The complete checkpoints on disk, newest first.
    fn complete(&self) -> Vec<Manifest> {
        let Ok(store) = Store::open(&self.checkpoints) else {
            return Vec::new();
        };
        store
            .complete_ones()
            .into_iter()
            .filter_map(Result::ok)
            .map(|found| found.manifest)
            .collect()
    }

    /// Fails unless the offset the group has committed on each partition (read back by a new
    /// consumer after the job's end: the broker kept it) is that partition's position in a
    /// complete checkpoint, as commits follow checkpoints (each worker commits its partitions
    /// at its own pace, so partitions may be at different checkpoints). Returns whether any
    /// offset was committed.
    fn assert_committed_with_a_checkpoint(&self, fixture: &Fixture) -> bool {
        let committed = support::committed_offsets(&fixture.brokers, &self.name, TOPIC);
        let saved: Vec<BTreeMap<i32, i64>> = self
            .complete()
            .iter()
            .map(|m| positions(&self.checkpoints, m.id))
            .collect();
        for (partition, offset) in &committed {
            assert!(
                *offset < 0 || saved.iter().any(|p| p.get(partition) == Some(offset)),
                "{}: partition {partition} committed at {offset}, which no checkpoint has \
                 ({saved:?})",
                self.name
            );
        }
        committed.values().any(|&o| o >= 0)
    }

    /// Fails unless Redis holds exactly what the run without faults left.
    fn assert_expected(&self, fixture: &Fixture, what: &str) {
        let diff = support::differences(&fixture.expected, &self.redis.state());
        assert!(
            diff.is_empty(),
            "{}: {what} differs from the run without faults: {diff}",
            self.name
        );
    }
}

/// A run of the job in a case.
struct Run {
    job: support::Job,
    label: String,
}

impl Run {
    fn stderr(&self) -> String {
        self.job.stderr()
    }

    /// Waits for the job to end and fails unless it succeeded.
    fn finish(&mut self) {
        let status = self.job.wait_exit(RUN_TIMEOUT);
        assert!(
            status.is_some_and(|s| s.success()),
            "{} failed ({status:?}):\n{}",
            self.label,
            self.stderr()
        );
    }

    /// Sends `signal` (`KILL`, `TERM`), failing if the job has already ended.
    fn signal(&mut self, signal: &str) {
        assert!(
            self.job.running(),
            "{} ended before it could be sent SIG{signal}; stderr:\n{}",
            self.label,
            self.stderr()
        );
        self.job.signal(signal);
    }

    /// SIGKILL, and waits for the process to be gone.
    fn kill(&mut self) {
        self.signal("KILL");
        let status = self.job.wait_exit(Duration::from_secs(10));
        assert!(
            status.is_some_and(|s| s.signal() == Some(9)),
            "{} ended by itself ({status:?}) before SIGKILL:\n{}",
            self.label,
            self.stderr()
        );
    }

    /// Waits until `ready` holds of the case's complete checkpoints (newest first); fails if the
    /// job ends first.
    fn wait_for(&mut self, case: &Case, what: &str, ready: impl Fn(&[Manifest]) -> bool) {
        self.wait_until_true(what, || ready(&case.complete()));
    }

    /// Waits until `ready` returns true; fails if the job ends first.
    fn wait_until_true(&mut self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            if ready() {
                return;
            }
            assert!(
                self.job.running(),
                "{} ended before {what}; stderr:\n{}",
                self.label,
                self.stderr()
            );
            assert!(Instant::now() < deadline, "{}: no {what}", self.label);
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Event time `share` of the way through the shop.
fn event_time(fixture: &Fixture, share: f64) -> u64 {
    fixture.start_ms + (SPAN_MS as f64 * share) as u64
}

/// The id in "restored checkpoint N", if the log has one.
fn restored_id(stderr: &str) -> Option<u64> {
    let rest = stderr.split("restored checkpoint ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// Kafka positions (next offset by partition) saved in checkpoint `id`.
fn positions(dir: &Path, id: u64) -> BTreeMap<i32, i64> {
    let store = Store::open(dir).expect("the checkpoint directory");
    let ckpt = store.checkpoint_dir(id);
    let mut positions = BTreeMap::new();
    for entry in std::fs::read_dir(&ckpt).expect("a checkpoint directory") {
        let path = entry.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.starts_with(&format!("{SOURCE_PART}-")) || !name.ends_with(".part") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read a source part");
        let (_, payload) = decode_part(&bytes).expect("an intact source part");
        let saved: Vec<SavedPartition> = bincode::deserialize(payload).expect("source positions");
        for partition in saved {
            if let (PartitionId::Kafka(id), Some(next)) = (partition.id, partition.next) {
                positions.insert(id, next);
            }
        }
    }
    positions
}

/// The part files of a checkpoint, largest first.
fn part_files(dir: &Path, id: u64) -> Vec<PathBuf> {
    let store = Store::open(dir).expect("the checkpoint directory");
    let mut files: Vec<(u64, PathBuf)> = std::fs::read_dir(store.checkpoint_dir(id))
        .expect("a checkpoint directory")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "part"))
        .map(|p| (std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0), p))
        .collect();
    files.sort_by(|a, b| b.cmp(a));
    files.into_iter().map(|(_, p)| p).collect()
}

/// SIGKILL at a seeded point, then a restart to the end: the same Redis contents.
#[test]
fn a_killed_job_resumes_from_its_checkpoint() {
    let fixture = fixture();
    for seed in 1..=4 {
        // Redis fills about evenly over a run: its key count tells how far the run is.
        let share = seeded(seed, 0.2, 0.85);
        let keys = (fixture.expected.len() as f64 * share) as u64;
        let case = Case::new(&format!("kill-{seed}"), &fixture.brokers);
        let keep = ["--set", "checkpoint.keep=100", "-w", "2"];
        let mut job = case.job(&keep, "killed");
        job.wait_for(&case, "a complete checkpoint", |c| !c.is_empty());
        job.wait_until_true("the kill point", || case.redis.dbsize() >= keys);
        job.kill();
        let complete = case.complete();
        case.assert_committed_with_a_checkpoint(fixture);

        let mut rest = case.job(&keep, "restarted");
        rest.finish();
        let stderr = rest.stderr();
        assert_eq!(
            restored_id(&stderr),
            Some(complete[0].id),
            "{}: restores the newest checkpoint:\n{stderr}",
            case.name
        );
        let diff = support::differences(&fixture.expected, &case.redis.state());
        assert!(
            diff.is_empty(),
            "{}: killed at {keys} keys, the end differs from the run without faults: {diff}\n\
             killed run:\n{}\nrestarted run:\n{stderr}",
            case.name,
            job.stderr()
        );
    }
}

/// The settings of process `process` of two, sharing `hostfile`.
fn process_args(hostfile: &Path, process: usize) -> Vec<String> {
    ["-n", "2", "-w", "1", "-p", &process.to_string(), "-h"]
        .iter()
        .map(|s| s.to_string())
        .chain([hostfile.display().to_string()])
        .collect()
}

fn two_processes(case: &Case, hostfile: &Path, label: &str) -> Vec<Run> {
    (0..2)
        .map(|process| {
            let args = process_args(hostfile, process);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            case.job(&args, &format!("{label}-p{process}"))
        })
        .collect()
}

/// Two processes, one killed: the other stops by itself; both restarted, they finish the
/// job as if nothing had happened.
#[test]
fn a_killed_process_of_two_is_recovered_by_restarting_both() {
    let fixture = fixture();
    let case = Case::new("two-processes", &fixture.brokers);
    let hostfile = case.dir.path().join("hosts");
    let hosts = format!(
        "127.0.0.1:{}\n127.0.0.1:{}\n",
        support::free_port(),
        support::free_port()
    );
    std::fs::write(&hostfile, hosts).expect("write the hostfile");

    let mut jobs = two_processes(&case, &hostfile, "killed");
    let at = event_time(fixture, 0.4);
    jobs[0].wait_for(&case, "a checkpoint 40% of the way", |c| {
        c.first().is_some_and(|m| m.at >= at)
    });
    jobs[1].kill();
    let status = jobs[0].job.wait_exit(Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| !s.success()),
        "the survivor ends by itself, with an error, once its peer is gone ({status:?}):\n{}",
        jobs[0].stderr()
    );
    let newest = case.complete().first().map(|m| m.id);
    assert!(newest.is_some(), "a complete checkpoint before the kill");

    let mut jobs = two_processes(&case, &hostfile, "restarted");
    for job in &mut jobs {
        job.finish();
        let stderr = job.stderr();
        assert_eq!(
            restored_id(&stderr),
            newest,
            "{}: restores the newest checkpoint:\n{stderr}",
            job.label
        );
    }
    case.assert_expected(fixture, "two processes, one killed");
}

/// Killed with two workers, restored with three: the keys move to their new workers.
#[test]
fn a_checkpoint_of_two_workers_restores_into_three() {
    let fixture = fixture();
    let case = Case::new("rescale", &fixture.brokers);
    let mut job = case.job(&["-w", "2"], "killed");
    let at = event_time(fixture, 0.5);
    job.wait_for(&case, "a checkpoint half way", |c| {
        c.first().is_some_and(|m| m.at >= at)
    });
    job.kill();
    let newest = case.complete()[0].clone();
    assert_eq!(newest.peers, 2);

    let mut rest = case.job(&["-w", "3"], "restarted");
    rest.finish();
    let stderr = rest.stderr();
    assert_eq!(restored_id(&stderr), Some(newest.id), "{stderr}");
    assert!(
        stderr.contains("2 workers)"),
        "the report names the workers of the checkpoint: {stderr}"
    );
    case.assert_expected(fixture, "restored into three workers");
}

/// The newest checkpoint has a flipped byte, the one before a truncated part: both are
/// skipped with a warning and the third newest is restored.
#[test]
fn damaged_checkpoints_are_skipped_for_an_older_one() {
    let fixture = fixture();
    let case = Case::new("damaged", &fixture.brokers);
    let args = ["-w", "2"];
    let mut job = case.job(&args, "killed");
    job.wait_for(&case, "three complete checkpoints", |c| c.len() >= 3);
    job.kill();
    let complete = case.complete();
    let (newest, second, third) = (complete[0].id, complete[1].id, complete[2].id);

    let flipped = &part_files(&case.checkpoints, newest)[0];
    let mut bytes = std::fs::read(flipped).expect("read a part");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(flipped, bytes).expect("write the flipped part");
    let truncated = &part_files(&case.checkpoints, second)[0];
    let len = std::fs::metadata(truncated).expect("a part").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(truncated)
        .and_then(|f| f.set_len(len / 2))
        .expect("truncate a part");

    let mut rest = case.job(&args, "restarted");
    rest.finish();
    let stderr = rest.stderr();
    for id in [newest, second] {
        assert!(
            stderr.contains(&format!("checkpoint {id} ignored, a part is damaged")),
            "warns about checkpoint {id}:\n{stderr}"
        );
    }
    assert_eq!(restored_id(&stderr), Some(third), "{stderr}");
    case.assert_expected(fixture, "restored past two damaged checkpoints");
}

/// Whether the newest checkpoint directory has files but no manifest: a checkpoint being
/// written.
fn writing(case: &Case) -> bool {
    let Ok(store) = Store::open(&case.checkpoints) else {
        return false;
    };
    let Some(&id) = store.ids().last() else {
        return false;
    };
    let dir = store.checkpoint_dir(id);
    let files = std::fs::read_dir(&dir).map_or(0, |d| d.count());
    files > 0 && !dir.join("MANIFEST.json").exists()
}

/// Killed while a checkpoint is being written (checkpoints every 100 ms, killed once the
/// newest directory has parts and no manifest), several times over: the half-written one is
/// never restored, and the end is as without faults.
#[test]
fn a_kill_during_a_checkpoint_write_loses_nothing() {
    let fixture = fixture();
    let case = Case::new("torn", &fixture.brokers);
    let args = ["-w", "2", "--set", "checkpoint.interval=100ms"];
    let mut torn = 0;
    for attempt in 0..4 {
        let mut job = case.job(&args, &format!("killed-{attempt}"));
        let before = case.complete().first().map(|m| m.id);
        // A complete checkpoint of this run, then one under way.
        job.wait_for(&case, "a new complete checkpoint", |c| {
            c.first().map(|m| m.id) > before.max(Some(0))
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while !writing(&case) && Instant::now() < deadline && job.job.running() {
            std::thread::sleep(Duration::from_micros(200));
        }
        job.kill();
        // Never the half-written one of the kill before.
        assert_eq!(
            restored_id(&job.stderr()),
            before,
            "restores the newest complete checkpoint:\n{}",
            job.stderr()
        );
        torn += usize::from(writing(&case));
    }
    assert!(torn > 0, "at least one kill hit a checkpoint being written");
    let newest = case.complete()[0].id;
    let mut rest = case.job(&args, "restarted");
    rest.finish();
    let stderr = rest.stderr();
    assert_eq!(restored_id(&stderr), Some(newest), "{stderr}");
    case.assert_expected(fixture, &format!("{torn} of 4 kills during a write"));
}

/// A checkpoint of other windows is refused, naming the setting and `--fresh`; `--fresh`
/// then discards it and starts over.
#[test]
fn a_checkpoint_of_other_windows_is_refused_until_fresh() {
    let fixture = fixture();
    let case = Case::new("other-windows", &fixture.brokers);
    let five = [
        "-w",
        "2",
        "--set",
        "lanes.product.windows=5m",
        "--set",
        "checkpoint.keep=100",
    ];
    let mut job = case.job(&five, "five-minutes");
    // Killed once the group has committed offsets, as a job that has run for a while has.
    job.wait_until_true("committed offsets", || {
        support::committed_offsets(&fixture.brokers, &case.name, TOPIC)
            .values()
            .any(|&o| o > 0)
    });
    job.kill();
    assert!(case.assert_committed_with_a_checkpoint(fixture));

    let mut refused = case.job(&["-w", "2"], "refused");
    let status = refused.job.wait_exit(RUN_TIMEOUT);
    let stderr = refused.stderr();
    assert!(
        status.is_some_and(|s| !s.success() && s.code().is_some()) && !stderr.contains("panicked"),
        "refused with an error ({status:?}):\n{stderr}"
    );
    assert!(
        stderr.contains("lanes.product") && stderr.contains("--fresh"),
        "the error names the setting and --fresh:\n{stderr}"
    );
    assert!(!stderr.contains("restored checkpoint"), "{stderr}");

    // --fresh discards the checkpoints and reads from kafka.start, past the offsets the group
    // committed with them: the same group starts over from the first record.
    let redis = support::RedisServer::start();
    let url = format!("redis.url={}", redis.url());
    let fresh_args = ["-w", "2", "--fresh", "--set", &url];
    let mut fresh = case.job(&fresh_args, "fresh");
    fresh.finish();
    let stderr = fresh.stderr();
    assert!(stderr.contains("--fresh: removed"), "{stderr}");
    assert!(!stderr.contains("restored checkpoint"), "{stderr}");
    let diff = support::differences(&fixture.expected, &redis.state());
    assert!(diff.is_empty(), "a --fresh run differs: {diff}");
}

/// SIGTERM: the job takes a last checkpoint and exits 0 within seconds; a restart resumes from
/// that checkpoint. Stopped twice (at a quarter and at half the keys), then run to the end: the
/// same Redis contents. The workers are at different event times when the signal comes, so the
/// last checkpoint is taken with one of them behind the other.
#[test]
fn sigterm_stops_with_a_last_checkpoint() {
    let fixture = fixture();
    let case = Case::new("sigterm", &fixture.brokers);
    // Checkpoints every minute: only the ones SIGTERM asks for are written.
    let args = ["-w", "2", "--set", "checkpoint.interval=60s"];
    let mut last = None;
    for (stop, share) in [(0, 0.25), (1, 0.5)] {
        let mut job = case.job(&args, &format!("terminated-{stop}"));
        let keys = (fixture.expected.len() as f64 * share) as u64;
        job.wait_until_true("the stop point", || case.redis.dbsize() >= keys);
        job.signal("TERM");
        let signalled = Instant::now();
        let status = job.job.wait_exit(Duration::from_secs(20));
        let took = signalled.elapsed();
        let stderr = job.stderr();
        assert!(
            status.is_some_and(|s| s.success()),
            "SIGTERM: the job should stop with a last checkpoint and exit 0; it ended with \
             {status:?} after {took:?}:\n{stderr}"
        );
        assert!(took < Duration::from_secs(10), "stopped in {took:?}");
        assert!(stderr.contains("live-shopper: stopped"), "{stderr}");
        assert_eq!(restored_id(&stderr), last, "{stderr}");
        let newest = case.complete().first().map(|m| m.id);
        assert!(newest > last, "a checkpoint on SIGTERM:\n{stderr}");
        last = newest;
    }
    let mut rest = case.job(&args, "restarted");
    rest.finish();
    let stderr = rest.stderr();
    assert_eq!(restored_id(&stderr), last, "{stderr}");
    case.assert_expected(fixture, "restarted after two stops by SIGTERM");
}
