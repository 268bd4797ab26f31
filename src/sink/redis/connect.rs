//! Connections to Redis with bounded waits: `redis.connect_timeout` for the TCP connection, the
//! TLS handshake and the login, `redis.reply_timeout` for every answer and every write. The
//! Redis client bounds the TCP connect and the login itself but not a native-tls handshake (a
//! `rediss://` URL pointed at a plain port waits for ever), so each connection is opened on a
//! helper thread that is waited for no longer than the timeout.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use redis::{Connection, IntoConnectionInfo, RedisError, RedisResult};

use crate::config::RedisSettings;
use crate::redact::redact;

/// What a connection was doing when it failed, for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Opening: TCP, TLS, login.
    Connect,
    /// Waiting for an answer, or for Redis to take a write.
    Reply,
}

/// A failed attempt to reach Redis.
#[derive(Debug)]
pub enum Failure {
    /// Opening did not finish within `redis.connect_timeout` although the client's own
    /// timeouts did not fire: a TLS handshake that hangs.
    Hung,
    /// An error of the Redis client.
    Redis(Phase, RedisError),
}

impl Failure {
    /// Whether Redis refused the credentials (retrying will not help).
    pub fn is_auth(&self) -> bool {
        match self {
            Failure::Redis(_, e) => {
                e.kind() == redis::ErrorKind::AuthenticationFailed
                    || matches!(e.code(), Some("NOAUTH" | "WRONGPASS" | "NOPERM"))
            }
            Failure::Hung => false,
        }
    }
}

/// What users of a plain port with a `rediss://` URL need to hear.
const TLS_HINT: &str = "rediss:// needs a TLS port; if this port is plain, use redis://";

/// The Redis server of `redis.url`, and how long to wait for it.
pub struct Endpoint {
    client: redis::Client,
    /// `redis.url` without its secrets, for messages.
    pub url: String,
    tls: bool,
    connect_timeout: Duration,
    reply_timeout: Duration,
    /// An attempt that outlived its wait. It is waited for again before another starts, so a
    /// server that hangs handshakes holds at most one thread.
    pending: Option<Receiver<RedisResult<Connection>>>,
}

impl Endpoint {
    /// The server of `settings`; connects on [`Endpoint::connect`].
    pub fn new(settings: &RedisSettings) -> Result<Endpoint, String> {
        let url = redact(&settings.url);
        let invalid = |e: RedisError| {
            format!(
                "redis.url `{url}` is not a valid Redis URL: {}",
                redact(&e.to_string())
            )
        };
        let info = settings
            .url
            .as_str()
            .into_connection_info()
            .map_err(invalid)?;
        let tls = matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. });
        // Without CLIENT SETINFO at login, a connection without a password needs no answer until
        // its first command, so a silent server is reported against redis.reply_timeout.
        let login = info.redis_settings().clone().set_skip_set_lib_name();
        let client = redis::Client::open(info.set_redis_settings(login)).map_err(invalid)?;
        Ok(Endpoint {
            client,
            url,
            tls,
            connect_timeout: settings.connect_timeout,
            reply_timeout: settings.reply_timeout,
            pending: None,
        })
    }

    /// A new connection that has answered PING, its waits bounded by `redis.reply_timeout`.
    pub fn connect(&mut self) -> Result<Connection, Failure> {
        let mut connection = self.open()?;
        let reply = Some(self.reply_timeout);
        connection
            .set_read_timeout(reply)
            .and_then(|()| connection.set_write_timeout(reply))
            .map_err(|e| Failure::Redis(Phase::Connect, e))?;
        redis::cmd("PING")
            .query::<String>(&mut connection)
            .map_err(|e| Failure::Redis(Phase::Reply, e))?;
        Ok(connection)
    }

    /// Opens a connection on a helper thread, waiting at most about `redis.connect_timeout`.
    fn open(&mut self) -> Result<Connection, Failure> {
        let attempt = match self.pending.take() {
            Some(attempt) => attempt,
            None => self.spawn()?,
        };
        // The client's own timeouts fire first unless the handshake hangs.
        let wait = self.connect_timeout + Duration::from_millis(250);
        match attempt.recv_timeout(wait) {
            Ok(result) => result.map_err(|e| Failure::Redis(Phase::Connect, e)),
            Err(RecvTimeoutError::Timeout) => {
                self.pending = Some(attempt);
                Err(Failure::Hung)
            }
            Err(RecvTimeoutError::Disconnected) => Err(Failure::Hung),
        }
    }

    fn spawn(&self) -> Result<Receiver<RedisResult<Connection>>, Failure> {
        let (sender, receiver) = mpsc::channel();
        let client = self.client.clone();
        let timeout = self.connect_timeout;
        std::thread::Builder::new()
            .name("redis-connect".to_string())
            .spawn(move || {
                // The receiver may have given up on this attempt; then nobody needs the result.
                let _ = sender.send(client.get_connection_with_timeout(timeout));
            })
            .map_err(|e| Failure::Redis(Phase::Connect, e.into()))?;
        Ok(receiver)
    }

    /// What went wrong, and which setting to look at.
    pub fn describe(&self, failure: &Failure) -> String {
        let connect = format!("{:?} (redis.connect_timeout)", self.connect_timeout);
        match failure {
            Failure::Hung if self.tls => {
                format!("the TLS handshake did not finish within {connect}; {TLS_HINT}")
            }
            Failure::Hung => no_connection(&connect),
            Failure::Redis(_, e) if failure.is_auth() => format!(
                "it refused the credentials ({}); check the user and password in redis.url",
                redact(&e.to_string())
            ),
            Failure::Redis(phase, e) => self.describe_error(*phase, e, &connect),
        }
    }

    fn describe_error(&self, phase: Phase, e: &RedisError, connect: &str) -> String {
        let text = redact(&e.to_string());
        if text.contains("SSL Handshake error") {
            return format!("the TLS handshake failed ({text}); {TLS_HINT}");
        }
        match (phase, e.is_timeout()) {
            (Phase::Connect, true) => no_connection(connect),
            (Phase::Reply, true) => format!(
                "no answer within {:?} (redis.reply_timeout)",
                self.reply_timeout
            ),
            (_, false) => text,
        }
    }
}

fn no_connection(connect: &str) -> String {
    format!("it did not accept the connection, or did not answer the login, within {connect}")
}
