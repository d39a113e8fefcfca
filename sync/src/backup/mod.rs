//! Signed, encrypted backups of the clinic's database, made while the app keeps working, and
//! merged back in (never restored over what is there).
//!
//! **What a backup holds.** The payload is the database's CRR changes, all of them from
//! db_version 0 (rows, deletions and the per-column clocks), exported inside one read
//! transaction on a reader connection: a consistent snapshot at one db_version, while the writer
//! goes on. Because it is changes and not a database file, importing it is a merge: nothing
//! local is lost, importing the same file twice changes nothing, and an old backup cannot roll
//! back newer edits (each column keeps the value with the greater clock). A fresh install that
//! imports one keeps its own new site id. Local-only tables (settings, pairing requests, peer
//! status, sync slots) and the search index (rebuilt by triggers) are not in it, nor are
//! changes held back for a newer schema (the computer that made them still has them).
//!
//! **The file.** One file, encrypted with the clinic's backup passphrase by age (scrypt
//! passphrase recipient): nothing in it is readable without the passphrase, not even the
//! manifest. Inside: a manifest ([`Manifest`]), the signer's device certificate, the change
//! batches and an ECDSA P-256 signature by the device's key over all of it (see `format`).
//! Anyone with the passphrase can read a backup; only a clinic computer can sign one, and
//! [`verify`] and [`import`] say which one did.
//!
//! **Progress and cancel.** Every operation takes a [`Control`] that a GUI shares with it: a
//! progress counter to draw a bar, and a cancel flag. A cancelled export leaves no file (it
//! writes to a temporary file and renames it at the end); a cancelled import changes nothing
//! (it merges in one transaction).

mod export;
mod format;
mod restore;
pub mod schedule;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use age::secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::identity::DeviceId;
use crate::store::StoreError;

pub use export::export;
pub use format::FORMAT;
pub use restore::{import, verify, ImportOptions, Imported};

/// Why a backup could not be made, read or imported. Nothing was changed in any case.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("this file is not a Carebook backup")]
    NotABackup,
    #[error("the passphrase is wrong (or the start of the file is damaged)")]
    WrongPassphrase,
    #[error("the backup is damaged: some bytes were changed")]
    Damaged,
    #[error("the backup is cut short (an incomplete copy?)")]
    Truncated,
    #[error("the backup asks for a passphrase key derivation of 2^{required} rounds, more than the 2^{allowed} Carebook accepts (it would need {} MiB of memory): it was not made by Carebook, or was edited", 1u64 << required.saturating_sub(10).min(50))]
    TooMuchWork { required: u8, allowed: u8 },
    #[error("the backup's signature does not match its content: it was altered, or the signature comes from another backup")]
    BadSignature,
    #[error(
        "the backup is in format {0}, newer than this program reads ({FORMAT}); update Carebook"
    )]
    NewerFormat(u32),
    #[error("the backup was signed by a computer this clinic does not know ({0}); if you trust it, accept that ID explicitly")]
    UnknownSigner(DeviceId),
    #[error("the backup was signed by {name} ({id}), which was removed from this clinic; accept that ID explicitly to import it anyway")]
    RevokedSigner { id: DeviceId, name: String },
    #[error("the backup belongs to another clinic (\"{backup}\"), not to this one (\"{here}\")")]
    AnotherClinic { backup: String, here: String },
    #[error("the backup passphrase is empty")]
    EmptyPassphrase,
    #[error("automatic backups have no folder yet")]
    NotScheduled,
    #[error("the backup passphrase: {0}")]
    Secret(#[from] crate::secret::SecretError),
    #[error("this computer's identity: {0}")]
    Identity(#[from] crate::identity::IdentityError),
    #[error("cancelled; nothing was changed")]
    Cancelled,
    #[error("could not sign the backup: {0}")]
    Signing(String),
    #[error("could not encrypt the backup: {0}")]
    Encrypt(String),
    #[error("{0}: {1}")]
    File(std::path::PathBuf, std::io::Error),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// Shared between a running export, verify or import and whoever watches it (a progress bar
/// and a cancel button). Progress counts db_versions written (export) or bytes of the file
/// read (verify, import).
#[derive(Debug, Default)]
pub struct Control {
    cancel: AtomicBool,
    done: AtomicU64,
    total: AtomicU64,
}

impl Control {
    /// Asks the operation to stop at its next step; it then fails with
    /// [`BackupError::Cancelled`] and leaves nothing changed.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// (done, total) so far; total is 0 until the operation knows it.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.done.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
        )
    }

    /// From 0.0 to 1.0.
    pub fn fraction(&self) -> f32 {
        match self.progress() {
            (_, 0) => 0.0,
            (d, t) => (d as f64 / t as f64).min(1.0) as f32,
        }
    }

    fn start(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(0, Ordering::Relaxed);
    }

    fn set(&self, done: u64) {
        self.done.store(done, Ordering::Relaxed);
    }

    fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn check(&self) -> Result<(), BackupError> {
        if self.cancel.load(Ordering::Relaxed) {
            Err(BackupError::Cancelled)
        } else {
            Ok(())
        }
    }
}

/// How the name of a backup being written begins (renamed once complete; the schedule clears
/// the ones a killed export left).
const TEMPORARY: &str = ".carebook-backup-";

/// The scrypt work factor (log2 N) of new backups: 2^18 rounds, 256 MiB of memory, under a
/// second on a clinic's computer. Fixed rather than measured, so every computer can read what
/// any other wrote.
const WORK_FACTOR: u8 = 18;

/// The highest work factor a backup may ask for when it is read (2^20: 1 GiB and a few
/// seconds), so a crafted file cannot make a computer use gigabytes or work for hours.
pub(crate) const MAX_WORK_FACTOR: u8 = 20;

/// The clinic's backup passphrase. Never printed (its `Debug` hides it).
pub struct Passphrase {
    secret: SecretString,
    work_factor: Option<u8>,
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(hidden)")
    }
}

impl Passphrase {
    pub fn new(text: String) -> Result<Passphrase, BackupError> {
        if text.is_empty() {
            return Err(BackupError::EmptyPassphrase);
        }
        Ok(Passphrase {
            secret: SecretString::from(text),
            work_factor: None,
        })
    }

    /// Sets the scrypt work factor (log2 N) for new backups, at most what any computer
    /// accepts when reading; tests use a small one.
    pub fn with_work_factor(mut self, log_n: u8) -> Passphrase {
        self.work_factor = Some(log_n.clamp(1, MAX_WORK_FACTOR));
        self
    }

    /// The scrypt work factor new backups are written with.
    pub(crate) fn work_factor(&self) -> u8 {
        self.work_factor.unwrap_or(WORK_FACTOR)
    }

    /// The passphrase itself, to be remembered on this computer (never to be shown or logged).
    pub(crate) fn text(&self) -> &str {
        self.secret.expose_secret()
    }

    fn secret(&self) -> SecretString {
        SecretString::from(self.secret.expose_secret().to_owned())
    }
}

/// What a backup says about itself (signed with everything else).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub clinic_id: String,
    pub clinic_name: String,
    /// The signing computer's device ID (text form); it must be its certificate's.
    pub device_id: String,
    /// The signing computer's name, as it called itself.
    pub device_name: String,
    /// The signing database's site id.
    pub site_id: Vec<u8>,
    /// The snapshot's db_version: the backup holds exactly the changes up to it.
    pub db_version: i64,
    /// The version vector: per site (computer) whose changes the snapshot holds, how many and
    /// the highest local db_version among them.
    pub sites: Vec<SiteVersion>,
    /// Rows per replicated table.
    pub rows: Vec<TableRows>,
    pub schema_version: u32,
    /// Seconds since 1970 (UTC).
    pub created_at: i64,
    /// The Carebook version that made it.
    pub app_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteVersion {
    pub site_id: Vec<u8>,
    pub changes: i64,
    pub db_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    pub table: String,
    pub rows: i64,
}

impl Manifest {
    /// Rows of one table (0 if the backup has none).
    pub fn rows_of(&self, table: &str) -> i64 {
        self.rows
            .iter()
            .find(|t| t.table == table)
            .map_or(0, |t| t.rows)
    }
}

/// Where the signer stands with this clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// This very computer signed it.
    ThisComputer,
    /// A member of the clinic.
    Trusted,
    /// A computer removed from the clinic.
    Revoked,
    /// Not on this clinic's roster.
    Unknown,
}

impl std::fmt::Display for Standing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Standing::ThisComputer => "this computer",
            Standing::Trusted => "a trusted member of this clinic",
            Standing::Revoked => "REMOVED from this clinic",
            Standing::Unknown => "UNKNOWN to this clinic",
        })
    }
}

/// Whether the backup belongs to this database's clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClinicMatch {
    Same,
    /// This database has no clinic identity yet (a fresh install): a restore is allowed.
    NoneHere,
    /// Another clinic; `here` is this clinic's name.
    Other {
        here: String,
    },
}

/// What [`verify`] found: who signed the backup, where they stand, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub manifest: Manifest,
    pub signer: DeviceId,
    /// The signer's name on this clinic's roster, if it is there.
    pub signer_name: Option<String>,
    pub standing: Standing,
    pub clinic: ClinicMatch,
    /// The file's size.
    pub bytes: u64,
}
