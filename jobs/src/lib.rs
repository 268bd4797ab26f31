//! The live-shopper job: the Snowplow event model and its parsing, the feature catalogue and its lanes.

pub mod catalogue;
pub mod event;
pub mod fields;
pub mod job;
pub mod lanes;
pub mod parse;
