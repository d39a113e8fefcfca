//! Reading a backup: decrypt with age, check the structure and the signature, say who signed
//! it ([`verify`], which changes nothing) and merge its changes into the database
//! ([`import`], in one transaction that commits only once the signature has checked out).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::{
    format, BackupError, ClinicMatch, Control, Manifest, Passphrase, Report, Standing,
    MAX_WORK_FACTOR,
};
use crate::clinic::profile;
use crate::identity::DeviceId;
use crate::net::roster;
use crate::store::{self, Store};

/// Counts the bytes read from the file, for progress.
struct Counted<'a> {
    file: File,
    control: &'a Control,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.control.add(n as u64);
        Ok(n)
    }
}

/// A backup being read: its manifest and signer (both still unproven until `finish`).
struct Opened<'a> {
    reader: format::Reader<Box<dyn Read + 'a>>,
    manifest: Manifest,
    signer: DeviceId,
    bytes: u64,
}

/// Why age could not read the file's header, given how the file starts.
fn header_error(e: age::DecryptError, start: &[u8]) -> BackupError {
    use age::DecryptError as D;
    if !start.starts_with(b"age-encryption.org/v1\n") {
        return BackupError::NotABackup;
    }
    match e {
        D::Io(e) => format::stream_error(e),
        // age reads a header cut before its MAC line as an unknown format.
        _ if !start.windows(5).any(|w| w == b"\n--- ") => BackupError::Truncated,
        _ => BackupError::Damaged,
    }
}

fn decrypt_error(e: age::DecryptError) -> BackupError {
    use age::DecryptError as D;
    match e {
        D::DecryptionFailed | D::KeyDecryptionFailed | D::NoMatchingKeys => {
            BackupError::WrongPassphrase
        }
        D::Io(e) => format::stream_error(e),
        D::UnknownFormat => BackupError::NotABackup,
        D::ExcessiveWork { required, .. } => BackupError::TooMuchWork {
            required,
            allowed: MAX_WORK_FACTOR,
        },
        _ => BackupError::Damaged,
    }
}

fn open<'a>(
    path: &Path,
    passphrase: &Passphrase,
    control: &'a Control,
) -> Result<Opened<'a>, BackupError> {
    let file = File::open(path).map_err(|e| BackupError::File(path.to_path_buf(), e))?;
    let bytes = file.metadata()?.len();
    control.start(bytes);
    let mut input = BufReader::with_capacity(1 << 20, Counted { file, control });
    let start = input.fill_buf()?.to_vec();
    let decryptor = age::Decryptor::new_buffered(input).map_err(|e| header_error(e, &start))?;
    if !decryptor.is_scrypt() {
        // An age file for keys, not a passphrase: not one of ours.
        return Err(BackupError::NotABackup);
    }
    let mut identity = age::scrypt::Identity::new(passphrase.secret());
    identity.set_max_work_factor(MAX_WORK_FACTOR);
    let stream = decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(decrypt_error)?;
    let reader = format::Reader::start(
        Box::new(BufReader::with_capacity(1 << 20, stream)) as Box<dyn Read + 'a>
    )?;
    let manifest: Manifest =
        postcard::from_bytes(&reader.manifest).map_err(|_| BackupError::Damaged)?;
    let signer = DeviceId::of_certificate(&reader.certificate);
    if manifest.device_id != signer.to_text() {
        return Err(BackupError::BadSignature);
    }
    Ok(Opened {
        reader,
        manifest,
        signer,
        bytes,
    })
}

/// Who signed and whether the backup belongs here, as this database sees it.
fn report(db: &Connection, this_device: &DeviceId, o: &Opened) -> Result<Report, BackupError> {
    let member = roster::members(db)?.into_iter().find(|m| m.id == o.signer);
    let standing = match &member {
        _ if o.signer == *this_device => Standing::ThisComputer,
        Some(m) if m.revoked => Standing::Revoked,
        Some(_) => Standing::Trusted,
        None => Standing::Unknown,
    };
    let clinic = match profile::current(db)? {
        None => ClinicMatch::NoneHere,
        Some(_) if profile::is_ours(db, &o.manifest.clinic_id)? => ClinicMatch::Same,
        Some(here) => ClinicMatch::Other { here: here.name },
    };
    Ok(Report {
        manifest: o.manifest.clone(),
        signer: o.signer,
        signer_name: member.map(|m| m.name).filter(|n| !n.is_empty()),
        standing,
        clinic,
        bytes: o.bytes,
    })
}

/// Reads the whole backup and checks it, changing nothing: who signed it and where they stand
/// with this clinic (as `db` sees it; `this_device` is this computer's ID), whether it belongs
/// to this clinic, and what it holds.
pub fn verify(
    db: &Connection,
    this_device: &DeviceId,
    file: &Path,
    passphrase: &Passphrase,
    control: &Control,
) -> Result<Report, BackupError> {
    let mut opened = open(file, passphrase, control)?;
    while opened.reader.batch()?.is_some() {
        control.check()?;
    }
    let report = report(db, this_device, &opened)?;
    opened.reader.finish()?;
    Ok(report)
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// This computer's device ID.
    pub this_device: DeviceId,
    /// Import even though this signer is unknown to the clinic or was removed from it: the
    /// person has seen its ID (from [`verify`]) and accepts it.
    pub accept_signer: Option<DeviceId>,
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    pub report: Report,
    /// Changes the backup held, all merged (those older than what is here lost their merge,
    /// so `db_version_after` moves only when something new came in).
    pub changes: i64,
    pub db_version_before: i64,
    pub db_version_after: i64,
}

/// Refuses a backup from another clinic, or signed by an unknown or removed computer (unless
/// the person accepted that signer).
fn admit(report: &Report, accept: Option<DeviceId>) -> Result<(), BackupError> {
    if let ClinicMatch::Other { here } = &report.clinic {
        return Err(BackupError::AnotherClinic {
            backup: report.manifest.clinic_name.clone(),
            here: here.clone(),
        });
    }
    if accept == Some(report.signer) {
        return Ok(());
    }
    match report.standing {
        Standing::ThisComputer | Standing::Trusted => Ok(()),
        Standing::Unknown => Err(BackupError::UnknownSigner(report.signer)),
        Standing::Revoked => Err(BackupError::RevokedSigner {
            id: report.signer,
            name: report.signer_name.clone().unwrap_or_default(),
        }),
    }
}

/// Merges a backup's changes into the database: what is here stays, newer edits win over the
/// backup's older ones, and importing the same backup again changes nothing. On a fresh
/// install this restores the clinic, under this database's own site id. Holds the writer for
/// the whole import, in one transaction that is committed only after the signature checked
/// out; any refusal, error or cancel leaves the database as it was.
pub fn import(
    store: &Store,
    file: &Path,
    passphrase: &Passphrase,
    options: &ImportOptions,
    control: &Control,
) -> Result<Imported, BackupError> {
    let mut opened = open(file, passphrase, control)?;
    let mut db = store.writer();
    // Refused on what the backup claims before merging anything; the signature proving the
    // claims is checked before anything is committed.
    let report = report(&db, &options.this_device, &opened)?;
    if let Err(refused) = admit(&report, options.accept_signer) {
        // A forged file is called forged, whatever it claims: read it through to check.
        drop(db);
        while opened.reader.batch()?.is_some() {
            control.check()?;
        }
        opened.reader.finish()?;
        return Err(refused);
    }
    let before = store::db_version(&db)?;
    let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut changes = 0i64;
    while let Some(batch) = opened.reader.batch()? {
        control.check()?;
        changes += tx.query_row("SELECT crsql_merge_changes(?1)", [&batch], |r| {
            r.get::<_, i64>(0)
        })?;
    }
    opened.reader.finish()?;
    control.check()?;
    tx.commit()?;
    Ok(Imported {
        report,
        changes,
        db_version_before: before,
        db_version_after: store::db_version(&db)?,
    })
}
