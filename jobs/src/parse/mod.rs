//! Parsing of Kafka records into shopper events.

pub mod time;
