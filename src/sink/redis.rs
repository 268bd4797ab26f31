//! Redis sink: each worker writes the features of the keys it owns over its own connection,
//! one pipeline per batch: `SET key value PX ttl` for changes, `DEL` for emptied windows. When
//! Redis is unreachable the worker retries with backoff and holds back: no write is dropped,
//! and the worker reads no further input meanwhile.

use std::sync::Arc;
use std::time::Duration;

use operators::FeatureWrite;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
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

/// A worker's connection to Redis, reconnecting as needed.
pub struct RedisWriter {
    client: redis::Client,
    connection: Option<redis::Connection>,
    url: String,
    max_backoff: Duration,
    metrics: Arc<Metrics>,
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
        })
    }

    fn try_write(&mut self, writes: &[FeatureWrite]) -> redis::RedisResult<u64> {
        let connection = match self.connection.as_mut() {
            Some(c) => c,
            None => {
                let c = self
                    .client
                    .get_connection_with_timeout(Duration::from_secs(5))?;
                self.connection.insert(c)
            }
        };
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
                        .arg(write.ttl_ms.max(1))
                        .ignore();
                    i += 1;
                }
                None => {
                    // Consecutive deletes share one command; order with sets is kept.
                    let mut del = redis::cmd("DEL");
                    while let Some(FeatureWrite {
                        key, value: None, ..
                    }) = writes.get(i)
                    {
                        del.arg(key);
                        i += 1;
                    }
                    pipe.add_command(del).ignore();
                }
            }
            commands += 1;
        }
        pipe.query::<()>(connection)?;
        Ok(commands)
    }

    /// Writes `writes` in order, retrying with backoff until Redis takes them.
    pub fn write(&mut self, writes: &[FeatureWrite]) {
        if writes.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(50);
        loop {
            match self.try_write(writes) {
                Ok(commands) => {
                    Metrics::add(&self.metrics.redis_commands, commands);
                    Metrics::add(&self.metrics.writes, writes.len() as u64);
                    return;
                }
                Err(e) => {
                    self.connection = None;
                    eprintln!(
                        "live-shopper: Redis at {} failed ({e}); retrying {} writes in {:?}",
                        self.url,
                        writes.len(),
                        backoff
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(self.max_backoff);
                }
            }
        }
    }
}

/// Writes `writes` to Redis through `writer`.
pub fn sink<'s>(
    writes: StreamVec<'s, u64, FeatureWrite>,
    mut writer: RedisWriter,
) -> StreamVec<'s, u64, ()> {
    let mut batch = Vec::new();
    writes.unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
        Pipeline,
        "RedisSink",
        move |_, _| {
            move |input, _output| {
                input.for_each(|_, data| batch.append(data));
                writer.write(&batch);
                batch.clear();
            }
        },
    )
}
