//! The synthetic shop generator: a deterministic (seeded) stream of realistic shopper activity,
//! encoded as Kafka records in any of the three input encodings of SPEC section 1.
//!
//! It feeds the correctness tests and the benchmarks, so it is built for two things: the same
//! options always give the same bytes, and it is fast enough to produce tens of millions of
//! events (one reused buffer, no per-field allocation, `O(users)` memory).
//!
//! Arrival order: events are simulated in event-time order, then each is delayed by a random
//! amount in `[0, disorder_ms]` through a priority queue keyed by `event time + delay`. A record
//! is released once no event still to be simulated can have an earlier release key, so when a
//! record with event time `t` is emitted, every later record has event time `>= t - disorder_ms`,
//! except for the share `late_rate` of events held back by `late_ms` on top (a mobile tracker
//! flushing its offline buffer): those arrive after records up to `late_ms + disorder_ms` newer.

mod catalog;
mod entities;
mod flink_json;
pub mod kafka;
mod malformed;
mod rng;
mod shop;
mod snowplow_json;
mod tsv;
mod write;

use std::collections::BinaryHeap;
use std::fmt;
use std::io::Write;
use std::str::FromStr;

use catalog::Catalog;
use malformed::Malformed;
use rng::Rng;
use shop::{Event, Sim};
use write::Clock;

/// Re-exported so that tests and tools can check session separation against the same gap.
pub use shop::SESSION_GAP_MS;

/// The encoding of the generated records (SPEC section 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Encoding {
    /// Snowplow enriched TSV, 131 fields: what Enrich writes to its enriched topic.
    #[default]
    Tsv,
    /// Snowbridge's `spEnrichedToJson` flat JSON.
    SnowplowJson,
    /// The flink-live-shopper JSON shape.
    FlinkJson,
}

impl Encoding {
    /// The names `FromStr` accepts, for help texts and error messages.
    pub const NAMES: [&'static str; 3] = ["tsv", "snowplow-json", "flink-json"];

    /// The name as `FromStr` accepts it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Tsv => "tsv",
            Encoding::SnowplowJson => "snowplow-json",
            Encoding::FlinkJson => "flink-json",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Encoding, String> {
        match s {
            "tsv" => Ok(Encoding::Tsv),
            "snowplow-json" => Ok(Encoding::SnowplowJson),
            "flink-json" => Ok(Encoding::FlinkJson),
            other => Err(format!(
                "unknown encoding {other:?}: expected one of {}",
                Encoding::NAMES.join(", ")
            )),
        }
    }
}

/// How far ahead the `future_rate` share of events is dated: ten years.
const FUTURE_SKEW_MS: u64 = 10 * 365 * 86_400_000;

/// What to generate. Every field matters for the output: the same options give the same bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Number of shoppers; each gets a skewed share of the events (some get none when
    /// `events < users`).
    pub users: u64,
    /// Exact number of records produced, malformed ones included.
    pub events: u64,
    /// Event times fall in `[start_ms, start_ms + span_ms)`.
    pub span_ms: u64,
    /// Event time of the earliest possible event, epoch milliseconds.
    pub start_ms: u64,
    /// Largest amount by which a record may arrive after a record with a later event time.
    pub disorder_ms: u64,
    /// Share (0 to 1) of events that arrive `late_ms` later still.
    pub late_rate: f64,
    /// How much later the late share arrives.
    pub late_ms: u64,
    /// Event times are rounded down to a multiple of this (1 = milliseconds as simulated), so
    /// that a coarse grain gives many events of one shopper the same timestamp.
    pub time_grain_ms: u64,
    /// Share (0 to 1) of events dated ten years ahead (a device with a wrong clock): the job
    /// must reject them as bad rows rather than let them move the watermark.
    pub future_rate: f64,
    /// Seed of every random choice.
    pub seed: u64,
    /// Share (0 to 1) of records replaced by a malformed record.
    pub malformed_rate: f64,
    /// Encoding of the records.
    pub encoding: Encoding,
    /// Catalogue size.
    pub products: u32,
    /// Number of product categories.
    pub categories: u32,
    /// Share (0 to 1) of page views that show a promotion banner (a `promo_view` event right
    /// after the page's own events); about a fifth of those are clicked a few seconds later (a
    /// `promo_click`, which leads to the promotion's category page).
    pub promotions: f64,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            users: 1000,
            events: 100_000,
            span_ms: 2 * 60 * 60 * 1000,
            // 2026-01-01T00:00:00Z
            start_ms: 1_767_225_600_000,
            disorder_ms: 2000,
            late_rate: 0.0,
            late_ms: 0,
            time_grain_ms: 1,
            future_rate: 0.0,
            seed: 42,
            malformed_rate: 0.0,
            encoding: Encoding::Tsv,
            products: 500,
            categories: 20,
            promotions: 0.0,
        }
    }
}

impl GenerateOptions {
    /// Checks the options; the message names the offending option.
    pub fn validate(&self) -> Result<(), String> {
        if self.users == 0 {
            return Err("users must be at least 1".into());
        }
        if self.users > u32::MAX as u64 {
            return Err(format!("users must be at most {}", u32::MAX));
        }
        if self.span_ms == 0 {
            return Err("span_ms must be at least 1".into());
        }
        if self.products == 0 {
            return Err("products must be at least 1".into());
        }
        if self.categories == 0 {
            return Err("categories must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.malformed_rate) {
            return Err(format!(
                "malformed_rate must be between 0 and 1, got {}",
                self.malformed_rate
            ));
        }
        // Leave room for the collector/ETL timestamps that follow the event time.
        let limit = 253_402_300_799_000 - 3_600_000; // 9999-12-31T23:59:59Z, less an hour
        match self.start_ms.checked_add(self.span_ms) {
            Some(end) if end <= limit => {}
            _ => return Err("start_ms + span_ms must be before the year 10000".into()),
        }
        if self.disorder_ms > limit {
            return Err("disorder_ms is too large".into());
        }
        if !(0.0..=1.0).contains(&self.late_rate) {
            return Err(format!(
                "late_rate must be between 0 and 1, got {}",
                self.late_rate
            ));
        }
        if self.late_ms > limit {
            return Err("late_ms is too large".into());
        }
        if !(0.0..=1.0).contains(&self.future_rate) {
            return Err(format!(
                "future_rate must be between 0 and 1, got {}",
                self.future_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.promotions) {
            return Err(format!(
                "promotions must be between 0 and 1, got {}",
                self.promotions
            ));
        }
        if self.time_grain_ms == 0 {
            return Err("time_grain_ms must be at least 1".into());
        }
        Ok(())
    }
}

/// One generated Kafka record: the message key (the user key, as the Kafka producer keys by
/// user; empty for a malformed record without one) and the encoded bytes, in arrival order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The user key of the event: `user_id`, else `domain_userid`.
    pub key: String,
    /// The encoded record, without a trailing newline.
    pub bytes: Vec<u8>,
    /// Event time of the underlying event (also for malformed records, so that tests can check
    /// the disorder bound on the whole stream).
    pub event_time_ms: u64,
}

/// Damage an encoder applies while writing (the other malformed kinds are post-edits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Damage {
    None,
    BadTimestamp(u8),
    NoUserKey,
}

/// Encodes one event in `encoding`.
pub(crate) fn encode(
    encoding: Encoding,
    buf: &mut Vec<u8>,
    clock: &mut Clock,
    catalog: &Catalog,
    ev: &Event,
    damage: Damage,
) {
    match encoding {
        Encoding::Tsv => tsv::encode(buf, clock, catalog, ev, damage),
        Encoding::SnowplowJson => snowplow_json::encode(buf, clock, catalog, ev, damage),
        Encoding::FlinkJson => flink_json::encode(buf, clock, catalog, ev, damage),
    }
}

/// An event waiting for its arrival (in slot `slot` of the slab); ordered so that `BinaryHeap`
/// pops the earliest release. Kept small because heap operations move it around: the events
/// themselves stay put in the slab.
struct Pending {
    release: u64,
    seq: u64,
    slot: u32,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.release, self.seq) == (other.release, other.seq)
    }
}

impl Eq for Pending {}

impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.release, other.seq).cmp(&(self.release, self.seq))
    }
}

/// The generator: an iterator over exactly `options.events` records in arrival order.
///
/// For speed use [`Shop::next_into`], which reuses the caller's buffers; the `Iterator` impl
/// allocates a `Record` per event.
pub struct Shop {
    options: GenerateOptions,
    catalog: Catalog,
    sim: Sim,
    clock: Clock,
    pending: BinaryHeap<Pending>,
    /// Storage of the pending events, with a free list of its slots.
    slab: Vec<Event>,
    free: Vec<u32>,
    lookahead: Option<Event>,
    seq: u64,
    delay_rng: Rng,
    late_rng: Rng,
    future_rng: Rng,
    malformed_rng: Rng,
    emitted: u64,
}

impl fmt::Debug for Shop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shop")
            .field("options", &self.options)
            .field("emitted", &self.emitted)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Shop {
    /// Validates the options and sets up the catalogue and the users.
    pub fn new(options: GenerateOptions) -> Result<Shop, String> {
        options.validate()?;
        let mut catalog_rng = Rng::new(options.seed, 0);
        let catalog = Catalog::new(options.products, options.categories, &mut catalog_rng);
        let sim = Sim::new(&options, &catalog);
        Ok(Shop {
            delay_rng: Rng::new(options.seed, 2),
            malformed_rng: Rng::new(options.seed, 3),
            late_rng: Rng::new(options.seed, 4),
            future_rng: Rng::new(options.seed, 5),
            options,
            catalog,
            sim,
            clock: Clock::new(),
            pending: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            lookahead: None,
            seq: 0,
            emitted: 0,
        })
    }

    /// The options this generator runs with.
    pub fn options(&self) -> &GenerateOptions {
        &self.options
    }

    /// Records still to come.
    pub fn remaining(&self) -> u64 {
        self.options.events - self.emitted
    }

    /// The slab slot of the next event in arrival order (free it after use).
    fn next_slot(&mut self) -> Option<u32> {
        loop {
            if self.lookahead.is_none() {
                self.lookahead = self.sim.next_event(&self.catalog);
            }
            let next_time = self.lookahead.as_ref().map(|e| e.time);
            match (self.pending.peek(), next_time) {
                (Some(p), Some(t)) if p.release <= t => break,
                (_, Some(_)) => {
                    if let Some(event) = self.lookahead.take() {
                        self.enqueue(event);
                    }
                }
                (Some(_), None) => break,
                (None, None) => return None,
            }
        }
        self.pending.pop().map(|p| p.slot)
    }

    fn enqueue(&mut self, mut event: Event) {
        let grain = self.options.time_grain_ms;
        event.time -= event.time % grain;
        let max = self.options.disorder_ms;
        // Most records arrive nearly in order; a fifth straggle by up to the full bound.
        let mut delay = if max == 0 {
            0
        } else if self.delay_rng.chance(0.8) {
            self.delay_rng.below(max / 10 + 1)
        } else {
            self.delay_rng.below(max + 1)
        };
        // Drawn only when asked for, so that shops without late events keep their bytes.
        if self.options.late_rate > 0.0 && self.late_rng.chance(self.options.late_rate) {
            delay += self.options.late_ms;
        }
        self.seq += 1;
        let release = event.time + delay;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = event;
                slot
            }
            None => {
                self.slab.push(event);
                (self.slab.len() - 1) as u32
            }
        };
        self.pending.push(Pending {
            release,
            seq: self.seq,
            slot,
        });
    }

    /// Writes the next record into `buf` and its Kafka key into `key` (both cleared first) and
    /// returns its event time; `None` after the last record. Allocation-free once the buffers
    /// have grown, which is what lets a producer push millions of events a minute.
    pub fn next_into(&mut self, key: &mut String, buf: &mut Vec<u8>) -> Option<u64> {
        if self.emitted >= self.options.events {
            return None;
        }
        let slot = self.next_slot()?;
        self.free.push(slot);
        let event = &self.slab[slot as usize];
        self.emitted += 1;
        key.clear();
        buf.clear();
        let rate = self.options.malformed_rate;
        if rate > 0.0 && self.malformed_rng.chance(rate) {
            let kind =
                Malformed::ALL[self.malformed_rng.below(Malformed::ALL.len() as u64) as usize];
            let has_key = malformed::write(
                kind,
                self.options.encoding,
                &mut self.clock,
                &self.catalog,
                event,
                &mut self.malformed_rng,
                buf,
            );
            if has_key {
                push_key(key, event);
            }
        } else if self.options.future_rate > 0.0 && self.future_rng.chance(self.options.future_rate)
        {
            let mut skewed = event.clone();
            skewed.time += FUTURE_SKEW_MS;
            encode(
                self.options.encoding,
                buf,
                &mut self.clock,
                &self.catalog,
                &skewed,
                Damage::None,
            );
            push_key(key, event);
        } else {
            encode(
                self.options.encoding,
                buf,
                &mut self.clock,
                &self.catalog,
                event,
                Damage::None,
            );
            push_key(key, event);
        }
        Some(event.time)
    }
}

/// The user key: `user_id` when logged in, else `domain_userid`.
fn push_key(key: &mut String, event: &Event) {
    use std::fmt::Write as _;
    if event.logged_in {
        let _ = write!(key, "user-{}", event.user_num);
    } else {
        let text = write::uuid_bytes(event.duid);
        key.push_str(std::str::from_utf8(&text).unwrap_or_default());
    }
}

impl Iterator for Shop {
    type Item = Record;

    fn next(&mut self) -> Option<Record> {
        let mut key = String::new();
        let mut bytes = Vec::with_capacity(2048);
        let event_time_ms = self.next_into(&mut key, &mut bytes)?;
        Some(Record {
            key,
            bytes,
            event_time_ms,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = usize::try_from(self.remaining()).unwrap_or(usize::MAX);
        (n, Some(n))
    }
}

/// Writes all records, one per line (newline-terminated), to `out`; returns the count written.
/// Records hold no raw newline (JSON escapes them, TSV has none), so lines and records agree.
pub fn write_records(options: GenerateOptions, out: &mut dyn Write) -> std::io::Result<u64> {
    let mut shop =
        Shop::new(options).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut key = String::new();
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = Vec::with_capacity(1 << 20);
    let mut count = 0u64;
    while shop.next_into(&mut key, &mut buf).is_some() {
        chunk.extend_from_slice(&buf);
        chunk.push(b'\n');
        count += 1;
        if chunk.len() >= (1 << 20) - 8192 {
            out.write_all(&chunk)?;
            chunk.clear();
        }
    }
    out.write_all(&chunk)?;
    out.flush()?;
    Ok(count)
}
