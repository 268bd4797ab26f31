//! Redis sink: each worker writes the features of the keys it owns over its own connection,
//! one pipeline per batch: `SET key value PX ttl` for changes, `DEL` for emptied windows. A
//! pipeline's answers are read when the sink next runs, so Redis and the worker overlap. When
//! Redis is unreachable the worker retries with backoff and holds back: no write is dropped,
//! and the worker reads no further input meanwhile.

use std::sync::Arc;
use std::time::Duration;

use operators::FeatureWrite;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use crate::config::RedisSettings;
use crate::metrics::Metrics;

/// Hides the password of a Redis URL for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// Checks at start that Redis answers and accepts the credentials.
pub fn check(settings: &RedisSettings) -> Result<(), String> {
    let url = redacted(&settings.url);
    let client = redis::Client::open(settings.url.as_str())
        .map_err(|e| format!("redis.url `{url}` is not a valid Redis URL: {e}"))?;
    let refused = |e: redis::RedisError| {
        let auth = e.kind() == redis::ErrorKind::AuthenticationFailed
            || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"));
        if auth {
            format!("Redis at {url} refused the credentials: {e} (check the user and password in redis.url)")
        } else {
            format!(
                "cannot connect to Redis at {url}: {e} (is redis-server running? check redis.url)"
            )
        }
    };
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .map_err(refused)?;
    redis::cmd("PING")
        .query::<String>(&mut conn)
        .map(|_| ())
        .map_err(refused)
}

/// A worker's connection to Redis, reconnecting as needed. One pipeline may be in flight: sent,
/// its replies not yet read, so that Redis works on it while the worker computes the next.
pub struct RedisWriter {
    client: redis::Client,
    connection: Option<redis::Connection>,
    url: String,
    max_backoff: Duration,
    metrics: Arc<Metrics>,
    in_flight: Option<InFlight>,
}

/// A sent pipeline, kept until Redis has answered every command so that it can be sent again.
struct InFlight {
    packed: Vec<u8>,
    commands: u64,
    writes: u64,
    /// Whether sending failed, so that the replies are not waited for.
    failed: bool,
}

impl RedisWriter {
    /// A writer for `settings`; connects on first use.
    pub fn new(settings: &RedisSettings, metrics: Arc<Metrics>) -> Result<RedisWriter, String> {
        let client = redis::Client::open(settings.url.as_str()).map_err(|e| {
            format!(
                "redis.url `{}` is not a valid Redis URL: {e}",
                redacted(&settings.url)
            )
        })?;
        Ok(RedisWriter {
            client,
            connection: None,
            url: redacted(&settings.url),
            max_backoff: settings.max_backoff,
            metrics,
            in_flight: None,
        })
    }

    fn connection(&mut self) -> redis::RedisResult<&mut redis::Connection> {
        match self.connection {
            Some(ref mut c) => Ok(c),
            None => {
                let c = self
                    .client
                    .get_connection_with_timeout(Duration::from_secs(5))?;
                Ok(self.connection.insert(c))
            }
        }
    }

    /// `SET key value PX ttl` per change; consecutive deletes share one `DEL`. Order is kept.
    fn pack(writes: &[FeatureWrite]) -> (Vec<u8>, u64) {
        let mut pipe = redis::pipe();
        let mut commands = 0;
        let mut i = 0;
        while i < writes.len() {
            let write = &writes[i];
            match &write.value {
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
        (pipe.get_packed_pipeline(), commands)
    }

    /// Sends `writes` after the pipeline in flight has been answered, without waiting for the
    /// answers to these.
    pub fn send(&mut self, writes: &[FeatureWrite]) {
        self.finish();
        if writes.is_empty() {
            return;
        }
        let (packed, commands) = Self::pack(writes);
        let failed = self
            .connection()
            .and_then(|c| c.send_packed_command(&packed))
            .is_err();
        if failed {
            self.connection = None;
        }
        self.in_flight = Some(InFlight {
            packed,
            commands,
            writes: writes.len() as u64,
            failed,
        });
    }

    /// Reads the answers of `commands` commands; any error fails the whole pipeline.
    fn answers(&mut self, commands: u64) -> redis::RedisResult<()> {
        let connection = self.connection()?;
        for _ in 0..commands {
            if let redis::Value::ServerError(e) = connection.recv_response()? {
                return Err(e.into());
            }
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
        let mut backoff = Duration::from_millis(50);
        loop {
            let result = if flight.failed {
                self.connection()
                    .and_then(|c| c.send_packed_command(&flight.packed))
                    .and_then(|()| self.answers(flight.commands))
            } else {
                self.answers(flight.commands)
            };
            match result {
                Ok(()) => {
                    Metrics::add(&self.metrics.redis_commands, flight.commands);
                    Metrics::add(&self.metrics.writes, flight.writes);
                    return;
                }
                Err(e) => {
                    self.connection = None;
                    flight.failed = true;
                    eprintln!(
                        "live-shopper: Redis at {} failed ({e}); retrying {} writes in {:?}",
                        self.url, flight.writes, backoff
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }
}

/// Writes `writes` to Redis through `writer`. A batch's times stay open (its capability held)
/// until Redis has answered, so whatever waits on the sink's frontier (offset commits,
/// freshness) sees only writes that are readable in Redis.
pub fn sink<'s>(
    writes: StreamVec<'s, u64, FeatureWrite>,
    mut writer: RedisWriter,
) -> StreamVec<'s, u64, ()> {
    let scope = writes.scope();
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
