//! Checkpoints on disk. One directory per checkpoint, `ckpt-<id>`, holding one part file per
//! (operator, worker) and, once every part is there, `MANIFEST.json`: a checkpoint without a
//! manifest is incomplete and never restored. Every file is written to a temporary name, synced
//! and renamed, so a crash leaves either the whole file or none of it; each part carries its
//! length and a SHA-256 of its bytes, so a torn or altered part is recognised.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use operators::checkpoint::PartStats;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The format of parts and manifests; a checkpoint of another format is refused. Format 2: a
/// session lane saves its features' state instead of its records. Format 3: that state holds
/// the states alone, their layout being the catalogue's.
pub const FORMAT: u32 = 3;

const MAGIC: &[u8; 8] = b"LSHPCKPT";

/// What a part says about itself, in front of its payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartHeader {
    /// Checkpoint number.
    pub id: u64,
    /// The operator (or `Source`).
    pub name: String,
    /// The worker that wrote it.
    pub worker: usize,
    /// The state it holds.
    pub stats: PartStats,
}

/// A part file in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartEntry {
    /// File name within the checkpoint's directory.
    pub file: String,
    /// Operator name.
    pub name: String,
    /// Size of the file.
    pub bytes: u64,
}

/// A complete checkpoint's description.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format of its files.
    pub format: u32,
    /// Checkpoint number.
    pub id: u64,
    /// Records stamped before this dataflow time are in it.
    pub at: u64,
    /// Wall-clock time it was completed, in milliseconds since the epoch.
    pub completed_ms: u64,
    /// Workers of the job that wrote it.
    pub peers: usize,
    /// The settings that shape the state, by name.
    pub settings: BTreeMap<String, String>,
    /// Keys and records held, over every window part.
    pub stats: PartStats,
    /// Its parts.
    pub parts: Vec<PartEntry>,
}

/// The checkpoint directory.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

/// A checkpoint found on disk.
#[derive(Debug)]
pub struct Found {
    /// Its manifest.
    pub manifest: Manifest,
    /// Its directory.
    pub dir: PathBuf,
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

/// Writes `bytes` to `path` atomically: a temporary file, synced, renamed, directory synced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(|e| io_error("create", &tmp, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_error("write", &tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| io_error("rename", &tmp, e))?;
    if let Some(parent) = path.parent() {
        // The rename is durable once the directory is.
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// A part file's bytes: magic, format, header, payload, checksum of everything before it.
pub fn encode_part(header: &PartHeader, payload: &[u8]) -> Vec<u8> {
    let header = serde_json::to_vec(header).unwrap_or_default();
    let mut bytes = Vec::with_capacity(payload.len() + header.len() + 64);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&FORMAT.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    bytes.extend_from_slice(payload);
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    bytes
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
    if bytes.len() < n {
        return Err("it ends early (torn write?)".into());
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn le_u32(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().unwrap_or_default())
}

/// The header and payload of a part file, once its checksum and format check out.
pub fn decode_part(file: &[u8]) -> Result<(PartHeader, &[u8]), String> {
    if file.len() < 32 {
        return Err("it ends early (torn write?)".into());
    }
    let (body, digest) = file.split_at(file.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err("its checksum does not match (corrupt or torn)".into());
    }
    let mut rest = body;
    if take(&mut rest, 8)? != MAGIC {
        return Err("it is not a live-shopper checkpoint part".into());
    }
    let format = le_u32(take(&mut rest, 4)?);
    if format != FORMAT {
        return Err(format!("it has format {format}, this build reads {FORMAT}"));
    }
    let header_len = le_u32(take(&mut rest, 4)?) as usize;
    let header: PartHeader = serde_json::from_slice(take(&mut rest, header_len)?)
        .map_err(|e| format!("its header does not parse: {e}"))?;
    let len = u64::from_le_bytes(take(&mut rest, 8)?.try_into().unwrap_or_default()) as usize;
    let payload = take(&mut rest, len)?;
    Ok((header, payload))
}

impl Store {
    /// The store in `dir`, created if missing.
    pub fn open(dir: &Path) -> Result<Store, String> {
        fs::create_dir_all(dir)
            .map_err(|e| io_error("create the checkpoint directory (checkpoint.dir)", dir, e))?;
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory of checkpoint `id`.
    pub fn checkpoint_dir(&self, id: u64) -> PathBuf {
        self.dir.join(format!("ckpt-{id:012}"))
    }

    /// The file name of operator `name`'s part from `worker`.
    pub fn part_file(name: &str, worker: usize) -> String {
        format!("{name}-w{worker}.part")
    }

    /// Checkpoint numbers present, complete or not, oldest first.
    pub fn ids(&self) -> Vec<u64> {
        let mut ids: Vec<u64> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name();
                name.to_str()?.strip_prefix("ckpt-")?.parse().ok()
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Writes one part of checkpoint `id`.
    pub fn write_part(&self, header: &PartHeader, payload: &[u8]) -> Result<u64, String> {
        let dir = self.checkpoint_dir(header.id);
        fs::create_dir_all(&dir).map_err(|e| io_error("create", &dir, e))?;
        let bytes = encode_part(header, payload);
        write_atomically(
            &dir.join(Self::part_file(&header.name, header.worker)),
            &bytes,
        )?;
        Ok(bytes.len() as u64)
    }

    /// The header of a part, if the file is there (its checksum is checked on restore).
    pub fn part_header(&self, id: u64, name: &str, worker: usize) -> Option<(PartHeader, u64)> {
        let path = self.checkpoint_dir(id).join(Self::part_file(name, worker));
        let file = fs::read(path).ok()?;
        let (header, _) = decode_part(&file).ok()?;
        Some((header, file.len() as u64))
    }

    /// Whether `id` has a part file for every (operator, worker).
    pub fn has_parts(&self, id: u64, names: &[String], peers: usize) -> bool {
        let dir = self.checkpoint_dir(id);
        names
            .iter()
            .all(|name| (0..peers).all(|worker| dir.join(Self::part_file(name, worker)).is_file()))
    }

    /// Marks `manifest`'s checkpoint complete.
    pub fn complete(&self, manifest: &Manifest) -> Result<(), String> {
        let bytes = serde_json::to_vec_pretty(manifest).unwrap_or_default();
        write_atomically(
            &self.checkpoint_dir(manifest.id).join("MANIFEST.json"),
            &bytes,
        )
    }

    /// The complete checkpoints, newest first, with those whose manifest does not read.
    pub fn complete_ones(&self) -> Vec<Result<Found, String>> {
        let mut found = Vec::new();
        for id in self.ids().into_iter().rev() {
            let dir = self.checkpoint_dir(id);
            let path = dir.join("MANIFEST.json");
            let Ok(text) = fs::read(&path) else {
                continue;
            };
            found.push(
                serde_json::from_slice::<Manifest>(&text)
                    .map(|manifest| Found { manifest, dir })
                    .map_err(|e| format!("{} does not parse: {e}", path.display())),
            );
        }
        found
    }

    /// Removes all but the newest `keep` complete checkpoints, and incomplete ones older than
    /// the newest complete one (written by a run that stopped before finishing them).
    pub fn prune(&self, keep: usize) {
        let ids = self.ids();
        let complete: Vec<u64> = ids
            .iter()
            .copied()
            .filter(|&id| self.checkpoint_dir(id).join("MANIFEST.json").is_file())
            .collect();
        let Some(&newest) = complete.last() else {
            return;
        };
        let kept: Vec<u64> = complete.iter().rev().take(keep).copied().collect();
        for id in ids {
            let stale = if complete.contains(&id) {
                !kept.contains(&id)
            } else {
                id < newest
            };
            if stale {
                // Removed in two steps so that a crash in between leaves no manifest over a
                // half-removed checkpoint.
                let dir = self.checkpoint_dir(id);
                let _ = fs::remove_file(dir.join("MANIFEST.json"));
                let _ = fs::remove_dir_all(dir);
            }
        }
    }

    /// Removes every checkpoint (`--fresh`).
    pub fn clear(&self) -> Result<usize, String> {
        let ids = self.ids();
        for &id in &ids {
            let dir = self.checkpoint_dir(id);
            let _ = fs::remove_file(dir.join("MANIFEST.json"));
            fs::remove_dir_all(&dir).map_err(|e| io_error("remove", &dir, e))?;
        }
        Ok(ids.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> PartHeader {
        PartHeader {
            id: 7,
            name: "CartLane".into(),
            worker: 1,
            stats: PartStats {
                keys: 2,
                records: 3,
                serialize_micros: 4,
            },
        }
    }

    #[test]
    fn parts_round_trip_and_any_damage_is_seen() {
        let bytes = encode_part(&header(), b"payload");
        let (read, payload) = decode_part(&bytes).expect("an intact part reads");
        assert_eq!(read, header());
        assert_eq!(payload, b"payload");
        for cut in [0, 10, bytes.len() - 1] {
            assert!(decode_part(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for at in [0, 12, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 1;
            assert!(decode_part(&flipped).is_err(), "flipped byte {at}");
        }
    }

    #[test]
    fn headers_without_the_serialize_time_still_read() {
        let older = r#"{"id":7,"name":"CartLane","worker":1,"stats":{"keys":2,"records":3}}"#;
        let header: PartHeader = serde_json::from_str(older).expect("the header reads");
        assert_eq!(header.stats.records, 3);
        assert_eq!(header.stats.serialize_micros, 0);
    }

    #[test]
    fn pruning_keeps_the_newest_complete_ones() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = Store::open(dir.path()).expect("store");
        let manifest = |id| Manifest {
            format: FORMAT,
            id,
            at: id * 10,
            completed_ms: 0,
            peers: 1,
            settings: BTreeMap::new(),
            stats: PartStats::default(),
            parts: Vec::new(),
        };
        for id in 1..=5 {
            let mut h = header();
            h.id = id;
            store.write_part(&h, b"x").expect("part");
            if id != 2 && id != 5 {
                store.complete(&manifest(id)).expect("manifest");
            }
        }
        store.prune(2);
        // 1 is beyond the two newest complete ones (3, 4); 2 is incomplete and older than 4;
        // 5 is incomplete but newer: a checkpoint under way.
        assert_eq!(store.ids(), vec![3, 4, 5]);
        let complete: Vec<u64> = store
            .complete_ones()
            .into_iter()
            .map(|f| f.expect("manifest reads").manifest.id)
            .collect();
        assert_eq!(complete, vec![4, 3]);
    }
}
