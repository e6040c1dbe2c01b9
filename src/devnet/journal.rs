//! The devnet's durable ledger: an append-only journal of records, each
//! `[u32 length][u32 CRC-32][BCS record]` (little-endian), replayed at start.
//!
//! Appends go to one writer thread that writes and `fdatasync`s whole batches (group commit)
//! and only then acknowledges each record: an acknowledged transaction survives `kill -9` and
//! power loss. A torn last record (crash mid-write) fails its length or checksum and is cut
//! off at replay; it was never acknowledged.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::error::DevnetError;
use super::state::{CheckpointRecord, Commit};

/// The journal file inside the data directory.
pub const JOURNAL_FILE: &str = "ledger.journal";

/// One journal record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Record {
    /// The genesis objects and checkpoint 0; always the first record.
    Genesis(Box<Genesis>),
    /// A committed transaction.
    Transaction(Box<Commit>),
    /// A formed checkpoint.
    Checkpoint(Box<CheckpointRecord>),
}

/// The first record of every journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Genesis {
    /// Objects at genesis.
    pub objects: Vec<sui_sdk_types::Object>,
    /// Checkpoint 0.
    pub checkpoint: CheckpointRecord,
}

struct Append {
    bytes: Vec<u8>,
    done: Option<oneshot::Sender<()>>,
}

/// The writing end of the journal.
#[derive(Debug, Clone)]
pub struct Journal {
    tx: mpsc::Sender<Append>,
}

impl std::fmt::Debug for Append {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Append").field("len", &self.bytes.len()).finish()
    }
}

/// A pending acknowledgement: resolves once the record is on disk.
pub type Durable = oneshot::Receiver<()>;

impl Journal {
    /// Opens (creating) the journal in `dir`, returns the records it holds and a writer that
    /// appends after them.
    pub fn open(dir: &Path) -> Result<(Journal, Vec<Record>), DevnetError> {
        let path = dir.join(JOURNAL_FILE);
        let io = |action, source| DevnetError::Io { action, path: path.clone(), source };
        std::fs::create_dir_all(dir).map_err(|e| io("creating the directory of", e))?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io("opening", e))?;
        let (records, good_len) = read_records(&path, &file)?;
        // Cut a torn tail so new records follow the last good one.
        file.set_len(good_len).map_err(|e| io("truncating the torn tail of", e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| io("seeking", e))?;
        let (tx, rx) = mpsc::channel();
        let writer_path = path.clone();
        std::thread::Builder::new()
            .name("devnet-journal".into())
            .spawn(move || writer(file, writer_path, rx))
            .map_err(|e| io("starting the writer of", e))?;
        Ok((Journal { tx }, records))
    }

    /// Queues `record`; the receiver resolves when it is durable.
    pub fn append(&self, record: &Record) -> Result<Durable, DevnetError> {
        let body = bcs::to_bytes(record).expect("journal records always encode");
        let mut bytes = Vec::with_capacity(body.len() + 8);
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        let (done, durable) = oneshot::channel();
        self.tx.send(Append { bytes, done: Some(done) }).map_err(|_| DevnetError::JournalClosed)?;
        Ok(durable)
    }
}

fn writer(mut file: File, path: PathBuf, rx: mpsc::Receiver<Append>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let mut buf = Vec::with_capacity(batch.iter().map(|a| a.bytes.len()).sum());
        for a in &batch {
            buf.extend_from_slice(&a.bytes);
        }
        if let Err(e) = file.write_all(&buf).and_then(|()| file.sync_data()) {
            // Acknowledging now would promise durability we do not have: stop instead, and
            // let every waiter see the journal closed.
            tracing::error!(path = %path.display(), error = %e, "journal write failed; no further transaction is acknowledged");
            return;
        }
        for mut a in batch {
            if let Some(done) = a.done.take() {
                let _ = done.send(());
            }
        }
    }
}

fn read_records(path: &Path, file: &File) -> Result<(Vec<Record>, u64), DevnetError> {
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut header = [0u8; 8];
        match reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(source) => return Err(DevnetError::Io { action: "reading", path: path.to_path_buf(), source }),
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() || crc32fast::hash(&body) != crc {
            tracing::warn!(path = %path.display(), offset, "discarding a torn record at the end of the journal");
            break;
        }
        let record = bcs::from_bytes(&body).map_err(|e| DevnetError::CorruptJournal {
            path: path.to_path_buf(),
            offset,
            reason: e.to_string(),
        })?;
        records.push(record);
        offset += 8 + len as u64;
    }
    Ok((records, offset))
}
