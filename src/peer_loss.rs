//! A job of several processes whose connection to one of them breaks exits at once.
//!
//! timely's communication threads panic when a connection to another process fails, with a
//! message that starts with "timely communication error:" (timely_communication's
//! `allocator/zero_copy/tcp.rs` keeps that prefix for callers to recognise). Left alone, that
//! panic kills one thread and leaves the workers to fail or wait, depending on where they are; a
//! dataflow cannot go on without one of its processes anyway, so the job says what happened and
//! exits, for a supervisor to restart every process.

use std::io::Write;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};

/// The prefix of timely's panics on a failed connection between processes.
const TIMELY_COMMUNICATION_ERROR: &str = "timely communication error:";

/// The exit status after a lost connection.
pub const EXIT_STATUS: i32 = 1;

/// Set by the first thread to report a lost connection: the send and receive threads of a
/// connection may both fail, and one message is enough.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// Installs a panic hook that exits the process on timely's communication panics and leaves
/// every other panic to the hook installed before it.
pub fn exit_on_lost_connection() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| match lost_connection(info) {
        Some(message) => {
            if REPORTED.swap(true, Ordering::SeqCst) {
                // The first thread is writing the message and exits the process after it.
                loop {
                    std::thread::park();
                }
            }
            // Not eprintln: a panic while panicking would abort, without the message.
            let _ = writeln!(std::io::stderr(), "{message}");
            // `_exit`: exit handlers (OpenSSL's among them) could crash or hang while the other
            // threads of the job still run.
            signal_hook::low_level::exit(EXIT_STATUS);
        }
        None => previous(info),
    }));
}

/// The message for a panic that reports a lost connection, `None` for any other panic.
fn lost_connection(info: &PanicHookInfo<'_>) -> Option<String> {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())?;
    message_for(text)
}

fn message_for(panic: &str) -> Option<String> {
    let cause = panic.strip_prefix(TIMELY_COMMUNICATION_ERROR)?.trim();
    Some(format!(
        "live-shopper: lost the connection to another process of this job ({cause}): exiting; restart all processes to recover"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timely_communication_panics_are_recognised_and_quoted() {
        let message = message_for("timely communication error: reading data: socket closed")
            .expect("a communication panic");
        assert_eq!(
            message,
            "live-shopper: lost the connection to another process of this job (reading data: socket closed): exiting; restart all processes to recover"
        );
    }

    #[test]
    fn other_panics_are_left_alone() {
        assert_eq!(message_for("MergeQueue poisoned."), None);
        assert_eq!(message_for("index out of bounds"), None);
        assert_eq!(message_for("a timely communication error: x"), None);
    }
}
