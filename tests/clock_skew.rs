//! One event dated 9999-12-31 in a generated shop: the job rejects it as a bad row (its time is
//! far past the wall clock plus `time.max_future`) and writes exactly the features it writes
//! without it. With the rule off, the same event moves the watermark to 9999 and the features
//! change, which is what the rule is for.

use std::path::{Path, PathBuf};
use std::process::Command;

use jobs::parse::FIELD_NAMES;

const BIN: &str = env!("CARGO_BIN_EXE_live-shopper");

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("live-shopper-skew-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn field(name: &str) -> usize {
    FIELD_NAMES.iter().position(|n| *n == name).expect("field")
}

/// Runs the job over `input`; returns its sorted output lines and its bad rows.
fn run_job(input: &Path, name: &str, sets: &[&str]) -> (Vec<String>, Vec<serde_json::Value>) {
    let output = scratch(&format!("{name}.jsonl"));
    let bad_rows = scratch(&format!("{name}.bad.jsonl"));
    let mut command = Command::new(BIN);
    command
        .arg("run")
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(&output)
        .arg("--set")
        .arg(format!("output.bad_rows_file={}", bad_rows.display()));
    for set in sets {
        command.arg("--set").arg(set);
    }
    let result = command.output().expect("run job");
    assert!(
        result.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    let mut lines: Vec<String> = std::fs::read_to_string(&output)
        .expect("output")
        .lines()
        .map(String::from)
        .collect();
    lines.sort_unstable();
    let bad = std::fs::read_to_string(&bad_rows)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("bad row is JSON"))
        .collect();
    (lines, bad)
}

#[test]
fn an_event_from_the_year_9999_changes_nothing() {
    let clean = scratch("clean.tsv");
    let status = Command::new(BIN)
        .args([
            "generate", "--events", "3000", "--users", "50", "--span", "30m", "--output",
        ])
        .arg(&clean)
        .status()
        .expect("generate");
    assert!(status.success());

    // A copy of an early event, dated 9999-12-31 and with an id of its own, after the 100th line.
    let text = std::fs::read_to_string(&clean).expect("generated");
    let mut lines: Vec<&str> = text.lines().collect();
    let mut fields: Vec<&str> = lines[100].split('\t').collect();
    fields[field("derived_tstamp")] = "9999-12-31 23:59:59.000";
    fields[field("collector_tstamp")] = "9999-12-31 23:59:59.000";
    fields[field("event_id")] = "99999999-9999-4999-8999-999999999999";
    let skewed_line = fields.join("\t");
    lines.insert(101, &skewed_line);
    let skewed = scratch("skewed.tsv");
    std::fs::write(&skewed, lines.join("\n") + "\n").expect("write input");

    let (expected, clean_bad) = run_job(&clean, "clean", &[]);
    assert!(expected.len() > 100, "too few feature writes");
    assert!(clean_bad.is_empty());

    let (actual, bad) = run_job(&skewed, "skewed", &[]);
    assert_eq!(bad.len(), 1, "{bad:?}");
    let reason = bad[0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("derived_tstamp: event time 9999-12-31T23:59:59.000Z is later than"),
        "{reason}"
    );
    assert!(
        actual == expected,
        "the features differ: {} lines against {}",
        actual.len(),
        expected.len()
    );

    // Without the rule the event is accepted and the features are not the same.
    let (off, off_bad) = run_job(&skewed, "off", &["time.max_future=off"]);
    assert!(off_bad.is_empty(), "{off_bad:?}");
    assert_ne!(
        off, expected,
        "the event from 9999 changed nothing even unchecked"
    );
}
