//! Configuration: the commented defaults in `config/live-shopper.toml`, an optional file over
//! them, then environment (`LIVE_SHOPPER__SECTION__KEY`) and command-line (`--set key=value`)
//! overrides, validated into typed settings. Every mistake names the key and what is allowed.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::catalogue::{ConfiguredLanes, LaneSettings, SessionSettings};
use jobs::job::JobSettings;
use jobs::parse::Limits;
use operators::rolling::WindowSpec;
use operators::Millis;
use toml::{Table, Value};

use crate::redact::Secrets;

/// The default configuration, compiled in so that the binary runs without any file.
pub const DEFAULT_CONFIG: &str = include_str!("../config/live-shopper.toml");

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "LIVE_SHOPPER__";

/// A configuration mistake, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A mistake may quote the text it was given: a URL with its password, a TOML line.
        write!(f, "configuration: {}", crate::redact::redact(&self.0))
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(message: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(message.into()))
}

/// Where features go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SinkKind {
    /// Redis, at `redis.url`.
    Redis,
    /// One JSON line per change to a file or stdout.
    File,
    /// Nowhere (benchmarks of the computation alone).
    Discard,
}

/// Where events come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceKind {
    /// A Kafka topic.
    Kafka,
    /// A file, one record per line.
    File,
}

/// Event-time settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeSettings {
    /// Allowed lateness in milliseconds.
    pub lateness: Millis,
    /// Idle timeout of a partition; `None` keeps idle partitions holding the watermark back.
    pub idle_timeout: Option<Duration>,
    /// Whether the watermark follows the wall clock when every partition is idle.
    pub follow_wall_clock: bool,
    /// How far ahead of the wall clock an event may be dated; `None` accepts any date.
    pub max_future: Option<Millis>,
}

/// Output settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputSettings {
    /// Where features go.
    pub sink: SinkKind,
    /// For the file sink: a path or `-`.
    pub file: String,
    /// Where bad rows of file sources go.
    pub bad_rows_file: String,
}

/// Source settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceSettings {
    /// Kafka or file.
    pub kind: SourceKind,
    /// For file sources: the path.
    pub path: String,
    /// Stop at the end of the input.
    pub bounded: bool,
    /// Records per worker between watermark advances.
    pub batch_size: usize,
    /// Decompression caps of compressed batches (the future-time rule is added per poll).
    pub limits: Limits,
}

/// Kafka settings.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// Topic of enriched events.
    pub topic: String,
    /// Topic of bad rows.
    pub bad_rows_topic: String,
    /// Consumer group whose committed offsets are the start position.
    pub group_id: String,
    /// `earliest` or `latest`, when the group has no committed offset.
    pub start: String,
    /// librdkafka properties, passed through.
    pub properties: BTreeMap<String, String>,
    /// Longest wait for a Kafka connection or for the answer to a request.
    pub timeout: Duration,
    /// Largest bad-rows document (Kafka message or file line), in bytes.
    pub bad_rows_max_bytes: usize,
}

/// Redis settings.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://`, `rediss://`, `unix://` or `redis+unix://` URL.
    pub url: String,
    /// Longest delay between two write attempts.
    pub max_backoff: Duration,
    /// Longest wait for a connection: TCP connect, TLS handshake and login.
    pub connect_timeout: Duration,
    /// Longest wait for Redis to answer or to take more of a write.
    pub reply_timeout: Duration,
}

// Settings are printed with their secrets hidden, should anyone debug-print them.
impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &crate::redact::redact(&self.url))
            .field("max_backoff", &self.max_backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("reply_timeout", &self.reply_timeout)
            .finish()
    }
}

impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(name, value)| match crate::redact::is_secret_name(name) {
                true => (name.as_str(), crate::redact::MASK),
                false => (name.as_str(), value.as_str()),
            })
            .collect();
        f.debug_struct("KafkaSettings")
            .field("topic", &self.topic)
            .field("bad_rows_topic", &self.bad_rows_topic)
            .field("group_id", &self.group_id)
            .field("start", &self.start)
            .field("properties", &properties)
            .finish()
    }
}

/// The whole, validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// What the job computes.
    pub job: JobSettings,
    /// Event time.
    pub time: TimeSettings,
    /// Output.
    pub output: OutputSettings,
    /// Source.
    pub source: SourceSettings,
    /// Kafka.
    pub kafka: KafkaSettings,
    /// Redis.
    pub redis: RedisSettings,
    /// Checkpoints.
    pub checkpoint: CheckpointSettings,
}

/// Checkpoints of the window state and the source positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointSettings {
    /// Wall-clock time between checkpoints; `None` switches checkpoints (and restoring) off.
    pub interval: Option<Duration>,
    /// Where checkpoints are kept (a shared file system when processes run on several machines).
    pub dir: std::path::PathBuf,
    /// Complete checkpoints kept.
    pub keep: usize,
    /// Whether file runs are checkpointed too (a file run otherwise starts over each time).
    pub files: bool,
}

impl Config {
    /// The secret values of this configuration, to hide from messages that may quote them.
    pub fn secrets(&self) -> Secrets {
        Secrets::of(&self.redis.url, &self.kafka.properties)
    }
}

impl CheckpointSettings {
    /// Whether a run reading `kind` takes and restores checkpoints.
    pub fn on_for(&self, kind: SourceKind) -> bool {
        self.interval.is_some() && (kind == SourceKind::Kafka || self.files)
    }
}

const DAY: Millis = 86_400_000;

/// No configured duration is longer, so that adding one to an event time or an instant cannot
/// overflow; most settings have a tighter bound.
const MAX_DURATION: Millis = 366 * DAY;

/// `ms` written with the largest unit that divides it: `7d`, `10m`, `1500ms`.
fn written(ms: Millis) -> String {
    let units = [(DAY, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    match units
        .iter()
        .find(|(scale, _)| ms > 0 && ms.checked_rem(*scale) == Some(0))
    {
        Some((scale, unit)) => format!("{}{unit}", ms / scale),
        None => format!("{ms}ms"),
    }
}

pub use operators::time::parse_duration;

/// Loads the configuration: defaults, then `file`, then `env` overrides, then `sets`
/// (`key=value`).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    sets: &[String],
) -> Result<Config, ConfigError> {
    let mut table: Table = DEFAULT_CONFIG
        .parse()
        .map_err(|e| ConfigError(format!("built-in defaults: {e}")))?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let overlay: Table = text
            .parse()
            .map_err(|e| ConfigError(format!("{} is not valid TOML: {e}", path.display())))?;
        merge(&mut table, overlay, "")?;
    }
    for (name, value) in env {
        if let Some(key) = name.strip_prefix(ENV_PREFIX) {
            let key = key.to_ascii_lowercase().replace("__", ".");
            set(&mut table, &key, &value).map_err(|ConfigError(e)| {
                ConfigError(format!("{e} (from environment variable {name})"))
            })?;
        }
    }
    for assignment in sets {
        let Some((key, value)) = assignment.split_once('=') else {
            // Only the key is shown: what follows it may be a secret.
            let key = assignment.split_whitespace().next().unwrap_or_default();
            return err(format!(
                "`--set {key}`: expected key=value, e.g. --set redis.url=redis://127.0.0.1:6380"
            ));
        };
        set(&mut table, key.trim(), value.trim())?;
    }
    validate(&table)
}

fn merge(base: &mut Table, overlay: Table, prefix: &str) -> Result<(), ConfigError> {
    for (key, value) in overlay {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base)), Value::Table(overlay)) => merge(base, overlay, &path)?,
            (Some(slot), value) => *slot = value,
            (None, value) if prefix == "kafka.properties" || is_optional(&path) => {
                base.insert(key, value);
            }
            (None, _) => return err(format!("unknown setting `{path}`")),
        }
    }
    Ok(())
}

/// Settings that have no default in `config/live-shopper.toml` but may be given.
fn is_optional(key: &str) -> bool {
    matches!(
        key.split('.').collect::<Vec<_>>().as_slice(),
        [
            "lanes",
            "product" | "category" | "cart" | "purchase" | "session",
            "emit_interval"
        ]
    )
}

/// Sets one dotted key from text, converting it to the type of the default.
fn set(table: &mut Table, key: &str, text: &str) -> Result<(), ConfigError> {
    // librdkafka property names contain dots themselves.
    if let Some(property) = key.strip_prefix("kafka.properties.") {
        if let Some(Value::Table(props)) = table
            .get_mut("kafka")
            .and_then(|k| k.as_table_mut())
            .and_then(|k| k.get_mut("properties"))
        {
            props.insert(property.to_string(), Value::String(text.to_string()));
            return Ok(());
        }
    }
    let mut parts = key.split('.').peekable();
    let mut current = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            if is_optional(key) && !current.contains_key(part) {
                current.insert(part.to_string(), Value::String(String::new()));
            }
            let Some(slot) = current.get_mut(part) else {
                return err(format!("unknown setting `{key}`"));
            };
            *slot = match slot {
                Value::Boolean(_) => match text {
                    "true" => Value::Boolean(true),
                    "false" => Value::Boolean(false),
                    _ => return err(format!("`{key}` must be true or false, not `{text}`")),
                },
                Value::Integer(_) => match text.parse() {
                    Ok(n) => Value::Integer(n),
                    Err(_) => return err(format!("`{key}` must be a whole number, not `{text}`")),
                },
                Value::Array(_) => Value::Array(
                    text.split(',')
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                ),
                _ => Value::String(text.to_string()),
            };
            return Ok(());
        }
        current = match current.get_mut(part) {
            Some(Value::Table(inner)) => inner,
            _ => return err(format!("unknown setting `{key}`")),
        };
    }
    err("empty setting name")
}

/// Typed reads of a table, each error naming the full key.
struct Section<'a> {
    table: &'a Table,
    path: String,
}

impl<'a> Section<'a> {
    fn sub(&self, name: &str) -> Result<Section<'a>, ConfigError> {
        let path = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        };
        match self.table.get(name) {
            Some(Value::Table(table)) => Ok(Section { table, path }),
            _ => err(format!("`{path}` must be a section")),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    fn str(&self, name: &str) -> Result<&'a str, ConfigError> {
        match self.table.get(name) {
            Some(Value::String(s)) => Ok(s),
            _ => err(format!("`{}` must be a string", self.key(name))),
        }
    }

    fn bool(&self, name: &str) -> Result<bool, ConfigError> {
        match self.table.get(name) {
            Some(Value::Boolean(b)) => Ok(*b),
            _ => err(format!("`{}` must be true or false", self.key(name))),
        }
    }

    /// A whole number from `min` to `max`.
    fn int_in(&self, name: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
        match self.table.get(name) {
            Some(Value::Integer(n)) if (min..=max).contains(n) => Ok(*n),
            _ => err(format!(
                "`{}` must be a whole number from {min} to {max}",
                self.key(name)
            )),
        }
    }

    /// A duration of at most `max` milliseconds.
    fn duration_at_most(
        &self,
        name: &str,
        allow_zero: bool,
        max: Millis,
    ) -> Result<Millis, ConfigError> {
        let Some(Value::String(text)) = self.table.get(name) else {
            return err(format!(
                "`{}` must be a duration in quotes, like \"5s\"",
                self.key(name)
            ));
        };
        match parse_duration(text) {
            Some(ms) if ms > max => err(format!(
                "`{}` = `{text}` is too long: at most {}",
                self.key(name),
                written(max)
            )),
            Some(ms) if ms > 0 || allow_zero => Ok(ms),
            _ => err(format!(
                "`{}` = `{text}` is not a duration{}: write it like 500ms, 5s, 30m, 1h or 1d",
                self.key(name),
                if allow_zero { "" } else { " above zero" }
            )),
        }
    }

    /// A Kafka topic name: what brokers accept, 1 to 249 of `a-z A-Z 0-9 . _ -`, not `.` or `..`.
    fn topic(&self, name: &str) -> Result<&'a str, ConfigError> {
        let topic = self.str(name)?;
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if (1..=249).contains(&topic.len())
            && topic.chars().all(legal)
            && topic != "."
            && topic != ".."
        {
            Ok(topic)
        } else {
            err(format!(
                "`{}` = `{topic}` is not a Kafka topic name: use 1 to 249 letters, digits, \
                 '.', '_' or '-' (but not \".\" or \"..\")",
                self.key(name)
            ))
        }
    }

    fn choice(&self, name: &str, allowed: &[&str]) -> Result<&'a str, ConfigError> {
        let value = self.str(name)?;
        if allowed.contains(&value) {
            Ok(value)
        } else {
            err(format!(
                "`{}` = `{value}` is not allowed; use one of: {}",
                self.key(name),
                allowed.join(", ")
            ))
        }
    }
}

/// Largest `source.batch_size`: records per worker held between two watermark advances.
const MAX_BATCH: i64 = 1_000_000;

/// `redis.url`, checked the way the Redis client will read it. Messages never show its password
/// (see `ConfigError`'s `Display`).
fn redis_url(redis: &Section<'_>) -> Result<String, ConfigError> {
    let url = redis.str("url")?;
    let schemes = ["redis://", "rediss://", "unix://", "redis+unix://"];
    if !schemes.iter().any(|scheme| url.starts_with(scheme)) {
        return err(format!(
            "`redis.url` = `{url}` must start with {}",
            schemes.join(", ")
        ));
    }
    match redis::Client::open(url) {
        Ok(_) => Ok(url.to_string()),
        Err(e) => err(format!(
            "`redis.url` = `{url}` is not a valid Redis URL ({e}); write it like \
             redis://user:password@host:6379/0, rediss://host:6380 or unix:///run/redis.sock"
        )),
    }
}

fn rolling_lane(
    lanes: &Section<'_>,
    name: &str,
    default_interval: Millis,
) -> Result<Option<LaneSettings>, ConfigError> {
    let lane = lanes.sub(name)?;
    if !lane.bool("enabled")? {
        return Ok(None);
    }
    let interval = match lane.table.get("emit_interval") {
        Some(_) => lane.duration_at_most("emit_interval", false, DAY)?,
        None => default_interval,
    };
    let Some(Value::Array(items)) = lane.table.get("windows") else {
        return err(format!(
            "`{}` must be a list of durations, e.g. [\"5m\", \"1h\"]",
            lane.key("windows")
        ));
    };
    let mut windows = Vec::new();
    for item in items {
        let text = item.as_str().unwrap_or_default();
        match parse_duration(text) {
            Some(length) if length > MAX_DURATION => {
                return err(format!(
                    "`{}`: window `{text}` is too long: at most {}",
                    lane.key("windows"),
                    written(MAX_DURATION)
                ))
            }
            Some(length) if length > 0 && length % interval == 0 => windows.push(WindowSpec {
                name: text.to_string(),
                length,
            }),
            Some(length) if length > 0 => {
                return err(format!(
                    "`{}`: window `{text}` must be a multiple of the lane's emit interval ({interval} ms)",
                    lane.key("windows")
                ))
            }
            _ => {
                return err(format!(
                    "`{}`: `{}` is not a window length; write it like 5m, 1h or 24h",
                    lane.key("windows"),
                    item
                ))
            }
        }
    }
    if windows.is_empty() {
        return err(format!(
            "`{}` is empty: give at least one window or set enabled = false",
            lane.key("windows")
        ));
    }
    let mut names: Vec<&str> = windows.iter().map(|w| w.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    if names.len() != windows.len() {
        return err(format!("`{}` lists a window twice", lane.key("windows")));
    }
    Ok(Some(LaneSettings { windows, interval }))
}

/// `kafka.timeout`: librdkafka needs `socket.timeout.ms` 1 s above `fetch.wait.max.ms`.
fn kafka_timeout(kafka: &Section<'_>) -> Result<Duration, ConfigError> {
    let timeout = kafka.duration_at_most("timeout", false, 3_600_000)?;
    if !(2_000..=3_600_000).contains(&timeout) {
        return err(format!(
            "`kafka.timeout` = `{}` must be between 2s and 1h",
            kafka.str("timeout")?
        ));
    }
    Ok(Duration::from_millis(timeout))
}

/// `kafka.bad_rows_max_bytes`: room for the document without its original, and below the
/// producer's `message.max.bytes` with room for the message's framing.
fn bad_rows_max_bytes(
    kafka: &Section<'_>,
    properties: &BTreeMap<String, String>,
) -> Result<usize, ConfigError> {
    const FRAMING: i64 = 2048;
    let message_max = match properties.get("message.max.bytes") {
        None => 1_000_000,
        Some(text) => text.trim().parse::<i64>().map_err(|_| {
            ConfigError(format!(
                "`kafka.properties.message.max.bytes` = `{text}` must be a whole number of bytes"
            ))
        })?,
    };
    let min = crate::sink::bad_rows::MIN_MAX_BYTES as i64;
    let max = message_max - FRAMING;
    match kafka.table.get("bad_rows_max_bytes") {
        Some(Value::Integer(n)) if (min..=max).contains(n) => Ok(*n as usize),
        _ => err(format!(
            "`kafka.bad_rows_max_bytes` must be a whole number from {min} to {max} \
             (kafka.properties.message.max.bytes = {message_max}, less {FRAMING} bytes for the \
             message's framing); the default is 900000"
        )),
    }
}

fn validate(table: &Table) -> Result<Config, ConfigError> {
    let root = Section {
        table,
        path: String::new(),
    };
    for key in table.keys() {
        if ![
            "time",
            "lanes",
            "output",
            "source",
            "kafka",
            "redis",
            "checkpoint",
            "features",
        ]
        .contains(&key.as_str())
        {
            return err(format!("unknown section `{key}`"));
        }
    }
    let time = root.sub("time")?;
    let emit_interval = time.duration_at_most("emit_interval", false, DAY)?;
    let idle_timeout = match time.str("idle_timeout")? {
        "off" => None,
        _ => Some(Duration::from_millis(time.duration_at_most(
            "idle_timeout",
            false,
            7 * DAY,
        )?)),
    };
    let time_settings = TimeSettings {
        lateness: time.duration_at_most("lateness", true, 7 * DAY)?,
        idle_timeout,
        follow_wall_clock: time.bool("follow_wall_clock")?,
        max_future: match time.table.get("max_future") {
            Some(Value::String(text)) if text == "off" => None,
            Some(Value::String(text)) => match parse_duration(text) {
                Some(ms) if ms > 0 => Some(ms),
                _ => {
                    return err(format!(
                        "`time.max_future` = `{text}`: write a duration above zero such as 15m, \
                         or \"off\" to accept events dated any time ahead"
                    ))
                }
            },
            _ => {
                return err(
                    "`time.max_future` must be a duration in quotes such as \"15m\", \
                     or \"off\" to accept events dated any time ahead",
                )
            }
        },
    };

    let lanes = root.sub("lanes")?;
    let session = lanes.sub("session")?;
    let session_settings = if session.bool("enabled")? {
        let interval = match session.table.get("emit_interval") {
            Some(_) => session.duration_at_most("emit_interval", false, DAY)?,
            None => emit_interval,
        };
        Some(SessionSettings {
            gap: session.duration_at_most("gap", false, 7 * DAY)?,
            interval,
            retention: session.duration_at_most("retention", false, 30 * DAY)?,
        })
    } else {
        None
    };
    let purchase = lanes.sub("purchase")?;
    let checkout_step = purchase.int_in("checkout_step", 0, u32::MAX.into())?;
    let output = root.sub("output")?;
    let configured = ConfiguredLanes {
        product: rolling_lane(&lanes, "product", emit_interval)?,
        category: rolling_lane(&lanes, "category", emit_interval)?,
        cart: rolling_lane(&lanes, "cart", emit_interval)?,
        purchase: rolling_lane(&lanes, "purchase", emit_interval)?,
        checkout_step: u32::try_from(checkout_step).ok().filter(|&step| step > 0),
        session: session_settings,
        interval: emit_interval,
        retention: session.duration_at_most("retention", false, 30 * DAY)?,
    };
    let features = root.sub("features")?;
    let feature_settings = crate::catalogue::FeatureSettings {
        file: features.str("file")?.to_string(),
    };
    let catalogue = crate::catalogue::load(&feature_settings).map_err(ConfigError)?;
    let job = JobSettings::new(
        output.duration_at_most("expiry_grace", true, 30 * DAY)?,
        crate::catalogue::plan(&catalogue, &configured).map_err(ConfigError)?,
    );

    let output_settings = OutputSettings {
        sink: match output.choice("sink", &["redis", "file", "discard"])? {
            "redis" => SinkKind::Redis,
            "file" => SinkKind::File,
            _ => SinkKind::Discard,
        },
        file: output.str("file")?.to_string(),
        bad_rows_file: output.str("bad_rows_file")?.to_string(),
    };
    if output_settings.sink == SinkKind::File && output_settings.file.is_empty() {
        return err("`output.file` is empty: give a path, or \"-\" for stdout");
    }

    let source = root.sub("source")?;
    let source_settings = SourceSettings {
        kind: match source.choice("kind", &["kafka", "file"])? {
            "kafka" => SourceKind::Kafka,
            _ => SourceKind::File,
        },
        path: source.str("path")?.to_string(),
        bounded: source.bool("bounded")?,
        batch_size: usize::try_from(source.int_in("batch_size", 1, MAX_BATCH)?).unwrap_or(1),
        limits: Limits {
            max_decompressed: (source.int_in("max_decompressed_mib", 1, 4096)? as u64) << 20,
            max_compression_ratio: source.int_in("max_compression_ratio", 10, 1_000_000)? as u64,
            ..Limits::default()
        },
    };
    if source_settings.kind == SourceKind::File && source_settings.path.is_empty() {
        return err("`source.path` is empty: give the file to read (or use --input FILE)");
    }
    if source_settings.kind == SourceKind::File && output_settings.bad_rows_file.is_empty() {
        return err(
            "`output.bad_rows_file` is empty: give the file that bad rows of the input go to",
        );
    }

    let kafka = root.sub("kafka")?;
    let properties = kafka.sub("properties")?;
    let mut props = BTreeMap::new();
    for (key, value) in properties.table {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Integer(n) => n.to_string(),
            Value::Boolean(b) => b.to_string(),
            _ => {
                return err(format!(
                    "`kafka.properties.{key}` must be a string, number or boolean"
                ))
            }
        };
        props.insert(key.clone(), text);
    }
    let kafka_settings = KafkaSettings {
        topic: kafka.topic("topic")?.to_string(),
        bad_rows_topic: kafka.topic("bad_rows_topic")?.to_string(),
        group_id: kafka.str("group_id")?.to_string(),
        start: kafka.choice("start", &["earliest", "latest"])?.to_string(),
        timeout: kafka_timeout(&kafka)?,
        bad_rows_max_bytes: bad_rows_max_bytes(&kafka, &props)?,
        properties: props,
    };

    let redis = root.sub("redis")?;
    let timeout = |name, max| {
        redis
            .duration_at_most(name, false, max)
            .map(Duration::from_millis)
    };
    let redis_settings = RedisSettings {
        url: redis_url(&redis)?,
        max_backoff: timeout("max_backoff", 600_000)?,
        connect_timeout: timeout("connect_timeout", 600_000)?,
        reply_timeout: timeout("reply_timeout", 3_600_000)?,
    };

    let checkpoint = root.sub("checkpoint")?;
    let interval = match checkpoint.str("interval")? {
        "0" | "off" => 0,
        _ => checkpoint.duration_at_most("interval", true, DAY)?,
    };
    let dir = checkpoint.str("dir")?;
    if dir.is_empty() {
        return err("`checkpoint.dir` must name a directory (it is created if missing)");
    }
    let checkpoint_settings = CheckpointSettings {
        interval: (interval > 0).then(|| Duration::from_millis(interval)),
        dir: dir.into(),
        keep: checkpoint.int_in("keep", 1, 1000)? as usize,
        files: checkpoint.bool("files")?,
    };

    Ok(Config {
        job,
        time: time_settings,
        output: output_settings,
        source: source_settings,
        kafka: kafka_settings,
        redis: redis_settings,
        checkpoint: checkpoint_settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_with(sets: &[&str]) -> Result<Config, ConfigError> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        load(None, Vec::new(), &sets)
    }

    #[test]
    fn defaults_match_the_spec() {
        let config = load_with(&[]).expect("defaults load");
        let names = |lane: &str| -> Vec<String> {
            config
                .job
                .lane(lane)
                .map(|l| l.windows.iter().map(|w| w.name.clone()).collect())
                .unwrap_or_default()
        };
        assert_eq!(names("product"), ["5m", "1h"]);
        assert_eq!(names("category"), ["5m", "1h", "24h"]);
        assert_eq!(names("cart"), ["5m", "1h"]);
        assert_eq!(names("purchase"), ["24h"]);
        let session = config.job.lane("session").expect("session lane on");
        assert_eq!(
            (session.gap, session.retention, session.interval),
            (1_800_000, 600_000, 1_000)
        );
        assert_eq!(config.time.lateness, 5_000);
        assert_eq!(config.time.idle_timeout, Some(Duration::from_secs(3)));
        assert_eq!(config.time.max_future, Some(15 * 60_000));
        assert_eq!(config.source.limits, Limits::default());
        assert_eq!(
            load_with(&["time.max_future=off"])
                .expect("off")
                .time
                .max_future,
            None
        );
        assert_eq!(config.job.expiry_grace, 600_000);
        assert_eq!(config.kafka.topic, "snowplow-enriched-good");
        assert_eq!(config.kafka.bad_rows_topic, "snowplow-live-shopper-bad");
        assert_eq!(config.kafka.timeout, Duration::from_secs(10));
        assert_eq!(config.kafka.bad_rows_max_bytes, 900_000);
        let bigger = load_with(&[
            "kafka.properties.message.max.bytes=4000000",
            "kafka.bad_rows_max_bytes=3000000",
        ])
        .expect("a larger cap under a larger message.max.bytes");
        assert_eq!(bigger.kafka.bad_rows_max_bytes, 3_000_000);
    }

    #[test]
    fn overrides_from_command_line_and_environment() {
        let env = vec![(
            "LIVE_SHOPPER__REDIS__URL".to_string(),
            "redis://10.0.0.1:1".to_string(),
        )];
        let sets = vec![
            "lanes.product.windows=10m".to_string(),
            "kafka.properties.security.protocol=SSL".to_string(),
        ];
        let config = load(None, env, &sets).expect("loads");
        assert_eq!(config.redis.url, "redis://10.0.0.1:1");
        assert_eq!(
            config.job.lane("product").expect("on").windows[0].length,
            600_000
        );
        assert_eq!(
            config
                .kafka
                .properties
                .get("security.protocol")
                .map(String::as_str),
            Some("SSL")
        );
    }

    #[test]
    fn a_zero_max_future_in_a_file_says_how_to_switch_it_off() {
        let dir = std::env::temp_dir().join(format!("live-shopper-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("zero.toml");
        std::fs::write(&path, "[time]\nmax_future = 0\n").expect("write");
        let message = load(Some(&path), Vec::new(), &[])
            .expect_err("zero")
            .to_string();
        assert!(
            message.contains("time.max_future") && message.contains("\"off\""),
            "{message}"
        );
    }

    #[test]
    fn mistakes_name_the_key() {
        let cases = [
            ("time.lateness=5 seconds", "time.lateness"),
            ("lanes.cart.windows=5x", "lanes.cart.windows"),
            ("lanes.cart.windows=", "lanes.cart.windows"),
            ("output.sink=kafka", "output.sink"),
            ("redis.url=http://x", "redis.url"),
            ("nope.key=1", "nope.key"),
            ("lanes.cart.enabled=yes", "lanes.cart.enabled"),
            ("source.batch_size=0", "source.batch_size"),
            ("time.max_future=0s", "time.max_future"),
            ("time.max_future=0", "time.max_future"),
            ("time.max_future=soon", "time.max_future"),
            (
                "source.max_decompressed_mib=0",
                "source.max_decompressed_mib",
            ),
            (
                "source.max_decompressed_mib=5000",
                "source.max_decompressed_mib",
            ),
            (
                "source.max_compression_ratio=9",
                "source.max_compression_ratio",
            ),
            ("kafka.timeout=1s", "kafka.timeout"),
            ("kafka.timeout=soon", "kafka.timeout"),
            ("kafka.bad_rows_max_bytes=100", "kafka.bad_rows_max_bytes"),
            (
                "kafka.bad_rows_max_bytes=999000",
                "kafka.bad_rows_max_bytes",
            ),
            (
                "kafka.properties.message.max.bytes=lots",
                "message.max.bytes",
            ),
        ];
        for (set, key) in cases {
            let message = load_with(&[set]).expect_err(set).to_string();
            assert!(message.contains(key), "{set}: {message}");
        }
        assert!(load_with(&["source.kind=file"])
            .expect_err("no path")
            .to_string()
            .contains("source.path"));
    }

    #[test]
    fn values_out_of_range_are_refused_not_truncated() {
        let cases = [
            (
                "lanes.purchase.checkout_step=4294967297",
                "lanes.purchase.checkout_step",
            ),
            (
                "lanes.purchase.checkout_step=-1",
                "lanes.purchase.checkout_step",
            ),
            ("time.lateness=18446744073709551615ms", "time.lateness"),
            ("time.lateness=8d", "time.lateness"),
            ("time.idle_timeout=30d", "time.idle_timeout"),
            ("time.emit_interval=2d", "time.emit_interval"),
            ("lanes.cart.windows=400d", "lanes.cart.windows"),
            ("lanes.session.gap=365d", "lanes.session.gap"),
            ("output.expiry_grace=100d", "output.expiry_grace"),
            ("source.batch_size=2000000", "source.batch_size"),
            ("redis.max_backoff=1h", "redis.max_backoff"),
            ("redis.connect_timeout=0s", "redis.connect_timeout"),
            ("redis.reply_timeout=2h", "redis.reply_timeout"),
        ];
        for (set, key) in cases {
            let message = load_with(&[set]).expect_err(set).to_string();
            assert!(message.contains(key), "{set}: {message}");
        }
        let config = load_with(&["lanes.purchase.checkout_step=4294967295"]).expect("u32::MAX");
        let purchase = &config.job.lane("purchase").expect("on").lane;
        assert!(purchase
            .events
            .contains(&jobs::event::EventKind::CheckoutStep));
        let config = load_with(&["time.lateness=7d"]).expect("a week");
        assert_eq!(config.time.lateness, 7 * DAY);
    }

    #[test]
    fn topics_must_be_legal_kafka_names() {
        let long = "t".repeat(250);
        for key in ["kafka.topic", "kafka.bad_rows_topic"] {
            for bad in [
                "",
                ".",
                "..",
                "bad topic",
                "bad/topic",
                "émoji",
                long.as_str(),
            ] {
                let set = format!("{key}={bad}");
                let message = load_with(&[&set]).expect_err(&set).to_string();
                assert!(
                    message.contains(key) && message.contains("249"),
                    "{set}: {message}"
                );
            }
            let set = format!("{key}=Shop.bad_rows-2026_01");
            load_with(&[&set]).expect(&set);
        }
        load_with(&[&format!("kafka.topic={}", &long[..249])]).expect("249 characters");
    }

    #[test]
    fn empty_output_files_are_refused() {
        let message = load_with(&["output.sink=file", "output.file="])
            .expect_err("no file")
            .to_string();
        assert!(message.contains("output.file"), "{message}");
        let message = load_with(&["source.kind=file", "source.path=x", "output.bad_rows_file="])
            .expect_err("no bad rows file")
            .to_string();
        assert!(message.contains("output.bad_rows_file"), "{message}");
    }

    #[test]
    fn a_catalogue_that_changes_a_spec_lanes_windows_wins() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("features.toml");
        let catalogue = jobs::catalogue::DEFAULT_CATALOGUE.replacen(
            "windows = [\"5m\", \"1h\"]",
            "windows = [\"10m\"]",
            1,
        );
        std::fs::write(&file, catalogue).expect("write");
        let set = format!("features.file={}", file.display());
        let config = load_with(&[&set]).expect("loads");
        let product = config.job.lane("product").expect("on");
        assert_eq!(product.windows.len(), 1);
        assert_eq!(
            (product.windows[0].name.as_str(), product.windows[0].length),
            ("10m", 600_000)
        );
        let cart = config.job.lane("cart").expect("on");
        assert_eq!(
            cart.windows.len(),
            2,
            "the other lanes keep the configuration's"
        );
    }

    #[test]
    fn a_lane_takes_its_own_emit_interval() {
        let config = load_with(&["lanes.product.emit_interval=5s", "lanes.product.windows=5m"])
            .expect("loads");
        assert_eq!(config.job.lane("product").expect("on").interval, 5_000);
        let message = load_with(&["lanes.cart.emit_interval=7s"])
            .expect_err("5m is no multiple of 7s")
            .to_string();
        assert!(message.contains("lanes.cart.windows"), "{message}");
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("lanes.toml");
        std::fs::write(&file, "[lanes.session]\nemit_interval = \"10s\"\n").expect("write");
        let config = load(Some(&file), Vec::new(), &[]).expect("loads the file");
        assert_eq!(config.job.lane("session").expect("on").interval, 10_000);
    }

    #[test]
    fn environment_mistakes_name_the_variable_once() {
        for (name, key) in [
            ("LIVE_SHOPPER__SOURCE__BATCH_SIZE", "`source.batch_size`"),
            ("LIVE_SHOPPER__REDIS__NOPE", "`redis.nope`"),
        ] {
            let env = vec![(name.to_string(), "many".to_string())];
            let message = load(None, env, &[]).expect_err(name).to_string();
            assert!(
                !message.contains("configuration: configuration:"),
                "{message}"
            );
            assert!(message.starts_with("configuration: "), "{message}");
            assert!(message.contains(key) && message.contains(name), "{message}");
        }
    }

    #[test]
    fn redis_urls_are_checked_without_showing_their_password() {
        let cases = [
            "redis.url=http://user:hunter2@host",
            "redis.url=unix:/tmp/redis.sock?pass=hunter2",
            "redis.url=redis://:hunter2@host:notaport",
        ];
        for set in cases {
            let message = load_with(&[set]).expect_err(set).to_string();
            assert!(message.contains("redis.url"), "{set}: {message}");
            assert!(!message.contains("hunter2"), "{set}: {message}");
        }
        let config = load_with(&["redis.url=unix:///run/redis.sock?pass=hunter2&db=1"])
            .expect("a unix socket URL");
        let debug = format!("{config:?}");
        assert!(debug.contains("unix:///run/redis.sock"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        load_with(&["redis.url=redis+unix:///run/redis.sock"]).expect("redis+unix");
        load_with(&["redis.url=rediss://user:pw@host:6380/2"]).expect("rediss");
    }

    #[test]
    fn secret_properties_stay_out_of_messages() {
        let sets = [
            "kafka.properties.sasl.password=hunter2",
            "kafka.properties.ssl.key.password=hunter3",
        ];
        let config = load_with(&sets).expect("loads");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("hunter3"),
            "{debug}"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("broken.toml");
        std::fs::write(&file, "[kafka.properties]\n\"sasl.password\" = \"hunter2\n")
            .expect("write");
        let message = load(Some(&file), Vec::new(), &[])
            .expect_err("broken TOML")
            .to_string();
        assert!(message.contains("not valid TOML"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let message = load_with(&["kafka.properties.sasl.password hunter2"])
            .expect_err("no =")
            .to_string();
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn configured_secret_values_are_hidden_anywhere() {
        let sets = [
            "redis.url=redis://app:p%40ss-word@127.0.0.1:6390".to_string(),
            "kafka.properties.sasl.password=kafka-pw".to_string(),
            "kafka.properties.sasl.oauthbearer.client.secret=abc".to_string(),
        ];
        let config = load(None, Vec::new(), &sets).expect("loads");
        let secrets = config.secrets();
        let message = "KafkaError (Client config error: invalid sasl.password kafka-pw) \
                       AUTH app p@ss-word failed, encoded p%40ss-word; secret abc, not abcd";
        let hidden = secrets.redact(message);
        for secret in ["kafka-pw", "p@ss-word", "p%40ss-word", "secret abc,"] {
            assert!(!hidden.contains(secret), "{secret} in {hidden}");
        }
        assert!(hidden.contains("abcd"), "{hidden}");
    }
}
