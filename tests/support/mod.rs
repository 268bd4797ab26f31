//! Shared helpers of the Kafka and Redis tests: free loopback ports, a `redis-server` and a
//! `tansu` broker as child processes (killed on drop), generated shops, runs of the job through
//! the library API, and final states (from the file sink's change lines, or read from Redis).
//!
//! Every test file uses only some of them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use live_shopper::config;
use live_shopper::generate::{GenerateOptions, Record, Shop};
use live_shopper::metrics::Metrics;
use live_shopper::run::{self, Cluster, Connectors};
use live_shopper::sink::file::ChangeLine;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::ClientConfig;

/// A loopback port nobody listens on (at the time of asking).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Finds a program: `$env_var`, then `PATH`, then `~/.cargo/bin`.
pub fn find_program(name: &str, env_var: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.push(PathBuf::from("/usr/sbin"));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// A `redis-server` on a free loopback port, stopped on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// Its port.
    pub port: u16,
    /// Its working directory (the append-only file lives there when persistent).
    pub dir: tempfile::TempDir,
    persistent: bool,
    /// Whether it speaks TLS only (a self-signed certificate in `dir`).
    tls: bool,
}

impl RedisServer {
    /// A server that keeps nothing on disk.
    pub fn start() -> RedisServer {
        RedisServer::start_with(false)
    }

    /// A server that writes every change to its append-only file before acknowledging it
    /// (`appendfsync always`), so that a restart loses nothing it acknowledged.
    pub fn start_persistent() -> RedisServer {
        RedisServer::start_with(true)
    }

    /// A server that speaks only TLS on its port, with a self-signed certificate; its
    /// [`RedisServer::url`] is `rediss://...#insecure`.
    pub fn start_tls() -> RedisServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let made = Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
            ])
            .current_dir(dir.path())
            .stderr(Stdio::null())
            .status()
            .expect("run openssl to make a test certificate");
        assert!(made.success(), "openssl could not make a test certificate");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir,
            persistent: false,
            tls: true,
        };
        server.launch();
        server
    }

    fn start_with(persistent: bool) -> RedisServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut server = RedisServer {
            child: None,
            port: free_port(),
            dir,
            persistent,
            tls: false,
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let binary = find_program("redis-server", "REDIS_SERVER").unwrap_or_else(|| {
            panic!("redis-server is not installed: `apt-get install redis-server` (or set REDIS_SERVER)")
        });
        let mut command = Command::new(binary);
        if self.tls {
            let file = |name: &str| self.dir.path().join(name);
            command
                .args(["--port", "0", "--tls-auth-clients", "no"])
                .arg("--tls-port")
                .arg(self.port.to_string())
                .arg("--tls-cert-file")
                .arg(file("cert.pem"))
                .arg("--tls-key-file")
                .arg(file("key.pem"))
                .arg("--tls-ca-cert-file")
                .arg(file("cert.pem"));
        } else {
            command.arg("--port").arg(self.port.to_string());
        }
        command
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--daemonize")
            .arg("no")
            .arg("--dir")
            .arg(self.dir.path());
        if self.persistent {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let log = std::fs::File::create(self.dir.path().join("redis.log")).expect("redis log file");
        let child = command
            .stdout(Stdio::from(log.try_clone().expect("log handle")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut conn) = self.connection() {
                if redis::cmd("PING").query::<String>(&mut conn).is_ok() {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not come up on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis://127.0.0.1:PORT`, or `rediss://127.0.0.1:PORT/#insecure` (the certificate is
    /// self-signed).
    pub fn url(&self) -> String {
        match self.tls {
            true => format!("rediss://127.0.0.1:{}/#insecure", self.port),
            false => format!("redis://127.0.0.1:{}", self.port),
        }
    }

    /// A new connection.
    pub fn connection(&self) -> redis::RedisResult<redis::Connection> {
        redis::Client::open(self.url())?.get_connection_with_timeout(Duration::from_secs(2))
    }

    /// Kills the server (SIGKILL: no chance to save anything more).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGSTOP: its connections stay open but nothing is answered.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("redis-server is running").id();
        let status = Command::new("kill")
            .arg(signal)
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Number of keys.
    pub fn dbsize(&self) -> u64 {
        self.connection()
            .and_then(|mut c| redis::cmd("DBSIZE").query::<u64>(&mut c))
            .unwrap_or(0)
    }

    /// Every feature key and its (string) value: the job's markers (`live-shopper:marker:*`)
    /// are left out.
    pub fn state(&self) -> BTreeMap<String, String> {
        let mut state = self.everything();
        state.retain(|key, _| !key.starts_with(MARKER_PREFIX));
        state
    }

    /// The job's marker keys and their values.
    pub fn markers(&self) -> BTreeMap<String, String> {
        let mut state = self.everything();
        state.retain(|key, _| key.starts_with(MARKER_PREFIX));
        state
    }

    /// Every key and its (string) value.
    fn everything(&self) -> BTreeMap<String, String> {
        let mut conn = self.connection().expect("connect to the test redis-server");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query(&mut conn)
            .expect("KEYS *");
        let mut state = BTreeMap::new();
        for chunk in keys.chunks(500) {
            let values: Vec<Option<String>> = redis::cmd("MGET")
                .arg(chunk)
                .query(&mut conn)
                .expect("MGET");
            for (key, value) in chunk.iter().zip(values) {
                if let Some(value) = value {
                    state.insert(key.clone(), value);
                }
            }
        }
        state
    }
}

/// The prefix of the keys with which the job tells whether Redis still holds its data.
pub const MARKER_PREFIX: &str = "live-shopper:marker:";

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How to get tansu, for failure messages.
pub const TANSU_INSTALL: &str =
    "cargo install --locked tansu --version 0.6.0 --features dynostore   (about 15 minutes on two cores; .ci/run does it)";

/// A tansu broker (in-memory storage) on a free loopback port, stopped on drop.
pub struct Tansu {
    child: Child,
    /// Its port.
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tansu {
    /// Starts tansu; fails the test, saying how to install it, when it is not installed.
    pub fn start() -> Tansu {
        let binary = find_program("tansu", "TANSU").unwrap_or_else(|| {
            panic!("the tansu broker is not installed, so the end-to-end Kafka test cannot run: {TANSU_INSTALL}; or set TANSU=/path/to/tansu")
        });
        let dir = tempfile::tempdir().expect("temporary directory");
        let log = dir.path().join("tansu.log");
        let port = free_port();
        let url = format!("tcp://127.0.0.1:{port}");
        let out = std::fs::File::create(&log).expect("tansu log");
        let child = Command::new(binary)
            .arg("broker")
            .arg("--listener-url")
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .arg("--storage-engine")
            .arg("memory://tansu/")
            .current_dir(dir.path())
            .stdout(Stdio::from(out.try_clone().expect("log handle")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start tansu");
        let tansu = Tansu {
            child,
            port,
            log,
            _dir: dir,
        };
        assert!(
            wait_for_port(port, Duration::from_secs(30)),
            "tansu did not listen on {port}: {}",
            tansu.log()
        );
        tansu
    }

    /// `127.0.0.1:PORT`.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its output so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The options of a small shop: `events` records over two hours, `users` users, a share of
/// malformed records.
pub fn shop_options(events: u64, users: u64, malformed_rate: f64) -> GenerateOptions {
    GenerateOptions {
        events,
        users,
        malformed_rate,
        ..GenerateOptions::default()
    }
}

/// Generates the records of `options`.
pub fn shop(options: GenerateOptions) -> Vec<Record> {
    Shop::new(options)
        .expect("valid generator options")
        .collect()
}

/// Writes the records to `path`, one a line (what the file source reads).
pub fn write_records(records: &[Record], path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create input file"));
    for record in records {
        out.write_all(&record.bytes).expect("write record");
        out.write_all(b"\n").expect("write record");
    }
    out.flush().expect("flush input file");
}

/// Runs the job through the library API with `sets` over the defaults.
pub fn run_job(sets: &[String], threads: usize) -> Result<Arc<Metrics>, String> {
    let metrics = Arc::new(Metrics::default());
    run_job_with(sets, threads, metrics.clone())?;
    Ok(metrics)
}

/// Runs the job like [`run_job`], counting into `metrics`, which the caller may read while the
/// job runs. Checkpoints are off unless `sets` set them up.
pub fn run_job_with(sets: &[String], threads: usize, metrics: Arc<Metrics>) -> Result<(), String> {
    let mut sets = sets.to_vec();
    if !sets.iter().any(|s| s.starts_with("checkpoint.")) {
        sets.insert(0, "checkpoint.interval=0".to_string());
    }
    let config =
        config::load(None, Vec::<(String, String)>::new(), &sets).map_err(|e| e.to_string())?;
    let cluster = Cluster {
        threads,
        processes: 1,
        process: 0,
        hostfile: None,
    };
    let connectors = Connectors::for_config(&config);
    run::run(config, &cluster, connectors, metrics)
}

/// The reference: `input` through the file source, features to `output`, bad rows to
/// `bad_rows` (one worker).
pub fn run_file_reference(input: &Path, output: &Path, bad_rows: &Path) -> Arc<Metrics> {
    run_job(&file_run(input, output, bad_rows), 1).expect("the file reference run")
}

/// The settings of a run from the file `input` to the file `output`, bad rows to `bad_rows`.
pub fn file_run(input: &Path, output: &Path, bad_rows: &Path) -> Vec<String> {
    vec![
        "source.kind=file".to_string(),
        format!("source.path={}", input.display()),
        "output.sink=file".to_string(),
        format!("output.file={}", output.display()),
        format!("output.bad_rows_file={}", bad_rows.display()),
    ]
}

/// The final state of a file-sink output: its change lines applied in order.
pub fn final_state(path: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut state = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let change: ChangeLine = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{} line {}: {e}: {line}", path.display(), number + 1));
        match change.value {
            Some(value) => {
                state.insert(change.key, value);
            }
            None => {
                state.remove(&change.key);
            }
        }
    }
    state
}

/// A short description of how two states differ (empty when they are equal).
pub fn differences(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> String {
    let mut out = Vec::new();
    let mut count = 0;
    for (key, value) in expected {
        match actual.get(key) {
            Some(v) if v == value => {}
            Some(v) => {
                count += 1;
                if out.len() < 10 {
                    out.push(format!("{key}: expected {value}, got {v}"));
                }
            }
            None => {
                count += 1;
                if out.len() < 10 {
                    out.push(format!("{key}: expected {value}, missing"));
                }
            }
        }
    }
    for (key, value) in actual {
        if !expected.contains_key(key) {
            count += 1;
            if out.len() < 10 {
                out.push(format!("{key}: unexpected {value}"));
            }
        }
    }
    if count == 0 {
        String::new()
    } else {
        format!(
            "{count} differences ({} expected keys, {} actual), e.g.:\n  {}",
            expected.len(),
            actual.len(),
            out.join("\n  ")
        )
    }
}

/// A consumer of `brokers` without a group (or with `group`).
pub fn consumer(brokers: &str, group: Option<&str>) -> BaseConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("enable.auto.commit", "false");
    // librdkafka assigns partitions only with a group.id.
    config.set("group.id", group.unwrap_or("live-shopper-tests"));
    config.create().expect("create a test consumer")
}

/// The (low, high) watermarks of every partition of `topic`, from ListOffsets.
pub fn watermarks(brokers: &str, topic: &str) -> BTreeMap<i32, (i64, i64)> {
    let consumer = consumer(brokers, None);
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let mut marks = BTreeMap::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            let range = consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                .expect("watermarks");
            marks.insert(p.id(), range);
        }
    }
    marks
}

/// The end offsets of every partition of `topic`.
pub fn end_offsets(brokers: &str, topic: &str) -> BTreeMap<i32, i64> {
    watermarks(brokers, topic)
        .into_iter()
        .map(|(p, (_, high))| (p, high))
        .collect()
}

/// The number of records `topic` holds (ends minus starts).
pub fn retained(brokers: &str, topic: &str) -> i64 {
    watermarks(brokers, topic)
        .values()
        .map(|(low, high)| high - low)
        .sum()
}

/// The offsets committed for `group` on every partition of `topic` (-1 when none).
pub fn committed_offsets(brokers: &str, group: &str, topic: &str) -> BTreeMap<i32, i64> {
    let ends = end_offsets(brokers, topic);
    let consumer = consumer(brokers, Some(group));
    let mut list = TopicPartitionList::new();
    for id in ends.keys() {
        list.add_partition(topic, *id);
    }
    let found = consumer
        .committed_offsets(list, Duration::from_secs(10))
        .expect("committed offsets");
    found
        .elements()
        .iter()
        .map(|e| (e.partition(), e.offset().to_raw().unwrap_or(-1)))
        .collect()
}

/// Every message of `topic` (values), partition by partition: read from the beginning until
/// nothing more comes for two seconds (not up to ListOffsets' ends, which tansu 0.6 gets wrong).
pub fn read_topic(brokers: &str, topic: &str) -> Vec<Vec<u8>> {
    let partitions = end_offsets(brokers, topic);
    let consumer = consumer(brokers, None);
    let mut list = TopicPartitionList::new();
    for id in partitions.keys() {
        list.add_partition_offset(topic, *id, Offset::Beginning)
            .expect("offset");
    }
    consumer.assign(&list).expect("assign");
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(2) && Instant::now() < deadline {
        if let Some(result) = consumer.poll(Duration::from_millis(100)) {
            let message = result.expect("read a message");
            messages.push(message.payload().unwrap_or_default().to_vec());
            last = Instant::now();
        }
    }
    messages
}

/// The number of messages of `topic`.
pub fn read_topic_count(brokers: &str, topic: &str) -> u64 {
    read_topic(brokers, topic).len() as u64
}

/// Settings of a bounded run from the topic `snowplow-enriched-good` (bad rows to
/// `snowplow-live-shopper-bad`) of `brokers`, as consumer group `group`, into the file `output`.
pub fn bounded_kafka_sets(brokers: &str, group: &str, output: &Path) -> Vec<String> {
    vec![
        "source.kind=kafka".to_string(),
        "source.bounded=true".to_string(),
        "kafka.topic=snowplow-enriched-good".to_string(),
        "kafka.bad_rows_topic=snowplow-live-shopper-bad".to_string(),
        format!("kafka.group_id={group}"),
        format!("kafka.properties.bootstrap.servers={brokers}"),
        "output.sink=file".to_string(),
        format!("output.file={}", output.display()),
        "time.idle_timeout=off".to_string(),
    ]
}

/// A librdkafka mock cluster (one broker) whose `snowplow-enriched-good` topic, of `partitions`
/// partitions, holds a shop of `events` records; the bad-rows topic exists, empty.
pub fn mock_cluster_with_shop(
    partitions: i32,
    events: u64,
) -> (
    rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>,
    String,
) {
    let mock = rdkafka::mocking::MockCluster::new(1).expect("start librdkafka's mock cluster");
    mock.create_topic("snowplow-enriched-good", partitions, 1)
        .expect("create the events topic");
    mock.create_topic("snowplow-live-shopper-bad", 1, 1)
        .expect("create the bad-rows topic");
    let brokers = mock.bootstrap_servers();
    let records = shop(shop_options(events, 200, 0.0));
    let target =
        live_shopper::generate::kafka::KafkaTarget::new(brokers.clone(), "snowplow-enriched-good");
    live_shopper::generate::kafka::produce_records(&records, &target).expect("produce the shop");
    (mock, brokers)
}

/// The `live-shopper` binary running as a child process, its stderr collected line by line;
/// killed on drop. Its stdout is piped and read by nobody unless asked for, so that a job
/// writing its features there blocks once the pipe is full.
pub struct Job {
    child: Child,
    _stdout: Option<std::process::ChildStdout>,
    stderr: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Job {
    /// Starts `live-shopper` with `args`.
    pub fn start(args: &[String]) -> Job {
        let mut child = Command::new(env!("CARGO_BIN_EXE_live-shopper"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start live-shopper");
        let stderr = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = stderr.clone();
        let pipe = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                lines.lock().expect("stderr lines").push(line);
            }
        });
        let stdout = child.stdout.take();
        Job {
            child,
            _stdout: stdout,
            stderr,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("stderr lines").join("\n")
    }

    /// Waits until a line of its stderr satisfies `wanted`; false on timeout.
    pub fn wait_for_line(&self, timeout: Duration, wanted: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self
                .stderr
                .lock()
                .expect("stderr lines")
                .iter()
                .any(|l| wanted(l))
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits until a progress line (`--progress`) counts at least one event: the job reads, so
    /// its workers run, and with several processes, every process is connected.
    pub fn wait_until_reading(&self, timeout: Duration) -> bool {
        self.wait_for_line(timeout, |line| {
            line.split_once(" events (")
                .and_then(|(head, _)| head.rsplit(' ').next()?.parse::<u64>().ok())
                .is_some_and(|events| events > 0)
        })
    }

    /// Its exit status, if it exits within `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for live-shopper") {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it still runs.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sends it `signal` (a name `kill` knows: TERM, INT, KILL, STOP...).
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -{signal} {} failed", self.pid());
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
