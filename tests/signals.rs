//! SIGTERM and SIGINT on a job reading an unbounded Kafka topic: the first asks for a graceful
//! stop and says so, a second exits at once with the shell's status for that signal (128 plus
//! its number). The job here writes its features to stdout, which nobody reads, so that it is
//! stuck in a write and cannot stop gracefully: only the second signal ends it.

mod support;

use std::time::Duration;

use live_shopper::signals::STOP_MESSAGE;
use support::Job;

fn second_signal_exits_at_once(signal: &str, code: i32) {
    let (_mock, brokers) = support::mock_cluster_with_shop(2, 5_000);
    let args: Vec<String> = [
        "run",
        "--progress",
        "--output",
        "-",
        "--set",
        &format!("kafka.properties.bootstrap.servers={brokers}"),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut job = Job::start(&args);
    assert!(
        job.wait_until_reading(Duration::from_secs(60)),
        "the job did not start reading: {}",
        job.stderr()
    );

    job.signal(signal);
    assert!(
        job.wait_for_line(Duration::from_secs(5), |l| l == STOP_MESSAGE),
        "no stop message after SIG{signal}: {}",
        job.stderr()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        job.running(),
        "the first SIG{signal} ended a job stuck in a write: {}",
        job.stderr()
    );

    job.signal(signal);
    let status = job
        .wait_exit(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("still running after a second SIG{signal}: {}", job.stderr()));
    assert_eq!(status.code(), Some(code), "{status}: {}", job.stderr());
}

#[test]
fn a_second_sigterm_exits_with_143() {
    second_signal_exits_at_once("TERM", 143);
}

#[test]
fn a_second_sigint_exits_with_130() {
    second_signal_exits_at_once("INT", 130);
}
