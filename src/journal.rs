//! A durable append-only journal of records, each `[u32 length][u32 CRC-32][BCS record]`
//! (little-endian), replayed at start: the devnet's ledger and the node's execution record.
//!
//! Appends go to one writer thread that writes and `fdatasync`s whole batches (group commit)
//! and only then acknowledges each record: an acknowledged record survives `kill -9` and
//! power loss. A torn last record (crash mid-write) fails its length or checksum and is cut
//! off at replay; it was never acknowledged. The journal knows nothing of what it stores.

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
    /// The writer stopped after a failed write; nothing more can be made durable.
    #[error("the journal writer stopped")]
    Closed,
}

struct Append {
    bytes: Vec<u8>,
    done: Option<oneshot::Sender<()>>,
}

/// The writing end of a journal of `R` records.
#[derive(Debug)]
pub struct Journal<R> {
    tx: mpsc::Sender<Append>,
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
        let (records, good_len) = read_records(&path, &file)?;
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
        let body = bcs::to_bytes(record).expect("journal records always encode");
        let mut bytes = Vec::with_capacity(body.len() + 8);
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        let (done, durable) = oneshot::channel();
        self.tx.send(Append { bytes, done: Some(done) }).map_err(|_| JournalError::Closed)?;
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
            tracing::error!(path = %path.display(), error = %e, "journal write failed; no further record is acknowledged");
            return;
        }
        for mut a in batch {
            if let Some(done) = a.done.take() {
                let _ = done.send(());
            }
        }
    }
}

fn read_records<R: DeserializeOwned>(path: &Path, file: &File) -> Result<(Vec<R>, u64), JournalError> {
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut header = [0u8; 8];
        match reader.read_exact(&mut header) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(source) => return Err(crate::fs::FileError::new("reading", path, source).into()),
        }
        let len = u32::from_le_bytes(header[..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().expect("4 bytes"));
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err() || crc32fast::hash(&body) != crc {
            tracing::warn!(path = %path.display(), offset, "discarding a torn record at the end of the journal");
            break;
        }
        let record = bcs::from_bytes(&body).map_err(|e| JournalError::Corrupt {
            path: path.to_path_buf(),
            offset,
            reason: e.to_string(),
        })?;
        records.push(record);
        offset += 8 + len as u64;
    }
    Ok((records, offset))
}
