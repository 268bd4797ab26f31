//! Redis sink: each worker writes the features of the keys it owns over its own connection,
//! one pipeline per batch: `SET key value PX ttl` for changes, `DEL` for emptied windows. A
//! pipeline's answers are read when the sink next runs, so Redis and the worker overlap. When
//! Redis is unreachable or stops answering (every wait is bounded, see [`connect`]) the worker
//! retries with backoff and holds back: no write is dropped, the worker reads no further input
//! meanwhile, and the stall is logged while it lasts. A marker key per worker ([`marker`]) tells
//! when Redis has lost the data; the worker's window operators then write every current value
//! again.

pub mod connect;
pub mod marker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use operators::republish::Republish;
use operators::FeatureWrite;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use crate::config::RedisSettings;
use crate::metrics::Metrics;
use connect::{Endpoint, Failure, Phase};
use marker::{Found, Marker};

/// How often a stall is reported while it lasts.
const STALL_REPORT_EVERY: Duration = Duration::from_secs(5);

/// The first delay between two attempts; it doubles up to `redis.max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// Checks at start that Redis answers and accepts the credentials.
pub fn check(settings: &RedisSettings) -> Result<(), String> {
    let mut endpoint = Endpoint::new(settings)?;
    endpoint.connect().map(|_| ()).map_err(|failure| {
        let hint = match failure {
            Failure::Redis(_, ref e) if e.is_connection_refusal() => {
                " (is redis-server running? check redis.url)"
            }
            _ => "",
        };
        format!(
            "cannot connect to Redis at {}: {}{hint}",
            endpoint.url,
            endpoint.describe(&failure)
        )
    })
}

/// A worker's connection to Redis, reconnecting as needed. One pipeline may be in flight: sent,
/// its replies not yet read, so that Redis works on it while the worker computes the next.
pub struct RedisWriter {
    endpoint: Endpoint,
    connection: Option<redis::Connection>,
    max_backoff: Duration,
    metrics: Arc<Metrics>,
    in_flight: Option<InFlight>,
    /// The worker, for messages.
    worker: usize,
    marker: Marker,
    /// Asks the worker's window operators to write every current value again.
    republish: Republish,
}

/// A sent pipeline, kept until Redis has answered every command so that it can be sent again.
struct InFlight {
    packed: Vec<u8>,
    commands: u64,
    writes: u64,
    /// Whether the pipeline ends with the marker check, whose answer is the last.
    checks_marker: bool,
    /// Whether sending failed, so that the replies are not waited for.
    failed: bool,
}

/// A pipeline that Redis has not applied yet, retried until it has.
struct Stall {
    since: Instant,
    reported: Instant,
    attempts: u64,
}

impl RedisWriter {
    /// A writer for `settings` that requests a republish from the window operators whenever
    /// Redis has lost the data; connects on first use.
    pub fn new(
        settings: &RedisSettings,
        metrics: Arc<Metrics>,
        republish: Republish,
    ) -> Result<RedisWriter, String> {
        Ok(RedisWriter {
            endpoint: Endpoint::new(settings)?,
            connection: None,
            max_backoff: settings.max_backoff,
            metrics,
            in_flight: None,
            worker: 0,
            marker: Marker::new(0),
            republish,
        })
    }

    /// Makes this the writer of the worker with global index `worker`.
    fn for_worker(&mut self, worker: usize) {
        self.worker = worker;
        self.marker = Marker::new(worker);
    }

    /// The open connection, or a new one, whose marker has been checked: a new connection may
    /// reach a Redis that restarted empty or another server.
    fn connection(&mut self) -> Result<&mut redis::Connection, Failure> {
        match self.connection {
            Some(ref mut c) => Ok(c),
            None => {
                let mut c = self.endpoint.connect()?;
                let answer = self
                    .marker
                    .command()
                    .query::<redis::Value>(&mut c)
                    .map_err(|e| Failure::Redis(Phase::Reply, e))?;
                self.marker_answered(&answer);
                Ok(self.connection.insert(c))
            }
        }
    }

    /// Acts on the answer to a marker check: a missing marker asks for a republish.
    fn marker_answered(&mut self, answer: &redis::Value) {
        let found = self.marker.answered(answer);
        let (worker, url, key) = (self.worker, &self.endpoint.url, self.marker.key());
        match found {
            Found::Present => return,
            Found::Unmarked => eprintln!(
                "live-shopper: worker {worker}: set marker {key} in Redis at {url}, to notice if \
                 Redis loses the job's data"
            ),
            Found::Lost => {
                Metrics::add(&self.metrics.redis_resets, 1);
                eprintln!(
                    "live-shopper: worker {worker}: Redis at {url} has lost the job's data \
                     (marker {key} missing): republishing every current feature of worker \
                     {worker}"
                );
            }
        }
        // Also when the marker was never there: a job that starts with window state must write
        // it into a Redis that lost it while the job was not running.
        self.republish.request();
    }

    /// `SET key value PX ttl` per change (for a write that keeps an existing key's expiry,
    /// `SET NX PX` then `SET XX KEEPTTL`); consecutive deletes share one `DEL`. Order is kept.
    /// With `marker`, the check goes last, so that a marker found there means that every write
    /// before it is in Redis.
    fn pack(writes: &[FeatureWrite], marker: Option<redis::Cmd>) -> (Vec<u8>, u64) {
        let mut pipe = redis::pipe();
        let mut commands = 0;
        let mut i = 0;
        while i < writes.len() {
            let write = &writes[i];
            match &write.value {
                Some(value) if write.keep_expiry => {
                    // A missing key gets the expiry; a key still there keeps its own.
                    pipe.cmd("SET")
                        .arg(&write.key)
                        .arg(value)
                        .arg("NX")
                        .arg("PX")
                        .arg(write.ttl_ms.max(1));
                    pipe.cmd("SET")
                        .arg(&write.key)
                        .arg(value)
                        .arg("XX")
                        .arg("KEEPTTL");
                    commands += 1;
                    i += 1;
                }
                Some(value) => {
                    pipe.cmd("SET")
                        .arg(&write.key)
                        .arg(value)
                        .arg("PX")
                        .arg(write.ttl_ms.max(1));
                    i += 1;
                }
                None => {
                    let mut del = redis::cmd("DEL");
                    while let Some(FeatureWrite {
                        key, value: None, ..
                    }) = writes.get(i)
                    {
                        del.arg(key);
                        i += 1;
                    }
                    pipe.add_command(del);
                }
            }
            commands += 1;
        }
        if let Some(check) = marker {
            pipe.add_command(check);
            commands += 1;
        }
        (pipe.get_packed_pipeline(), commands)
    }

    /// Sends `writes` after the pipeline in flight has been answered, without waiting for the
    /// answers to these.
    pub fn send(&mut self, writes: &[FeatureWrite]) {
        self.finish();
        if writes.is_empty() {
            return;
        }
        let checks_marker = self.marker.due();
        let (packed, commands) = Self::pack(writes, checks_marker.then(|| self.marker.command()));
        let failed = match self.connection() {
            Ok(c) => c.send_packed_command(&packed).is_err(),
            Err(_) => true,
        };
        if failed {
            self.connection = None;
        }
        self.in_flight = Some(InFlight {
            packed,
            commands,
            writes: writes.len() as u64,
            checks_marker,
            failed,
        });
    }

    /// One attempt at getting `flight` applied: sent again over a new connection if sending
    /// failed, then its answers read; any error fails the whole pipeline.
    fn attempt(&mut self, flight: &InFlight) -> Result<(), Failure> {
        let reply = |e| Failure::Redis(Phase::Reply, e);
        if flight.failed {
            self.connection()?
                .send_packed_command(&flight.packed)
                .map_err(reply)?;
        }
        let Some(connection) = self.connection.as_mut() else {
            return Err(Failure::Redis(Phase::Reply, not_connected()));
        };
        let mut last = redis::Value::Nil;
        for _ in 0..flight.commands {
            last = connection.recv_response().map_err(reply)?;
            if let redis::Value::ServerError(e) = last {
                return Err(reply(e.into()));
            }
        }
        if flight.checks_marker {
            self.marker_answered(&last);
        }
        Ok(())
    }

    /// Waits until Redis has applied the pipeline in flight, sending it again (over a new
    /// connection, with backoff) until it has: no write is dropped. Sets and deletes are
    /// idempotent, so a pipeline applied twice leaves the same contents.
    pub fn finish(&mut self) {
        let Some(mut flight) = self.in_flight.take() else {
            return;
        };
        let mut backoff = FIRST_BACKOFF;
        let mut stall: Option<Stall> = None;
        loop {
            match self.attempt(&flight) {
                Ok(()) => break,
                Err(failure) => {
                    self.connection = None;
                    flight.failed = true;
                    let stall = stall.get_or_insert_with(Stall::new);
                    self.report(stall, &failure, &flight, backoff);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
        if let Some(stall) = stall {
            eprintln!(
                "live-shopper: worker {}: Redis at {} answers again after {:.1?} ({} failed attempts); {} writes applied",
                self.worker,
                self.endpoint.url,
                stall.since.elapsed(),
                stall.attempts,
                flight.writes
            );
        }
        Metrics::add(&self.metrics.redis_commands, flight.commands);
        Metrics::add(&self.metrics.writes, flight.writes);
    }

    /// Logs the first failure of a stall, then one line every [`STALL_REPORT_EVERY`].
    fn report(&self, stall: &mut Stall, failure: &Failure, flight: &InFlight, backoff: Duration) {
        if !stall.failed() {
            return;
        }
        let (worker, url) = (self.worker, &self.endpoint.url);
        let reason = self.endpoint.describe(failure);
        let what = format!("{} writes ({} commands)", flight.writes, flight.commands);
        if stall.attempts == 1 {
            eprintln!(
                "live-shopper: worker {worker}: Redis at {url} failed: {reason}; retrying {what} \
                 with backoff, next attempt in {backoff:?}; no write is dropped"
            );
        } else {
            eprintln!(
                "live-shopper: worker {worker}: Redis at {url} stalled for {:.1?}: {reason}; \
                 still retrying {what}, attempt {} failed, next in {backoff:?}",
                stall.since.elapsed(),
                stall.attempts,
            );
        }
    }
}

impl Stall {
    fn new() -> Stall {
        let now = Instant::now();
        Stall {
            since: now,
            reported: now,
            attempts: 0,
        }
    }

    /// Counts a failed attempt; whether it is time to report the stall.
    fn failed(&mut self) -> bool {
        self.attempts += 1;
        let due = self.attempts == 1 || self.reported.elapsed() >= STALL_REPORT_EVERY;
        if due {
            self.reported = Instant::now();
        }
        due
    }
}

fn not_connected() -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "no connection to Redis").into()
}

/// Writes `writes` to Redis through `writer`. A batch's times stay open (its capability held)
/// until Redis has answered, so whatever waits on the sink's frontier (offset commits,
/// freshness) sees only writes that are readable in Redis.
pub fn sink<'s>(
    writes: StreamVec<'s, u64, FeatureWrite>,
    mut writer: RedisWriter,
) -> StreamVec<'s, u64, ()> {
    let scope = writes.scope();
    writer.for_worker(scope.index());
    let mut batch = Vec::new();
    writes.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
        Pipeline,
        "RedisSink",
        move |_capability, info| {
            let activator = scope.activator_for(info.address);
            let mut in_flight: Option<Capability<u64>> = None;
            move |(input, _frontier), _output| {
                let mut least: Option<Capability<u64>> = None;
                input.for_each(|cap, data| {
                    if let Some(time) = cap.least() {
                        if least.as_ref().is_none_or(|held| time < held.time()) {
                            least = Some(cap.delayed(time, 0));
                        }
                    }
                    batch.append(data);
                });
                if batch.is_empty() {
                    writer.finish();
                    in_flight.take();
                } else {
                    writer.send(&batch);
                    batch.clear();
                    match least {
                        Some(capability) => in_flight.replace(capability),
                        None => in_flight.take(),
                    };
                    // Come back for the answers even if no more writes arrive.
                    activator.activate();
                }
            }
        },
    )
}
