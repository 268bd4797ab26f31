//! The source positions of each of a worker's partitions, for checkpoints.

use operators::watermark::Watermarks;

use crate::checkpoint::{PartitionId, Resume, SavedPartition};
use crate::source::Source;

/// The source positions of each partition, for checkpoints: the next record to read and the
/// largest event time seen.
pub(super) struct Positions {
    ids: Vec<PartitionId>,
    next: Vec<Option<i64>>,
}

impl Positions {
    /// The partitions of `source`, at the positions `resume` saved, else where the source starts.
    pub(super) fn new(
        source: &dyn Source,
        index: usize,
        peers: usize,
        resume: &Resume,
    ) -> Positions {
        let ids: Vec<PartitionId> = (0..source.partitions())
            .map(|p| match source.partition_id(p) {
                Some(id) => PartitionId::Kafka(id),
                None => PartitionId::File { index, peers },
            })
            .collect();
        let next = ids
            .iter()
            .enumerate()
            .map(|(p, id)| {
                let saved = resume.partitions.get(id).and_then(|s| s.next);
                saved.or_else(|| source.start_position(p))
            })
            .collect();
        Positions { ids, next }
    }

    /// The checkpoint id of each local partition.
    pub(super) fn ids(&self) -> &[PartitionId] {
        &self.ids
    }

    /// `position` of `partition` has been read.
    pub(super) fn read(&mut self, partition: usize, position: i64) {
        let next = &mut self.next[partition];
        *next = Some(next.map_or(position + 1, |n| n.max(position + 1)));
    }

    /// What a checkpoint saves of each partition.
    pub(super) fn saved(&self, watermarks: &Watermarks) -> Vec<SavedPartition> {
        self.ids
            .iter()
            .zip(&self.next)
            .enumerate()
            .map(|(p, (&id, &next))| SavedPartition {
                id,
                next,
                largest: watermarks.largest(p),
            })
            .collect()
    }

    /// The local partition index of `id`, if this worker reads it.
    pub(super) fn local(&self, id: PartitionId) -> Option<usize> {
        self.ids.iter().position(|&i| i == id)
    }
}
