//! librdkafka's log of a consumer, served by a thread of its own. The crate sends the log to
//! the consumer's queue, which only the worker serves, when it polls; a worker busy elsewhere
//! (waiting for the others, for Redis) sees a closed connection late, and by then librdkafka may
//! have reconnected and fetched from a broker that lost the topic, which crashes it (see
//! [`super::watch`]). This thread hands each log line to the consumer's context at once and,
//! when a broker connection failed or closed, pauses the whole assignment within microseconds:
//! librdkafka's first reconnection to a broker that went away is refused, and the next one
//! waits out `reconnect.backoff.ms`, long enough for the pause to arrive first.

use std::ffi::CStr;
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rdkafka::bindings as sys;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientContext;

use super::health::SourceContext;

/// How long one wait for a log line lasts, in milliseconds: the time the thread takes to notice
/// that it should stop.
const WAIT_MS: i32 = 100;

/// A librdkafka queue handle that may move to the thread serving it.
struct Queue(*mut sys::rd_kafka_queue_t);

// SAFETY: librdkafka queues are thread-safe; the handle is only destroyed by `LogPump::drop`,
// after the serving thread has ended.
unsafe impl Send for Queue {}

/// The thread serving a consumer's log.
pub struct LogPump {
    consumer: Arc<BaseConsumer<SourceContext>>,
    queue: *mut sys::rd_kafka_queue_t,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

// SAFETY: the queue pointer is only used to destroy the queue once the thread has ended.
unsafe impl Send for LogPump {}

impl LogPump {
    /// Sends `consumer`'s log to a new queue served by a new thread.
    pub fn start(consumer: Arc<BaseConsumer<SourceContext>>) -> LogPump {
        let rk = consumer.client().native_ptr();
        // SAFETY: `rk` is a live client; the new queue belongs to it and is destroyed in
        // `drop`, after the log is sent back to the main queue.
        let queue = unsafe {
            let queue = sys::rd_kafka_queue_new(rk);
            sys::rd_kafka_set_log_queue(rk, queue);
            queue
        };
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (consumer, stop, queue) = (consumer.clone(), stop.clone(), Queue(queue));
            std::thread::Builder::new()
                .name("kafka-log".into())
                .spawn(move || serve(&consumer, &queue, &stop))
                .ok()
        };
        if thread.is_none() {
            // SAFETY: as above; nobody serves the new queue, so the log goes back.
            unsafe { sys::rd_kafka_set_log_queue(rk, std::ptr::null_mut()) };
        }
        LogPump {
            consumer,
            queue,
            stop,
            thread,
        }
    }
}

fn serve(consumer: &BaseConsumer<SourceContext>, queue: &Queue, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: the queue lives until this thread has ended (see `LogPump::drop`); every
        // event polled is destroyed once read, and the strings are copied before that.
        unsafe {
            let event = sys::rd_kafka_queue_poll(queue.0, WAIT_MS);
            if event.is_null() {
                continue;
            }
            if sys::rd_kafka_event_type(event) == sys::RD_KAFKA_EVENT_LOG {
                let (mut facility, mut text): (*const c_char, *const c_char) =
                    (std::ptr::null(), std::ptr::null());
                let mut level = 0;
                if sys::rd_kafka_event_log(event, &mut facility, &mut text, &mut level) == 0 {
                    let facility = CStr::from_ptr(facility).to_string_lossy().into_owned();
                    let text = CStr::from_ptr(text).to_string_lossy().into_owned();
                    if facility == "FAIL" {
                        pause_all(consumer);
                    }
                    let level = log_level(level);
                    consumer.context().log(level, facility.trim(), text.trim());
                }
            }
            sys::rd_kafka_event_destroy(event);
        }
    }
}

/// librdkafka's syslog-style level as the crate's enum.
fn log_level(level: i32) -> RDKafkaLogLevel {
    use RDKafkaLogLevel as L;
    match level {
        i32::MIN..=0 => L::Emerg,
        1 => L::Alert,
        2 => L::Critical,
        3 => L::Error,
        4 => L::Warning,
        5 => L::Notice,
        6 => L::Info,
        _ => L::Debug,
    }
}

/// Pauses every assigned partition (the source resumes those it still reads once the topic is
/// checked).
fn pause_all(consumer: &BaseConsumer<SourceContext>) {
    if let Ok(assignment) = consumer.assignment() {
        if assignment.count() > 0 {
            // A failed pause only leaves the crash unguarded; reading is unaffected.
            let _ = consumer.pause(&assignment);
        }
    }
}

impl Drop for LogPump {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let rk = self.consumer.client().native_ptr();
        // SAFETY: the serving thread has ended; the log goes back to the main queue (NULL)
        // before the queue is destroyed, and the client is alive (`self.consumer`).
        unsafe {
            sys::rd_kafka_set_log_queue(rk, std::ptr::null_mut());
            sys::rd_kafka_queue_destroy(self.queue);
        }
    }
}
