//! `live-shopper bench` on a small shop: its checkpoint figures (`--checkpoints`) come from a
//! checkpoint the job really wrote and a run that really restored it; a recorded file
//! (`--input`) is measured like a generated shop.

use live_shopper::bench::{bench, BenchOptions, Figure};
use live_shopper::generate::GenerateOptions;

fn value(figures: &[Figure], name: &str) -> f64 {
    figures
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value)
        .unwrap_or_else(|| panic!("no figure `{name}`"))
}

#[test]
fn the_largest_checkpoint_is_written_and_restored_by_two_workers() {
    let events = 20_000;
    // The job opens the bad-rows file of a file run, though the bench sends it none.
    let dir = tempfile::tempdir().expect("temporary directory");
    let bad_rows = dir.path().join("bad-rows.jsonl");
    let options = BenchOptions {
        shop: GenerateOptions {
            users: 200,
            events,
            span_ms: 20 * 60_000,
            ..GenerateOptions::default()
        },
        threads: 2,
        redis_url: None,
        brokers: None,
        // Small batches, so that the run is still reading when it is stopped near the end.
        sets: vec![
            "source.batch_size=256".to_string(),
            format!("output.bad_rows_file={}", bad_rows.display()),
        ],
        checkpoint_rounds: Some(1),
        input: None,
    };
    let figures = bench(&options).expect("the bench runs");
    let held = value(&figures, "largest checkpoint: records held");
    let peak = value(&figures, "peak window state");
    assert!(
        held > 0.5 * peak && held <= peak,
        "the checkpoint near the end holds {held} records, the peak is {peak}"
    );
    let per_record = value(&figures, "largest checkpoint: bytes per record held");
    assert!(
        (8.0..1000.0).contains(&per_record),
        "{per_record} bytes per record"
    );
    assert!(value(&figures, "largest checkpoint: serialize (worker threads)") > 0.0);
    assert!(value(&figures, "largest checkpoint: restore") > 0.0);
    // The restarted run reads only what the stopped one had not: the last few percent.
    let read = value(&figures, "largest checkpoint: events read after restore");
    assert!(
        read > 0.0 && read < 0.2 * events as f64,
        "the restarted run read {read} of {events} events"
    );
    for name in [
        "checkpoints off: throughput",
        "checkpoints every 10s: throughput",
        "checkpoints every 1s: throughput",
    ] {
        assert!(value(&figures, name) > 0.0, "{name}");
    }
}

#[test]
fn a_recorded_file_is_measured_in_events_per_cpu_second() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let shop = GenerateOptions {
        users: 100,
        events: 5_000,
        span_ms: 20 * 60_000,
        ..GenerateOptions::default()
    };
    let mut generated = live_shopper::generate::Shop::new(shop.clone()).expect("a shop");
    let (mut key, mut record, mut file) = (String::new(), Vec::new(), Vec::new());
    while generated.next_into(&mut key, &mut record).is_some() {
        file.extend_from_slice(&record);
        file.push(b'\n');
        record.clear();
    }
    let input = dir.path().join("shop.tsv");
    std::fs::write(&input, file).expect("write the file");
    let options = BenchOptions {
        shop,
        threads: 1,
        redis_url: None,
        brokers: None,
        sets: vec![format!(
            "output.bad_rows_file={}",
            dir.path().join("bad-rows.jsonl").display()
        )],
        checkpoint_rounds: None,
        input: Some(input),
    };
    let figures = bench(&options).expect("the bench runs");
    assert_eq!(value(&figures, "events"), 5_000.0);
    let per_cpu = value(&figures, "compute-only events per CPU-second");
    assert!(per_cpu.is_finite() && per_cpu > 0.0, "{per_cpu}");
    assert!(value(&figures, "feature writes per event") > 1.0);
    assert!(
        figures.iter().all(|f| !f.name.contains("per user")),
        "a recorded file has no known number of users"
    );
}
