//! live-shopper: the binary's library half: configuration, sources, sinks, the generator and the
//! wiring of the dataflow.

pub mod generate;
