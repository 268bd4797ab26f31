//! Kafka source: every worker reads its own partitions of `kafka.topic`, assigned
//! deterministically from its global index (partition `p` belongs to worker `p % peers`), with
//! `assign()`: no consumer-group membership, no rebalancing ([`source`]).
//!
//! Start position per partition: the offset committed for `kafka.group_id` if there is one, else
//! the beginning or the end of the partition (`kafka.start`). Positions are committed for the
//! group once the effects of the records before them have reached the sink: asynchronously at
//! most about once a second, and synchronously when the source is dropped (the end of a bounded
//! run). A bounded run reads up to the end of every partition as it was when the run started.
//! A partition is caught up (and may become idle) only when it is read to the high watermark of
//! a recent fetch answer from a leader that still answers ([`health`]); a record too large to
//! receive is skipped and reported ([`oversize`]).
//!
//! The Kafka client helpers it shares with the bad-rows sink and the generator are in
//! [`crate::kafka`].

mod fetched;
pub mod health;
pub mod oversize;
pub mod pump;
pub mod source;
pub mod watch;

pub use source::KafkaSource;
