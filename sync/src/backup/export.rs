//! Making a backup: one read transaction on a new reader connection (a snapshot; the writer
//! keeps working), every change from db_version 0 in batches, encrypted with age into a
//! temporary file beside the destination that is renamed over it only once complete, and then
//! recorded as this computer's last good backup, however the export was started.

use std::io::{BufWriter, Write};
use std::path::Path;

use rusqlite::{params, Connection};

use super::{format, BackupError, Control, Manifest, Passphrase, SiteVersion, TableRows};
use crate::clinic::profile::{self, Clinic};
use crate::identity::Identity;
use crate::net::roster;
use crate::store::{self, schema, Store};

/// Changes per batch: large enough that finding each batch's end stays cheap, small enough
/// to keep memory low and progress moving.
const BATCH_CHANGES: i64 = 200_000;

/// Writes a backup of the whole database to `dest` (replacing it only when complete), records
/// it as the last good backup (see `schedule::last`) and returns its manifest. Makes the
/// clinic's identity first if it has none yet.
pub fn export(
    store: &Store,
    identity: &Identity,
    passphrase: &Passphrase,
    dest: &Path,
    control: &Control,
) -> Result<Manifest, BackupError> {
    let clinic = profile::ensure(&store.writer(), "")?;
    let db = store.reader()?;
    let tx = db.unchecked_transaction()?;
    // The first read starts the snapshot; everything below sees the database as of then.
    tx.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
    let manifest = manifest(&tx, identity, &clinic)?;
    control.start(manifest.db_version as u64);

    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(super::TEMPORARY)
        .tempfile_in(dir)
        .map_err(|e| BackupError::File(dir.to_path_buf(), e))?;
    let mut recipient = age::scrypt::Recipient::new(passphrase.secret());
    recipient.set_work_factor(passphrase.work_factor());
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as _))
        .map_err(|e| BackupError::Encrypt(e.to_string()))?;
    let sealed = encryptor.wrap_output(BufWriter::with_capacity(1 << 20, tmp.as_file()))?;
    let body = postcard::to_stdvec(&manifest).map_err(|e| BackupError::Encrypt(e.to_string()))?;
    let mut w = format::Writer::start(sealed, &body, &identity.certificate)?;
    let mut since = 0i64;
    loop {
        control.check()?;
        let batch: Vec<u8> = tx.query_row(
            "SELECT crsql_export_changes(?1, NULL, ?2)",
            params![since, BATCH_CHANGES],
            |r| r.get(0),
        )?;
        let upto: i64 =
            tx.query_row("SELECT crsql_batch_db_version(?1)", [&batch], |r| r.get(0))?;
        if upto == 0 {
            break;
        }
        w.section(&batch)?;
        since = upto;
        control.set(upto as u64);
    }
    tx.commit()?;
    control.check()?;
    let mut file = w.finish(identity)?.finish()?;
    file.flush()?;
    drop(file);
    tmp.as_file().sync_all()?;
    tmp.persist(dest)
        .map_err(|e| BackupError::File(dest.to_path_buf(), e.error))?;
    let recorded = std::fs::canonicalize(dest).unwrap_or_else(|_| dest.to_path_buf());
    super::schedule::record_ok(&store.writer(), manifest.created_at, &recorded)?;
    Ok(manifest)
}

/// The manifest of the snapshot `db` is reading.
fn manifest(
    db: &Connection,
    identity: &Identity,
    clinic: &Clinic,
) -> Result<Manifest, BackupError> {
    let db_version = store::db_version(db)?;
    let mut rows = Vec::new();
    for table in schema::CLINIC.iter().flat_map(|m| m.track) {
        rows.push(TableRows {
            table: table.to_string(),
            rows: db.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })?,
        });
    }
    let mut st = db.prepare(
        "SELECT site_id, count(*), max(db_version) FROM crsql_changes GROUP BY site_id ORDER BY 3",
    )?;
    let sites = st
        .query_map([], |r| {
            Ok(SiteVersion {
                site_id: r.get(0)?,
                changes: r.get(1)?,
                db_version: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let device_name = roster::members(db)?
        .into_iter()
        .find(|m| m.id == identity.id)
        .map(|m| m.name)
        .filter(|n| !n.is_empty())
        .or_else(|| roster::local(db).0)
        .unwrap_or_default();
    Ok(Manifest {
        format: format::FORMAT,
        clinic_id: clinic.id.clone(),
        clinic_name: clinic.name.clone(),
        device_id: identity.id.to_text(),
        device_name,
        site_id: store::site_id(db)?,
        db_version,
        sites,
        rows,
        schema_version: store::current_version(db)?,
        created_at: crate::clinic::now(),
        app_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}
