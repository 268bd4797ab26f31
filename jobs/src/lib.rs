//! The live-shopper job: the Snowplow event model and its parsing, the lanes, the features.

pub mod event;
pub mod parse;
