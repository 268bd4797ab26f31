//! Reusable timely dataflow operators for event-time feature computation. They know nothing of
//! Snowplow or shops: keyed records in, feature writes out.
//!
//! - [`time`]: event time, the emission grid and the total order of records.
//! - [`watermark`]: per-partition watermarks with lateness and idleness.
//! - [`checkpoint`]: control messages, and saving and restoring operator state.
//! - [`changes`]: the records that flow between operators and change-only emission.
//! - [`log`]: a key's records in order.
//! - [`rolling`]: incremental rolling windows per key.
//! - [`session`]: session windows per key.
//! - [`symbols`]: the string table that window state refers to.
//! - [`late`]: records too old for every window, counted.
//! - [`republish`]: writing every current value again after the store lost its contents.
//! - [`count`]: record counts that cannot wrap.

pub mod changes;
pub mod checkpoint;
pub mod count;
pub mod driver;
pub mod gauge;
pub mod late;
pub mod log;
pub mod republish;
pub mod rolling;
pub mod session;
pub mod symbols;
pub mod time;
pub mod watermark;

pub use changes::{FeatureWrite, Keyed};
pub use time::{Millis, Order};
