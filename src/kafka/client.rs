//! Kafka client settings: the librdkafka configuration made from `kafka.*`, the brokers for
//! messages, and the removal of secret property values from librdkafka's messages.

use rdkafka::config::ClientConfig;

use crate::config::KafkaSettings;

/// The brokers of the settings, for messages.
pub fn brokers(settings: &KafkaSettings) -> String {
    settings
        .properties
        .get("bootstrap.servers")
        .or_else(|| settings.properties.get("metadata.broker.list"))
        .cloned()
        .unwrap_or_else(|| "(none: set kafka.properties.bootstrap.servers)".to_string())
}

/// A librdkafka configuration holding every `kafka.properties` entry, with `kafka.timeout` as
/// the connection set-up and request timeouts unless the properties set them.
pub fn client_config(settings: &KafkaSettings) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (key, value) in &settings.properties {
        config.set(key, value);
    }
    let millis = settings.timeout.as_millis().to_string();
    for key in ["socket.connection.setup.timeout.ms", "socket.timeout.ms"] {
        if config.get(key).is_none() {
            config.set(key, &millis);
        }
    }
    config
}

/// Whether the value of librdkafka property `key` is a secret.
fn is_secret(key: &str) -> bool {
    [
        "password",
        "secret",
        "oauthbearer.config",
        "jaas.config",
        "key.pem",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `message` with the values of the secret `kafka.properties` (passwords, keys, OAuth
/// secrets) replaced by `***`, in case a librdkafka message quotes one.
pub fn redact(settings: &KafkaSettings, message: &str) -> String {
    let mut message = message.to_string();
    for (key, value) in &settings.properties {
        if is_secret(key) && !value.is_empty() {
            message = message.replace(value.as_str(), "***");
        }
    }
    message
}
