//! Redis settings at start: a server that refuses the credentials or cannot be reached stops the
//! job with a message that says what to fix; the right password in the URL works.

mod support;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_live-shopper");

fn run_with(url: &str, input: &std::path::Path) -> (bool, String) {
    let bad_rows = input.with_extension("bad");
    let output = Command::new(BIN)
        .arg("run")
        .arg("--input")
        .arg(input)
        .args(["--set", &format!("redis.url={url}")])
        .args([
            "--set",
            &format!("output.bad_rows_file={}", bad_rows.display()),
        ])
        .output()
        .expect("run the job");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

#[test]
fn credentials_are_checked_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("shop.tsv");
    let status = Command::new(BIN)
        .args([
            "generate", "--users", "20", "--events", "500", "--span", "10m", "--output",
        ])
        .arg(&input)
        .status()
        .expect("generate");
    assert!(status.success());

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
