//! The Backups screen's work off the window's thread: reading what it shows, saving,
//! checking and merging backup files with the passphrase typed or remembered, and the
//! automatic backup when one is due.

use std::path::{Path, PathBuf};

use carebook_sync::backup::schedule;
use carebook_sync::backup::{self, Control, ImportOptions, Passphrase};
use carebook_sync::clinic::profile;
use carebook_sync::identity::Identity;
use carebook_sync::store::Store;

use super::{Loaded, Opened};
use crate::context::Folders;

/// Reads what the screen shows. Whether the passphrase is remembered may mean a keyring call
/// (even an unlock prompt), so it is asked only when `known` does not say it already.
pub(super) fn load(
    store: &Store,
    folders: &Folders,
    known: Option<Result<bool, String>>,
) -> Result<Loaded, String> {
    let db = store.reader().map_err(|e| e.to_string())?;
    let read = || -> Result<Loaded, Box<dyn std::error::Error>> {
        let remembered = match (known, Identity::existing_id(&folders.data)?) {
            (Some(known), _) => known,
            (None, None) => Ok(false),
            (None, Some(me)) => schedule::recall(&folders.data, &me)
                .map(|p| p.is_some())
                .map_err(|e| e.to_string()),
        };
        Ok(Loaded {
            schedule: schedule::load(&db)?,
            last: schedule::last(&db)?,
            remembered,
            clinic: profile::current(&db)?.map(|c| c.name),
        })
    };
    read().map_err(|e| e.to_string())
}

/// The passphrase to use: the one typed, else the one this computer remembers.
fn passphrase(typed: &str, folders: &Folders, me: &Identity) -> Result<Passphrase, String> {
    if !typed.is_empty() {
        return Passphrase::new(typed.to_string()).map_err(|e| e.to_string());
    }
    schedule::recall(&folders.data, &me.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "Type the clinic's backup passphrase first".to_string())
}

fn identity(folders: &Folders) -> Result<Identity, String> {
    Identity::load_or_create_with(&folders.data, folders.keyring).map_err(|e| e.to_string())
}

/// Remembers a passphrase that just proved right (it opened or made a backup), when this
/// computer had none yet.
fn remember_if_new(folders: &Folders, me: &Identity, typed: &str) {
    if typed.is_empty() || matches!(schedule::recall(&folders.data, &me.id), Ok(Some(_))) {
        return;
    }
    if let Ok(p) = Passphrase::new(typed.to_string()) {
        match schedule::remember(&folders.data, &me.id, &p, folders.keyring) {
            Ok(at) => tracing::info!("the backup passphrase is kept {at}"),
            Err(e) => tracing::warn!("could not remember the backup passphrase: {e}"),
        }
    }
}

/// Whether the person at the keyboard may make or restore backups (the library decides, from
/// the staff list as it is now; a computer being restored holds nobody yet).
pub(super) fn allowed(
    store: &Store,
    actor: Option<&carebook_sync::clinic::Actor>,
) -> Result<(), String> {
    use carebook_sync::clinic::access::{self, Permission};
    access::require_once_staffed(&store.writer(), actor, Permission::Backups)
        .map_err(|e| e.to_string())
}

pub(super) fn export(
    store: &Store,
    folders: &Folders,
    typed: &str,
    file: &Path,
    c: &Control,
) -> Result<String, String> {
    let me = identity(folders)?;
    let p = passphrase(typed, folders, &me)?;
    let m = backup::export(store, &me, &p, file, c)
        .map_err(|e| format!("The backup was not saved: {e}"))?;
    remember_if_new(folders, &me, typed);
    Ok(format!(
        "Saved a backup of {} patients to {}",
        m.rows_of("patients"),
        file.display()
    ))
}

/// Checks a backup file and says who signed it, before anything changes.
pub(super) fn verify(
    store: &Store,
    folders: &Folders,
    typed: &str,
    file: PathBuf,
    control: &Control,
) -> Result<Opened, String> {
    let me = identity(folders)?;
    let p = passphrase(typed, folders, &me)?;
    let reader = store.reader().map_err(|e| e.to_string())?;
    let report = backup::verify(&reader, &me.id, &file, &p, control)
        .map_err(|e| format!("{} was refused: {e}", file.display()))?;
    Ok(Opened { file, report })
}

/// Merges a checked backup in; says what changed.
pub(super) fn import(
    store: &Store,
    folders: &Folders,
    typed: &str,
    file: &Path,
    accept_signer: Option<carebook_sync::identity::DeviceId>,
    control: &Control,
) -> Result<String, String> {
    let me = identity(folders)?;
    let p = passphrase(typed, folders, &me)?;
    let options = ImportOptions {
        this_device: me.id,
        accept_signer,
    };
    let done = backup::import(store, file, &p, &options, control)
        .map_err(|e| format!("{} was not imported: {e}", file.display()))?;
    remember_if_new(folders, &me, typed);
    Ok(if done.db_version_after == done.db_version_before {
        "Nothing new: this computer already held everything in that backup.".to_string()
    } else {
        format!("Merged {} changes from the backup.", done.changes)
    })
}
