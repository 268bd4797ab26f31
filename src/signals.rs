//! Graceful stop on SIGTERM and SIGINT.
//!
//! The first signal asks the job to stop: it sets the flag of the [`Stop`] handle, which the
//! worker loop polls, and says so on stderr. A second signal exits the process at once, for a job
//! that is stuck (a sink that no longer answers) or an operator who will not wait; the exit status
//! is the shell's convention for death by that signal, 128 plus its number (130 for SIGINT, 143
//! for SIGTERM).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;
use signal_hook::iterator::Signals;

/// The signals that ask the job to stop.
const STOP_SIGNALS: [i32; 2] = [SIGTERM, SIGINT];

/// What the first signal prints on stderr.
pub const STOP_MESSAGE: &str = "live-shopper: stopping: finishing the batch in flight and taking a final checkpoint; signal again to exit at once";

/// Whether a stop was asked for: a cheap handle to share with every worker.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    requested: Arc<AtomicBool>,
}

impl Stop {
    /// A handle that only [`Stop::request`] sets: for runs without signal handlers (tests, the
    /// library).
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::Relaxed)
    }

    /// Asks for a stop, as the first signal does.
    pub fn request(&self) {
        self.requested.store(true, Ordering::Relaxed);
    }
}

/// Installs the handlers of SIGTERM and SIGINT and returns the handle the first one sets.
///
/// Call it once per process: every call adds handlers, and a second signal exits the process
/// whichever handle saw the first.
pub fn install() -> Result<Stop, String> {
    let stop = Stop::new();
    let failed = |e: std::io::Error| format!("cannot install the SIGTERM and SIGINT handlers: {e}");
    for signal in STOP_SIGNALS {
        // Handlers run in the order they were registered: the exit comes first, so that it sees
        // the flag as it was before this signal, and only a second signal exits. It runs in the
        // handler itself, so that it works however stuck the rest of the process is, and skips
        // exit handlers, which could hang or crash while the job's threads still run.
        flag::register_conditional_shutdown(signal, 128 + signal, stop.requested.clone())
            .map_err(failed)?;
        flag::register(signal, stop.requested.clone()).map_err(failed)?;
    }
    // Printing is not safe in a signal handler: a thread waits for the signals and says it.
    let mut signals = Signals::new(STOP_SIGNALS).map_err(failed)?;
    std::thread::Builder::new()
        .name("live-shopper-signals".to_string())
        .spawn(move || {
            if signals.forever().next().is_some() {
                let _ = writeln!(std::io::stderr(), "{STOP_MESSAGE}");
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_new_handle_is_not_requested_until_asked_and_clones_share_the_flag() {
        let stop = Stop::new();
        let clone = stop.clone();
        assert!(!stop.requested());
        clone.request();
        assert!(stop.requested());
    }

    // The only test of this binary that raises a signal: a second one would exit the test
    // process (the binary's own tests cover that, tests/signals.rs).
    #[test]
    fn the_first_sigterm_sets_the_flag_and_leaves_the_process_running() {
        let stop = install().expect("install the handlers");
        assert!(!stop.requested(), "no signal yet");
        signal_hook::low_level::raise(SIGTERM).expect("raise SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !stop.requested() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(stop.requested(), "SIGTERM did not set the flag");
    }
}
