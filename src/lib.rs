//! live-shopper: the binary's library half: configuration, sources, sinks, the generator and the
//! wiring of the dataflow.

pub mod alloc;
pub mod bench;
pub mod catalogue;
pub mod checkpoint;
pub mod clock;
pub mod config;
pub mod connectors;
pub mod generate;
pub mod kafka;
pub mod metrics;
pub mod peer_loss;
pub mod redact;
pub mod run;
pub mod signals;
pub mod sink;
pub mod source;
