//! Redis settings and faults, against real servers: a server that refuses the credentials or
//! cannot be reached stops the job at start with a message that says what to fix; so do a
//! `rediss://` URL pointed at a plain port and a server that never answers, within their
//! timeouts; a server stopped in the middle of a run is reported while the stall lasts, and the
//! run then ends with exactly the contents of an undisturbed run. No message shows a password.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_live-shopper");

/// How long a job may take before the test gives up on it. Generous: this bounds a hang, it
/// does not measure speed.
const HANG: Duration = Duration::from_secs(60);

fn run_with(url: &str, input: &Path) -> (bool, String) {
    let mut job = Job::start(input, &[format!("redis.url={url}")]);
    let status = job.wait(HANG);
    (status.success(), job.stderr())
}

fn small_shop(dir: &Path) -> PathBuf {
    let input = dir.join("shop.tsv");
    let status = Command::new(BIN)
        .args([
            "generate", "--users", "20", "--events", "500", "--span", "10m", "--output",
        ])
        .arg(&input)
        .status()
        .expect("generate");
    assert!(status.success());
    input
}

/// The job as a child process, its stderr collected line by line while it runs.
struct Job {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Job {
    fn start(input: &Path, sets: &[String]) -> Job {
        let mut command = Command::new(BIN);
        command.arg("run").arg("--input").arg(input).args([
            "--set",
            &format!(
                "output.bad_rows_file={}",
                input.with_extension("bad").display()
            ),
        ]);
        for set in sets {
            command.args(["--set", set]);
        }
        let mut child = command
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the job");
        let stderr = child.stderr.take().expect("stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log").push(line);
            }
        });
        Job {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Waits for the job to exit; kills it and fails the test if it has not within `limit`.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the job") {
                if let Some(reader) = self.reader.take() {
                    reader.join().expect("stderr reader");
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the job hung for {limit:?}; it said:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&self) -> String {
        self.lines.lock().expect("log").join("\n")
    }

    /// The lines so far that contain `text`.
    fn count(&self, text: &str) -> usize {
        self.lines
            .lock()
            .expect("log")
            .iter()
            .filter(|l| l.contains(text))
            .count()
    }

    fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `done` holds; fails the test after `limit`.
fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn credentials_are_checked_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = small_shop(dir.path());

    let redis = support::RedisServer::start();
    let mut admin = redis.connection().expect("connect");
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("requirepass")
        .arg("s3cret")
        .query::<()>(&mut admin)
        .expect("set a password");
    let port = redis.port;

    let (ok, stderr) = run_with(&format!("redis://127.0.0.1:{port}"), &input);
    assert!(!ok, "ran without a password");
    assert!(
        stderr.contains("check the user and password in redis.url"),
        "{stderr}"
    );

    let (ok, stderr) = run_with(&format!("redis://:wrong@127.0.0.1:{port}"), &input);
    assert!(!ok, "ran with a wrong password");
    assert!(
        stderr.contains("check the user and password in redis.url"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong@"),
        "the password leaked into a message: {stderr}"
    );

    let (ok, stderr) = run_with(&format!("redis://:s3cret@127.0.0.1:{port}"), &input);
    assert!(ok, "the right password was refused: {stderr}");
    let client = redis::Client::open(format!("redis://:s3cret@127.0.0.1:{port}")).expect("url");
    let mut conn = client.get_connection().expect("connect with the password");
    let keys: u64 = redis::cmd("DBSIZE").query(&mut conn).expect("DBSIZE");
    assert!(keys > 0, "nothing was written");

    let unused = support::free_port();
    let (ok, stderr) = run_with(&format!("redis://127.0.0.1:{unused}"), &input);
    assert!(!ok, "ran without a server");
    assert!(stderr.contains("cannot connect to Redis"), "{stderr}");
}

#[test]
fn a_tls_url_on_a_plain_port_fails_within_the_connect_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = small_shop(dir.path());
    let redis = support::RedisServer::start();
    let url = format!("rediss://:tls-s3cret@127.0.0.1:{}", redis.port);
    let mut job = Job::start(
        &input,
        &[
            format!("redis.url={url}"),
            "redis.connect_timeout=2s".into(),
        ],
    );
    let status = job.wait(HANG);
    let stderr = job.stderr();
    assert!(!status.success(), "ran over TLS to a plain port: {stderr}");
    // Whether the plain server answers the TLS hello with an error or waits for the rest of a
    // line, the message names the server and says what to change.
    let server = format!("rediss://:***@127.0.0.1:{}", redis.port);
    assert!(stderr.contains(&server), "{stderr}");
    assert!(stderr.contains("TLS handshake"), "{stderr}");
    assert!(
        stderr.contains("rediss:// needs a TLS port; if this port is plain, use redis://"),
        "{stderr}"
    );
    assert!(!stderr.contains("tls-s3cret"), "{stderr}");
}

#[test]
fn tls_works_and_a_stopped_tls_server_fails_the_handshake_within_the_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = small_shop(dir.path());
    let redis = support::RedisServer::start_tls();
    let (ok, stderr) = run_with(&redis.url(), &input);
    assert!(ok, "{stderr}");
    assert!(redis.dbsize() > 0, "nothing was written over TLS");

    // A stopped server still completes TCP connections (the kernel does) but never the
    // handshake, which has no timeout of its own in the TLS library.
    redis.pause();
    let mut job = Job::start(
        &input,
        &[
            format!("redis.url={}", redis.url()),
            "redis.connect_timeout=1s".into(),
        ],
    );
    let status = job.wait(HANG);
    redis.resume();
    let stderr = job.stderr();
    assert!(!status.success(), "ran against a stopped server: {stderr}");
    let expected = format!(
        "cannot connect to Redis at {}: the TLS handshake did not finish within 1s (redis.connect_timeout)",
        redis.url()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

/// A TCP server that accepts connections and never answers.
fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    port
}

#[test]
fn a_silent_server_fails_with_the_reply_timeout() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = small_shop(dir.path());
    let port = silent_server();

    let mut job = Job::start(
        &input,
        &[
            format!("redis.url=redis://127.0.0.1:{port}"),
            "redis.reply_timeout=1s".into(),
        ],
    );
    let status = job.wait(HANG);
    let stderr = job.stderr();
    assert!(!status.success(), "ran against a silent server: {stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot connect to Redis at redis://127.0.0.1:{port}: no answer within 1s (redis.reply_timeout)"
        )),
        "{stderr}"
    );

    // With a password the login is what goes unanswered, within the connect timeout.
    let mut job = Job::start(
        &input,
        &[
            format!("redis.url=redis://app:login-s3cret@127.0.0.1:{port}"),
            "redis.connect_timeout=1s".into(),
        ],
    );
    let status = job.wait(HANG);
    let stderr = job.stderr();
    assert!(!status.success(), "ran against a silent server: {stderr}");
    assert!(
        stderr.contains(&format!("Redis at redis://app:***@127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(
        stderr.contains("did not answer the login, within 1s (redis.connect_timeout)"),
        "{stderr}"
    );
    assert!(!stderr.contains("login-s3cret"), "{stderr}");
}

#[test]
fn a_stopped_redis_is_reported_while_it_lasts_and_loses_nothing() {
    let records = support::shop(support::shop_options(20_000, 500, 0.0));
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("shop.tsv");
    support::write_records(&records, &input);
    let reference = dir.path().join("reference.jsonl");
    support::run_file_reference(&input, &reference, &dir.path().join("reference-bad.jsonl"));
    let expected = support::final_state(&reference);

    // The job reads a named pipe, so that the test decides when the second half of the input
    // arrives: after Redis has been stopped.
    let fifo = dir.path().join("events.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    let (go_on, resume_writing) = mpsc::channel::<()>();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("open the pipe");
            let (first, second) = records.split_at(records.len() / 2);
            let mut write = |part: &[live_shopper::generate::Record]| {
                for record in part {
                    out.write_all(&record.bytes).expect("write a record");
                    out.write_all(b"\n").expect("write a record");
                }
                out.flush().expect("flush");
            };
            write(first);
            resume_writing.recv().expect("go on");
            write(second);
        })
    };

    let redis = support::RedisServer::start();
    let mut job = Job::start(
        &fifo,
        &[
            format!("redis.url={}", redis.url()),
            "redis.reply_timeout=1s".into(),
            "redis.connect_timeout=1s".into(),
            "redis.max_backoff=500ms".into(),
            "source.batch_size=500".into(),
        ],
    );
    wait_until("the first writes", HANG, || {
        assert!(!job.exited(), "the job ended early:\n{}", job.stderr());
        redis.dbsize() > 0
    });
    redis.pause();
    go_on.send(()).expect("the writer is waiting");
    wait_until("two reports of the stall", HANG, || {
        assert!(
            !job.exited(),
            "the job ended during the stall:\n{}",
            job.stderr()
        );
        job.count("stalled for") >= 2
    });
    redis.resume();
    let status = job.wait(Duration::from_secs(300));
    writer.join().expect("the writer");
    let stderr = job.stderr();
    assert!(status.success(), "{stderr}");

    let url = redis.url();
    let first = format!("Redis at {url} failed: no answer within 1s (redis.reply_timeout)");
    assert!(stderr.contains(&first), "{stderr}");
    assert!(stderr.contains("no write is dropped"), "{stderr}");
    assert_eq!(
        job.count(&format!("Redis at {url} answers again after")),
        1,
        "{stderr}"
    );
    let actual = redis.state();
    let diff = support::differences(&expected, &actual);
    assert!(diff.is_empty(), "after the stall: {diff}\n{stderr}");
}
