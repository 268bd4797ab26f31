//! Sinks of feature writes: Redis, a file of JSON lines, or nowhere. A sink's output stream
//! carries no data; its frontier tells when every write before a time has been done.

pub mod bad_rows;
pub mod file;
pub mod kafka_bad_rows;
pub mod redis;

use std::sync::Arc;

use operators::republish::Republish;
use operators::FeatureWrite;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::StreamVec;

use crate::config::{Config, SinkKind};
use crate::metrics::Metrics;

/// Attaches the configured sink to `writes`. Redis connections open here, per worker; the
/// Redis sink requests a `republish` when Redis has lost the data.
pub fn attach<'s>(
    writes: StreamVec<'s, u64, FeatureWrite>,
    config: &Config,
    metrics: Arc<Metrics>,
    republish: &Republish,
) -> Result<StreamVec<'s, u64, ()>, String> {
    Ok(match config.output.sink {
        SinkKind::Redis => {
            let writer =
                redis::RedisWriter::new(&config.redis, metrics.clone(), republish.clone())?;
            redis::sink(writes, writer)
        }
        SinkKind::File => file::sink(writes, &config.output.file, metrics)?,
        SinkKind::Discard => writes.unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Pipeline,
            "DiscardSink",
            move |_, _| {
                move |input, _output| {
                    input.for_each(|_, data| {
                        Metrics::add(&metrics.writes, data.len() as u64);
                        data.clear();
                    });
                }
            },
        ),
    })
}
