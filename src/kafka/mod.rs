//! Kafka helpers shared by the Kafka source, the Kafka bad-rows sink and the generator: client
//! configuration from the settings and the removal of secrets from messages ([`client`]), topic
//! lookup and creation with a `block_on` for the admin client's futures ([`topics`]), and
//! rate-limited logging of librdkafka's own complaints ([`log`]).

pub mod client;
pub mod log;
pub mod topics;
