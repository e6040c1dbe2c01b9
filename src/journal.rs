//! A durable append-only journal of records, each `[u32 length][u32 CRC-32][BCS record]`
//! (little-endian), replayed at start: the devnet's ledger and the node's execution record.
//!
//! Appends go to one writer thread that writes and `fdatasync`s whole batches (group commit)
//! and only then acknowledges each record: an acknowledged record survives `kill -9` and
//! power loss. A torn tail (crash mid-write: no valid record after the damage) fails its
//! length or checksum and is cut off at replay; it was never acknowledged. Damage with valid
//! records after it is not a crash: opening refuses with the offset, and [`inspect`] and
//! [`repair`] tell the operator what is lost and keep everything else. [`Journal::compact`]
//! atomically replaces the file with the records still needed, so the journal stays bounded.
//! The journal knows nothing of what it stores.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

/// What can go wrong with a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file operation failed.
    #[error(transparent)]
    File(#[from] crate::fs::FileError),
    /// A record with a valid checksum does not decode: written by another version.
    #[error("journal {path} is corrupt at byte {offset}: {reason}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// Damage in the middle of the journal: valid records follow it, so it is no torn tail.
    #[error(
        "journal {path} is damaged at byte {offset} and valid records follow at byte {next_valid}: this is not a crash mid-write; see what is lost with `nautilus journal check`, keep the rest with `nautilus journal repair`"
    )]
    Damaged {
        /// The journal file.
        path: PathBuf,
        /// Where the damage starts.
        offset: u64,
        /// The first valid record after it.
        next_valid: u64,
    },
    /// The writer stopped after a failed write; nothing more can be made durable.
    #[error("the journal writer stopped")]
    Closed,
}

enum Message {
    Append(Append),
    /// Replace the file with these encoded records.
    Compact {
        bytes: Vec<u8>,
        done: oneshot::Sender<()>,
    },
}

struct Append {
    bytes: Vec<u8>,
    done: Option<oneshot::Sender<()>>,
}

/// The writing end of a journal of `R` records.
#[derive(Debug)]
pub struct Journal<R> {
    tx: mpsc::Sender<Message>,
    records: PhantomData<fn(&R)>,
}

impl<R> Clone for Journal<R> {
    fn clone(&self) -> Self {
        Journal { tx: self.tx.clone(), records: PhantomData }
    }
}

impl std::fmt::Debug for Append {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Append").field("len", &self.bytes.len()).finish()
    }
}

/// A pending acknowledgement: resolves once the record is on disk.
pub type Durable = oneshot::Receiver<()>;

impl<R: Serialize + DeserializeOwned> Journal<R> {
    /// Opens (creating) the journal at `path`, returns the records it holds and a writer that
    /// appends after them.
    pub fn open(path: &Path) -> Result<(Journal<R>, Vec<R>), JournalError> {
        let path = path.to_path_buf();
        let io = |action, source| JournalError::from(crate::fs::FileError::new(action, &path, source));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("opening", e))?;
        let scan = scan::<R>(&path, &file)?;
        if let Some(damage) = &scan.damage
            && let Some(next_valid) = damage.next_valid
        {
            return Err(JournalError::Damaged { path, offset: damage.offset, next_valid });
        }
        let (records, good_len) = (scan.records.into_iter().map(|(_, r)| r).collect(), scan.good_len);
        // Cut a torn tail so new records follow the last good one.
        file.set_len(good_len).map_err(|e| io("truncating the torn tail of", e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| io("seeking", e))?;
        let (tx, rx) = mpsc::channel();
        let writer_path = path.clone();
        std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer(file, writer_path, rx))
            .map_err(|e| io("starting the writer of", e))?;
        Ok((Journal { tx, records: PhantomData }, records))
    }

    /// Queues `record`; the receiver resolves when it is durable.
    pub fn append(&self, record: &R) -> Result<Durable, JournalError> {
        let (done, durable) = oneshot::channel();
        self.tx
            .send(Message::Append(Append { bytes: encode(record), done: Some(done) }))
            .map_err(|_| JournalError::Closed)?;
        Ok(durable)
    }

    /// Replaces the journal with `records`, atomically (a new file, synced, renamed over the
    /// old one), after every record appended before this call; later appends follow them.
    /// The receiver resolves when the new journal is durable.
    pub fn compact(&self, records: &[R]) -> Result<Durable, JournalError> {
        let bytes = records.iter().flat_map(encode).collect();
        let (done, durable) = oneshot::channel();
        self.tx.send(Message::Compact { bytes, done }).map_err(|_| JournalError::Closed)?;
        Ok(durable)
    }
}

fn encode<R: Serialize>(record: &R) -> Vec<u8> {
    let body = bcs::to_bytes(record).expect("journal records always encode");
    let mut bytes = Vec::with_capacity(body.len() + 8);
    bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes
}

/// Writes `bytes` to a new file beside `path`, syncs it, renames it over `path`, and returns
/// the new file open for appending.
fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<File> {
    let tmp = path.with_extension("compacting");
    let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    file.seek(SeekFrom::End(0))?;
    Ok(file)
}

fn writer(mut file: File, path: PathBuf, rx: mpsc::Receiver<Message>) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::new();
        let mut compact = None;
        for message in std::iter::once(first).chain(rx.try_iter()) {
            match message {
                Message::Append(a) => batch.push(a),
                // Appends queued before it are written first; it ends the batch.
                Message::Compact { bytes, done } => {
                    compact = Some((bytes, done));
                    break;
                }
            }
        }
        let mut buf = Vec::with_capacity(batch.iter().map(|a| a.bytes.len()).sum());
        for a in &batch {
            buf.extend_from_slice(&a.bytes);
        }
        if let Err(e) = file.write_all(&buf).and_then(|()| file.sync_data()) {
            // Acknowledging now would promise durability we do not have: stop instead, and
            // let every waiter see the journal closed.
            tracing::error!(path = %path.display(), error = %e, "journal write failed; no further record is acknowledged");
            return;
        }
        for mut a in batch {
            if let Some(done) = a.done.take() {
                let _ = done.send(());
            }
        }
        if let Some((bytes, done)) = compact {
            match replace(&path, &bytes) {
                Ok(new) => {
                    file = new;
                    let _ = done.send(());
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), error = %e, "journal compaction failed; no further record is acknowledged");
                    return;
                }
            }
        }
    }
}

/// Where a journal is damaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// First damaged byte.
    pub offset: u64,
    /// The first valid record after it; `None` for a torn tail (nothing valid follows).
    pub next_valid: Option<u64>,
    /// Bytes between the damage and the next valid record (or the end).
    pub bytes_lost: u64,
}

/// What a journal holds, as [`inspect`] finds it.
#[derive(Debug)]
pub struct Scan<R> {
    /// Every valid record before the damage, with its offset.
    pub records: Vec<(u64, R)>,
    /// Length of the valid prefix.
    pub good_len: u64,
    /// The damage, if any.
    pub damage: Option<Damage>,
    /// Valid records after the damage (found by `repair`'s scan), with their offsets.
    pub after_damage: Vec<(u64, R)>,
    /// The file's length.
    pub file_len: u64,
}

/// The record starting at `offset` in `bytes`, if a whole one with a valid checksum is there.
fn record_at(bytes: &[u8], offset: usize) -> Option<(usize, &[u8])> {
    let header = bytes.get(offset..offset + 8)?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
    let body = bytes.get(offset + 8..(offset + 8).checked_add(len)?)?;
    (crc32fast::hash(body) == crc).then_some((8 + len, body))
}

fn scan<R: DeserializeOwned>(path: &Path, file: &File) -> Result<Scan<R>, JournalError> {
    let mut bytes = Vec::new();
    BufReader::new(file)
        .read_to_end(&mut bytes)
        .map_err(|source| crate::fs::FileError::new("reading", path, source))?;
    let decode = |offset: usize, body: &[u8]| {
        bcs::from_bytes(body).map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            offset: offset as u64,
            reason: e.to_string(),
        })
    };
    let mut records = Vec::new();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let Some((len, body)) = record_at(&bytes, offset) else { break };
        records.push((offset as u64, decode(offset, body)?));
        offset += len;
    }
    let good_len = offset as u64;
    let mut damage = None;
    let mut after_damage = Vec::new();
    if offset < bytes.len() {
        // A torn tail has nothing valid after it; anything valid after it means damage.
        let next = (offset + 1..bytes.len()).find(|&o| record_at(&bytes, o).is_some());
        damage = Some(Damage {
            offset: good_len,
            next_valid: next.map(|n| n as u64),
            bytes_lost: (next.unwrap_or(bytes.len()) - offset) as u64,
        });
        if let Some(mut o) = next {
            while o < bytes.len() {
                match record_at(&bytes, o) {
                    Some((len, body)) => {
                        after_damage.push((o as u64, decode(o, body)?));
                        o += len;
                    }
                    None => match (o + 1..bytes.len()).find(|&n| record_at(&bytes, n).is_some()) {
                        Some(n) => o = n,
                        None => break,
                    },
                }
            }
        }
    }
    if let Some(d) = &damage
        && d.next_valid.is_none()
    {
        tracing::warn!(path = %path.display(), offset = d.offset, "discarding a torn record at the end of the journal");
    }
    Ok(Scan { records, good_len, damage, after_damage, file_len: bytes.len() as u64 })
}

/// Reads the journal at `path` without changing it: its valid records, and its damage.
pub fn inspect<R: DeserializeOwned>(path: &Path) -> Result<Scan<R>, JournalError> {
    let file = File::open(path).map_err(|source| crate::fs::FileError::new("opening", path, source))?;
    scan(path, &file)
}

/// Rewrites a damaged journal with every valid record, before and after the damage, and
/// returns what was kept and dropped.
pub fn repair<R: DeserializeOwned + Serialize>(path: &Path) -> Result<Scan<R>, JournalError> {
    let scan = inspect::<R>(path)?;
    let kept: Vec<u8> = scan.records.iter().chain(&scan.after_damage).flat_map(|(_, r)| encode(r)).collect();
    replace(path, &kept).map_err(|source| crate::fs::FileError::new("rewriting", path, source))?;
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &Path) -> Result<(Journal<u64>, Vec<u64>), JournalError> {
        Journal::<u64>::open(path)
    }

    async fn write(path: &Path, values: &[u64]) {
        let (journal, _) = open(path).unwrap();
        for v in values {
            journal.append(v).unwrap().await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        write(&path, &[1, 2, 3]).await;
        let len = std::fs::metadata(&path).unwrap().len();
        // A crash mid-write: half of a fourth record.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&encode(&4u64)[..10]);
        std::fs::write(&path, &bytes).unwrap();
        let (journal, records) = open(&path).unwrap();
        assert_eq!(records, [1, 2, 3]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len, "cut at the last good record");
        journal.append(&5).unwrap().await.unwrap();
        drop(journal);
        assert_eq!(open(&path).unwrap().1, [1, 2, 3, 5]);
    }

    #[tokio::test]
    async fn damage_in_the_middle_stops_the_start_and_repair_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        write(&path, &[1, 2, 3, 4]).await;
        let mut bytes = std::fs::read(&path).unwrap();
        let second = encode(&1u64).len();
        bytes[second + 9] ^= 0xFF; // inside record 2's body
        std::fs::write(&path, &bytes).unwrap();
        let err = open(&path).unwrap_err();
        assert!(matches!(err, JournalError::Damaged { offset, .. } if offset == second as u64), "{err}");
        assert!(err.to_string().contains("nautilus journal check"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "opening changed nothing");
        let seen = inspect::<u64>(&path).unwrap();
        assert_eq!(seen.records.iter().map(|(_, r)| *r).collect::<Vec<_>>(), [1]);
        assert_eq!(seen.after_damage.iter().map(|(_, r)| *r).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(seen.damage.as_ref().unwrap().bytes_lost, second as u64);
        repair::<u64>(&path).unwrap();
        assert_eq!(open(&path).unwrap().1, [1, 3, 4]);
    }

    #[tokio::test]
    async fn compaction_keeps_what_is_asked_and_appends_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let (journal, _) = open(&path).unwrap();
        for v in 0..100u64 {
            journal.append(&v).unwrap();
        }
        journal.compact(&[7, 8]).unwrap().await.unwrap();
        journal.append(&9).unwrap().await.unwrap();
        drop(journal);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(open(&path).unwrap().1, [7, 8, 9]);
        assert!(!path.with_extension("compacting").exists());
    }
}
