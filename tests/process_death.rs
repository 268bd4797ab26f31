//! A job of two processes, one killed with SIGKILL while both read an unbounded Kafka topic: the
//! other process must exit within seconds, non-zero, saying that it lost the connection, however
//! busy it is, even blocked writing its features to an output nobody reads.

mod support;

use std::path::Path;
use std::time::Duration;

use support::Job;

const LOST: &str = "live-shopper: lost the connection to another process of this job (";
const RESTART: &str = "exiting; restart all processes to recover";

/// The arguments of process `process` of a two-process job reading `brokers`.
fn process_args(process: usize, hostfile: &Path, brokers: &str, sink: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = ["run", "-n", "2", "-p", &process.to_string(), "--progress"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push("-h".to_string());
    args.push(hostfile.display().to_string());
    args.push("--set".to_string());
    args.push(format!("kafka.properties.bootstrap.servers={brokers}"));
    args.extend(sink.iter().map(|s| s.to_string()));
    args
}

/// Starts both processes (`sink` arguments for each), waits until `survivor` reads, kills the
/// other and checks how `survivor` ends.
fn kill_one_and_watch_the_other(survivor: usize, sink: [&[&str]; 2]) {
    let (_mock, brokers) = support::mock_cluster_with_shop(2, 5_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let hostfile = dir.path().join("hosts.txt");
    let hosts = format!(
        "127.0.0.1:{}\n127.0.0.1:{}\n",
        support::free_port(),
        support::free_port()
    );
    std::fs::write(&hostfile, hosts).expect("write the hostfile");
    let mut jobs: Vec<Job> = (0..2)
        .map(|p| Job::start(&process_args(p, &hostfile, &brokers, sink[p])))
        .collect();
    assert!(
        jobs[survivor].wait_until_reading(Duration::from_secs(60)),
        "process {survivor} did not start reading: {}",
        jobs[survivor].stderr()
    );
    let victim = 1 - survivor;
    assert!(jobs[victim].running(), "process {victim} ended early");
    jobs[victim].signal("KILL");

    let status = jobs[survivor].wait_exit(Duration::from_secs(15));
    let stderr = jobs[survivor].stderr();
    let status = status.unwrap_or_else(|| {
        panic!("process {survivor} still runs 15 s after process {victim} was killed: {stderr}")
    });
    assert_eq!(
        status.code(),
        Some(1),
        "process {survivor} ended with {status}: {stderr}"
    );
    let message = stderr
        .lines()
        .find(|l| l.starts_with(LOST))
        .unwrap_or_else(|| panic!("no lost-connection message: {stderr}"));
    assert!(message.ends_with(RESTART), "{message}");
    // It exits before timely's cascade of panics in the other threads.
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_busy_process_exits_when_the_other_is_killed() {
    let discard: &[&str] = &["--set", "output.sink=discard"];
    kill_one_and_watch_the_other(1, [discard, discard]);
}

#[test]
fn a_process_blocked_on_its_output_exits_when_the_other_is_killed() {
    // Process 0's worker 0 writes every feature to stdout, which nobody reads: once the pipe is
    // full it blocks in a write, out of timely's reach.
    let stdout: &[&str] = &["--output", "-"];
    kill_one_and_watch_the_other(0, [stdout, stdout]);
}
