//! File sink: one JSON line per change, `{"time":T,"key":K,"value":V}` (`null` deletes), all
//! written by worker 0 in (time, key) order so that runs with any number of workers can be
//! diffed.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::Arc;

use operators::FeatureWrite;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::StreamVec;

use crate::metrics::Metrics;

/// One line of the file sink.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ChangeLine {
    /// Emission time (event-time milliseconds).
    pub time: u64,
    /// Store key.
    pub key: String,
    /// New value, or `None` for a delete.
    pub value: Option<String>,
}

/// Writes `writes` to `path` (`-` for stdout).
pub fn sink<'s>(
    writes: StreamVec<'s, u64, FeatureWrite>,
    path: &str,
    metrics: Arc<Metrics>,
) -> Result<StreamVec<'s, u64, ()>, String> {
    let is_first_worker = writes.scope().index() == 0;
    let mut out: Option<Box<dyn Write>> = if !is_first_worker {
        None
    } else if path == "-" {
        Some(Box::new(BufWriter::new(std::io::stdout())))
    } else {
        let file =
            File::create(path).map_err(|e| format!("cannot create output file {path}: {e}"))?;
        Some(Box::new(BufWriter::new(file)))
    };
    let mut pending: BTreeMap<u64, (Capability<u64>, Vec<FeatureWrite>)> = BTreeMap::new();
    Ok(
        writes.unary_frontier::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
            Exchange::new(|_: &FeatureWrite| 0),
            "FileSink",
            move |_, _| {
                move |(input, frontier), _output| {
                    input.for_each_stamp(|stamp, data| {
                        let Some(capability) = stamp.retain_least(0) else {
                            return;
                        };
                        let time = *capability.time();
                        let entry = pending
                            .entry(time)
                            .or_insert_with(|| (capability, Vec::new()));
                        for batch in data {
                            entry.1.append(batch);
                        }
                    });
                    while let Some((&time, _)) = pending.first_key_value() {
                        if frontier.less_equal(&time) {
                            break;
                        }
                        let Some((_, (_cap, mut batch))) = pending.pop_first() else {
                            break;
                        };
                        // Stable: two writes of one key at one time keep their order.
                        batch.sort_by(|a, b| a.key.cmp(&b.key));
                        Metrics::add(&metrics.writes, batch.len() as u64);
                        if let Some(out) = out.as_mut() {
                            for write in batch {
                                let line = ChangeLine {
                                    time,
                                    key: write.key,
                                    value: write.value,
                                };
                                let written = serde_json::to_writer(&mut *out, &line)
                                    .map_err(std::io::Error::other)
                                    .and_then(|_| out.write_all(b"\n"));
                                if let Err(e) = written {
                                    eprintln!("live-shopper: cannot write features: {e}");
                                    std::process::exit(1);
                                }
                            }
                            if let Err(e) = out.flush() {
                                eprintln!("live-shopper: cannot write features: {e}");
                                std::process::exit(1);
                            }
                        }
                    }
                }
            },
        ),
    )
}
