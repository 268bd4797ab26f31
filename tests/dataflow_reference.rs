//! The dataflow against the brute-force reference of `reference/mod.rs`, on generated shops:
//! every net change at every emission time must match, with in-order, out-of-order and late
//! arrivals; and 1, 2 and 4 workers and 2 processes must write the same output.

mod reference;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use jobs::event::ShopperEvent;
use jobs::parse::parse_record;
use reference::{actual_changes, arrive, expected_changes, Settings};

const BIN: &str = env!("CARGO_BIN_EXE_live-shopper");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("live-shopper-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn generate(path: &Path, args: &[&str]) {
    let status = Command::new(BIN)
        .arg("generate")
        .args(args)
        .arg("--output")
        .arg(path)
        .status()
        .expect("run generate");
    assert!(status.success(), "generate {args:?} failed");
}

/// Short windows and gap, so that windows fill, empty and sessions split and close within a
/// short generated span.
const SHORT: &[&str] = &[
    "lanes.product.windows=1m,5m",
    "lanes.category.windows=1m,10m",
    "lanes.cart.windows=1m,5m",
    "lanes.purchase.windows=10m",
    "lanes.session.gap=5m",
];

fn short_settings(lateness: u64) -> Settings {
    let w = |list: &[(&str, u64)]| list.iter().map(|(n, l)| (n.to_string(), *l)).collect();
    Settings {
        product: w(&[("1m", 60_000), ("5m", 300_000)]),
        category: w(&[("1m", 60_000), ("10m", 600_000)]),
        cart: w(&[("1m", 60_000), ("5m", 300_000)]),
        purchase: w(&[("10m", 600_000)]),
        interval: 1_000,
        gap: 300_000,
        lateness,
    }
}

/// Runs the job over `input` into `output`; returns what it printed on stderr.
fn run_job(input: &Path, output: &Path, sets: &[&str], extra: &[&str]) -> String {
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output);
    command.arg("--set").arg(format!(
        "output.bad_rows_file={}",
        output.with_extension("bad").display()
    ));
    for set in sets {
        command.arg("--set").arg(set);
    }
    command.args(extra);
    let result = command.output().expect("run job");
    let stderr = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(result.status.success(), "run {extra:?} failed: {stderr}");
    stderr
}

fn parse_file(path: &Path) -> Vec<ShopperEvent> {
    let text = std::fs::read(path).expect("read input");
    let (mut events, mut bad) = (Vec::new(), Vec::new());
    // The job's default rule: an event more than 15 minutes ahead of the clock is a bad row.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let limits = jobs::parse::Limits::default().at(now, Some(15 * 60_000));
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        parse_record(line, &limits, &mut events, &mut bad);
    }
    events
}

/// Checks the job against the reference on a generated shop; returns the job's stderr.
fn compare(
    name: &str,
    generate_args: &[&str],
    sets: &[&str],
    extra: &[&str],
    settings: &Settings,
) -> String {
    let input = scratch(&format!("{name}.tsv"));
    let output = scratch(&format!("{name}.jsonl"));
    generate(&input, generate_args);
    let stderr = run_job(&input, &output, sets, extra);
    let events = parse_file(&input);
    assert!(events.len() > 1000, "{name}: too few events");
    let last = events
        .iter()
        .map(|e| e.time)
        .max()
        .unwrap_or(0)
        .div_ceil(settings.interval)
        * settings.interval;
    let expected = expected_changes(&arrive(events, settings), settings, last);
    let actual = actual_changes(&std::fs::read_to_string(&output).expect("read output"));
    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(k) != Some(v))
        .take(10)
        .collect();
    let extra_changes: Vec<_> = actual
        .iter()
        .filter(|(k, v)| expected.get(k) != Some(v))
        .take(10)
        .collect();
    assert!(
        missing.is_empty() && extra_changes.is_empty(),
        "{name}: {} expected changes, {} actual\nexpected but not written (first 10): {missing:#?}\nwritten but not expected (first 10): {extra_changes:#?}",
        expected.len(),
        actual.len()
    );
    // The test must exercise every kind of change.
    let deletes = expected.values().filter(|v| v.is_none()).count();
    assert!(deletes > 0, "{name}: no window emptied");
    assert!(
        expected.keys().any(|(_, k)| k.starts_with("session:")),
        "{name}: no sessions"
    );
    assert_exact_numbers(name, &actual);
    stderr
}

/// No numeric value may exceed 2^53, past which JSON readers and doubles lose integers: a
/// wrapped counter (2^64 - 1) shows up here even where the reference agrees by accident.
fn assert_exact_numbers(name: &str, changes: &reference::Changes) {
    const LIMIT: f64 = 9_007_199_254_740_992.0;
    for ((time, key), value) in changes {
        let Some(value) = value else { continue };
        // Numbers and `min-max` ranges; ids and lists are text.
        if !value
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        {
            continue;
        }
        for part in value.split('-') {
            if let Ok(number) = part.parse::<f64>() {
                assert!(number.abs() <= LIMIT, "{name}: {key} = {value} at {time}");
            }
        }
    }
}

#[test]
fn matches_reference_across_seeds_with_bounded_disorder() {
    for seed in ["1", "2", "3"] {
        compare(
            &format!("seed{seed}"),
            &[
                "--users",
                "150",
                "--events",
                "12000",
                "--span",
                "40m",
                "--disorder",
                "2s",
                "--seed",
                seed,
            ],
            SHORT,
            &[],
            &short_settings(5_000),
        );
    }
}

/// The default windows and gap (SPEC section 2).
fn default_settings() -> Settings {
    Settings {
        product: vec![("5m".into(), 300_000), ("1h".into(), 3_600_000)],
        category: vec![
            ("5m".into(), 300_000),
            ("1h".into(), 3_600_000),
            ("24h".into(), 86_400_000),
        ],
        cart: vec![("5m".into(), 300_000), ("1h".into(), 3_600_000)],
        purchase: vec![("24h".into(), 86_400_000)],
        interval: 1_000,
        gap: 1_800_000,
        lateness: 5_000,
    }
}

/// Default windows. `LIVE_SHOPPER_REFERENCE_EVENTS` and `LIVE_SHOPPER_REFERENCE_USERS` scale it
/// up for a one-off check on millions of events (the reference is quadratic per key).
#[test]
fn matches_reference_with_default_windows() {
    let events = std::env::var("LIVE_SHOPPER_REFERENCE_EVENTS").unwrap_or_else(|_| "10000".into());
    let users = std::env::var("LIVE_SHOPPER_REFERENCE_USERS").unwrap_or_else(|_| "100".into());
    compare(
        "defaults",
        &[
            "--users",
            &users,
            "--events",
            &events,
            "--span",
            "3h",
            "--disorder",
            "3s",
            "--seed",
            "7",
        ],
        &[],
        &[],
        &default_settings(),
    );
}

/// A share of events arrives 10 minutes late (a mobile tracker flushing its offline buffer):
/// later than the 1 and 5 minute windows, about as late as the 10 minute ones, later than the
/// session gap. Each must count in every later emission whose window covers it. A few more are
/// dated ten years ahead: bad rows, which must not move the watermark.
#[test]
fn events_later_than_the_shortest_window() {
    let mut sets = SHORT.to_vec();
    sets.push("source.batch_size=1");
    compare(
        "late10m",
        &[
            "--users",
            "80",
            "--events",
            "8000",
            "--span",
            "40m",
            "--disorder",
            "3s",
            "--late-rate",
            "0.03",
            "--late",
            "10m",
            "--future-rate",
            "0.002",
            "--seed",
            "12",
        ],
        &sets,
        &[],
        &short_settings(5_000),
    );
    let bad = std::fs::read_to_string(scratch("late10m.bad")).expect("read bad rows");
    let future = bad
        .lines()
        .filter(|l| l.contains("time.max_future"))
        .count();
    assert!(future > 5, "only {future} future-dated bad rows");
}

/// Events two hours late are older than every short window: they count nowhere, and the job
/// says how many it dropped.
#[test]
fn events_later_than_the_longest_window_are_dropped_and_reported() {
    let mut sets = SHORT.to_vec();
    sets.push("source.batch_size=1");
    let stderr = compare(
        "late2h",
        &[
            "--users",
            "80",
            "--events",
            "8000",
            "--span",
            "40m",
            "--disorder",
            "3s",
            "--late-rate",
            "0.02",
            "--late",
            "2h",
            "--seed",
            "13",
        ],
        &sets,
        &[],
        &short_settings(5_000),
    );
    assert!(
        stderr.contains("too old for every window of their lane, dropped"),
        "no report of the dropped late records: {stderr}"
    );
}

/// With the default windows, events 10 minutes and 2 hours late: beyond the 5 minute and the
/// 1 hour windows, inside the 24 hour ones, and for 2 hours beyond the session gap.
#[test]
fn default_windows_with_events_minutes_and_hours_late() {
    for (late, seed) in [("10m", "21"), ("2h", "22")] {
        compare(
            &format!("defaults-late{late}"),
            &[
                "--users",
                "100",
                "--events",
                "10000",
                "--span",
                "4h",
                "--disorder",
                "3s",
                "--late-rate",
                "0.02",
                "--late",
                late,
                "--future-rate",
                "0.001",
                "--seed",
                seed,
            ],
            &["source.batch_size=1"],
            &[],
            &default_settings(),
        );
    }
}

/// Event times on a 10 second grain: a shopper's events share timestamps and are ordered by
/// event id, for the order-dependent features (earliest view price, latest cart value, first
/// campaign, region changes) too; some arrive late on top.
#[test]
fn identical_timestamps_are_ordered_by_event_id() {
    let mut sets = SHORT.to_vec();
    sets.push("source.batch_size=1");
    compare(
        "ties",
        &[
            "--users",
            "30",
            "--events",
            "6000",
            "--span",
            "30m",
            "--disorder",
            "20s",
            "--time-grain",
            "10s",
            "--late-rate",
            "0.01",
            "--late",
            "3m",
            "--seed",
            "14",
        ],
        &sets,
        &[],
        &short_settings(5_000),
    );
    let events = parse_file(&scratch("ties.tsv"));
    let mut seen = std::collections::BTreeSet::new();
    let ties = events
        .iter()
        .filter(|e| !seen.insert((e.user.clone(), e.time)))
        .count();
    assert!(ties > 500, "only {ties} events share a shopper's timestamp");
}

#[test]
fn late_events_count_from_the_next_emission() {
    // Disorder far beyond the lateness: many events arrive after the watermark passed them.
    let mut sets = SHORT.to_vec();
    sets.push("source.batch_size=1");
    compare(
        "late",
        &[
            "--users",
            "80",
            "--events",
            "8000",
            "--span",
            "30m",
            "--disorder",
            "40s",
            "--seed",
            "11",
        ],
        &sets,
        &[],
        &short_settings(5_000),
    );
}

#[test]
fn workers_and_processes_write_the_same_output() {
    let input = scratch("workers.tsv");
    generate(
        &input,
        &[
            "--users",
            "300",
            "--events",
            "20000",
            "--span",
            "40m",
            "--seed",
            "5",
            "--malformed-rate",
            "0.01",
        ],
    );
    let run = |name: &str, extra: &[&str]| {
        let output = scratch(name);
        run_job(&input, &output, SHORT, extra);
        std::fs::read(&output).expect("read output")
    };
    let one = run("w1.jsonl", &["-w", "1"]);
    assert!(!one.is_empty());
    assert_eq!(
        one,
        run("w2.jsonl", &["-w", "2"]),
        "2 workers differ from 1"
    );
    assert_eq!(
        one,
        run("w4.jsonl", &["-w", "4"]),
        "4 workers differ from 1"
    );
    assert_eq!(
        one,
        run("w3.jsonl", &["-w", "3"]),
        "3 workers differ from 1"
    );

    // Two processes on loopback; process 0 writes the file.
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("port")
        })
        .collect();
    let hostfile = scratch("hosts.txt");
    std::fs::write(
        &hostfile,
        format!("127.0.0.1:{}\n127.0.0.1:{}\n", ports[0], ports[1]),
    )
    .expect("hostfile");
    let output = scratch("p2.jsonl");
    let spawn = |process: &str| {
        let mut command = Command::new(BIN);
        command
            .arg("run")
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&output);
        command.arg("--set").arg(format!(
            "output.bad_rows_file={}",
            scratch("p2.bad").display()
        ));
        for set in SHORT {
            command.arg("--set").arg(set);
        }
        command
            .args(["-w", "2", "-n", "2", "-p", process, "-h"])
            .arg(&hostfile);
        command.spawn().expect("spawn process")
    };
    let mut second = spawn("1");
    let mut first = spawn("0");
    assert!(first.wait().expect("wait").success(), "process 0 failed");
    assert!(second.wait().expect("wait").success(), "process 1 failed");
    assert_eq!(
        one,
        std::fs::read(&output).expect("read"),
        "2 processes differ from 1 worker"
    );
}

#[test]
fn workers_and_processes_leave_the_same_redis_contents() {
    let input = scratch("redis-workers.tsv");
    generate(
        &input,
        &[
            "--users", "200", "--events", "10000", "--span", "40m", "--seed", "9",
        ],
    );
    let reference = scratch("redis-workers.jsonl");
    run_job(&input, &reference, SHORT, &[]);
    let expected = reference::final_state(&actual_changes(
        &std::fs::read_to_string(&reference).expect("read output"),
    ));
    assert!(expected.len() > 100, "too few keys to compare");

    let redis = support::RedisServer::start();
    let url = redis.url();
    let job = |extra: &[&str]| {
        let mut command = Command::new(BIN);
        command.arg("run").arg("--input").arg(&input);
        command.arg("--set").arg(format!("redis.url={url}"));
        command.arg("--set").arg(format!(
            "output.bad_rows_file={}",
            scratch("redis-workers.bad").display()
        ));
        for set in SHORT {
            command.arg("--set").arg(set);
        }
        command.args(extra);
        command
    };
    let flush = || {
        let mut conn = redis.connection().expect("connect");
        redis::cmd("FLUSHALL")
            .query::<()>(&mut conn)
            .expect("FLUSHALL");
    };
    for workers in ["1", "2", "4"] {
        flush();
        let result = job(&["-w", workers]).output().expect("run job");
        assert!(
            result.status.success(),
            "{}",
            String::from_utf8_lossy(&result.stderr)
        );
        assert_eq!(
            redis.state(),
            expected,
            "Redis after {workers} worker(s) differs from the reference"
        );
    }

    flush();
    let hostfile = scratch("redis-hosts.txt");
    let (a, b) = (support::free_port(), support::free_port());
    std::fs::write(&hostfile, format!("127.0.0.1:{a}\n127.0.0.1:{b}\n")).expect("hostfile");
    let hosts = hostfile.to_string_lossy().to_string();
    let mut second = job(&["-w", "2", "-n", "2", "-p", "1", "-h", &hosts])
        .spawn()
        .expect("spawn");
    let mut first = job(&["-w", "2", "-n", "2", "-p", "0", "-h", &hosts])
        .spawn()
        .expect("spawn");
    assert!(first.wait().expect("wait").success(), "process 0 failed");
    assert!(second.wait().expect("wait").success(), "process 1 failed");
    assert_eq!(
        redis.state(),
        expected,
        "Redis after 2 processes differs from the reference"
    );
}

/// Events 10 minutes late and timestamps on a 5 s grain, one record per batch: the same
/// changes as the reference at every emission.
#[test]
fn late_events_on_a_coarse_time_grain_match_the_reference() {
    compare(
        "late-grain",
        &[
            "--users",
            "100",
            "--events",
            "10000",
            "--span",
            "4h",
            "--disorder",
            "3s",
            "--late-rate",
            "0.02",
            "--late",
            "10m",
            "--time-grain",
            "5s",
            "--seed",
            "31",
        ],
        &["source.batch_size=1"],
        &[],
        &default_settings(),
    );
}
