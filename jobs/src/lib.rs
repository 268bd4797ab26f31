//! The live-shopper job: the Snowplow event model and its parsing, the lanes, the features.

pub mod catalogue;
pub mod event;
pub mod features;
pub mod job;
pub mod lanes;
pub mod parse;
