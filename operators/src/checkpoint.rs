//! Checkpoints as the window operators see them: the control messages that travel beside the
//! records, and the store their state is saved to and restored from.
//!
//! A checkpoint `at` time `T` holds each operator's state after every record stamped before `T`
//! has arrived and before any emission at or after `T` has run. The records stamped from `T` on
//! are replayed from the source positions saved with it, so restoring it and replaying gives the
//! same emissions as a run that never stopped.

use serde::{Deserialize, Serialize};

use crate::changes::route;
use crate::time::Millis;

/// A message on the control stream, which every window operator and every worker receives
/// (it is broadcast).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// A bounded input ended; its largest event time (each source sends one).
    End(Millis),
    /// Save the state as of timely time `at` (sent at time `at`, so no operator can have run an
    /// emission at or after it before the request arrives).
    Checkpoint {
        /// The checkpoint's number, increasing.
        id: u64,
        /// Records stamped before this time are in it, the rest are replayed.
        at: Millis,
    },
    /// Every part of checkpoint `id` is saved: the sources commit its positions.
    Committed {
        /// The checkpoint's number.
        id: u64,
        /// The last checkpoint of a job that is stopping: the workers stop once it is committed.
        last: bool,
    },
    /// The job is stopping: no emission beyond the inputs' frontier is to run when they close.
    Stop,
}

/// How much state one saved part holds, for the start-up report, and what saving it cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartStats {
    /// Keys (users or sessions) with state.
    pub keys: u64,
    /// Records held, in windows and waiting for their emission.
    pub records: u64,
    /// Time the worker thread spent serializing the part, in microseconds: the time its
    /// emissions wait for the checkpoint (writing happens on another thread).
    #[serde(default)]
    pub serialize_micros: u64,
}

/// Where the window operators of one worker save their state and find it again.
pub trait StateStore {
    /// The saved parts of operator `name` in the checkpoint being restored, from every worker
    /// that wrote it (empty when starting fresh). Each part holds the keys of one old worker;
    /// the operator keeps those that [`owns`] gives this worker.
    fn restore(&self, name: &str) -> Vec<std::sync::Arc<Vec<u8>>>;

    /// Saves this worker's part of operator `name` for checkpoint `id`. Writing may happen
    /// after the call returns, off the worker thread.
    fn save(&self, id: u64, name: &str, part: Vec<u8>, stats: PartStats);
}

/// The worker among `peers` that holds the state of `key`: the one timely's exchange sends its
/// records to (`hash % peers`, which is also what it does with a mask for a power of two).
pub fn owner(key: &str, peers: usize) -> usize {
    (route(key) % peers.max(1) as u64) as usize
}

/// Whether worker `index` of `peers` holds the state of `key`.
pub fn owns(key: &str, index: usize, peers: usize) -> bool {
    owner(key, peers) == index
}

/// The store of a worker that neither saves nor restores.
pub struct NoCheckpoints;

impl StateStore for NoCheckpoints {
    fn restore(&self, _name: &str) -> Vec<std::sync::Arc<Vec<u8>>> {
        Vec::new()
    }

    fn save(&self, _id: u64, _name: &str, _part: Vec<u8>, _stats: PartStats) {}
}

/// A worker's checkpoint store, with the worker's place among its peers.
#[derive(Clone)]
pub struct Checkpointing {
    /// Where parts go and come from.
    pub store: std::rc::Rc<dyn StateStore>,
    /// This worker's index.
    pub index: usize,
    /// Number of workers.
    pub peers: usize,
    /// What went wrong restoring, for the worker to report.
    pub failures: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
}

impl Checkpointing {
    /// No checkpoints, for one worker of `peers`.
    pub fn off(index: usize, peers: usize) -> Checkpointing {
        Checkpointing {
            store: std::rc::Rc::new(NoCheckpoints),
            index,
            peers,
            failures: Default::default(),
        }
    }

    /// Checkpoints kept in `store`.
    pub fn new(store: std::rc::Rc<dyn StateStore>, index: usize, peers: usize) -> Checkpointing {
        Checkpointing {
            store,
            index,
            peers,
            failures: Default::default(),
        }
    }

    /// Reports a failure to restore.
    pub fn fail(&self, message: String) {
        self.failures.borrow_mut().push(message);
    }

    /// Whether this worker holds the state of `key`.
    pub fn owns(&self, key: &str) -> bool {
        owns(key, self.index, self.peers)
    }
}

/// Appends serialized values to a part.
pub struct PartWriter {
    bytes: Vec<u8>,
}

impl Default for PartWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl PartWriter {
    /// An empty part.
    pub fn new() -> PartWriter {
        PartWriter { bytes: Vec::new() }
    }

    /// Appends `value`.
    pub fn put<T: Serialize + ?Sized>(&mut self, value: &T) {
        // Serializing plain data into a vector cannot fail.
        let _ = bincode::serialize_into(&mut self.bytes, value);
    }

    /// Appends the values of `other`.
    pub fn append(&mut self, other: PartWriter) {
        self.bytes.extend_from_slice(&other.bytes);
    }

    /// The part's bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads back the values of a part, in the order they were put.
pub struct PartReader<'a> {
    bytes: &'a [u8],
}

impl<'a> PartReader<'a> {
    /// Reads `bytes`.
    pub fn new(bytes: &'a [u8]) -> PartReader<'a> {
        PartReader { bytes }
    }

    /// The next value.
    pub fn take<T: serde::de::DeserializeOwned>(&mut self) -> Result<T, String> {
        bincode::deserialize_from(&mut self.bytes).map_err(|e| e.to_string())
    }
}
