//! Finding and loading the CRR engine library into a rusqlite connection.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::StoreError;

/// The entry point the engine exports (the `sqlite3` shell derives the same name).
pub const ENTRY_POINT: &str = "sqlite3_carebookcrr_init";

/// The engine's file name on this platform, e.g. `libcarebook_crr.so`.
pub fn file_name() -> String {
    format!(
        "{}carebook_crr{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Where the engine is looked for, in order: `$CAREBOOK_CRR_LIB`, where this very build made
/// it (so a test never picks up a stale copy), beside the executable, then an installed
/// layout's `../lib/carebook/`.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("CAREBOOK_CRR_LIB") {
        out.push(PathBuf::from(p));
    }
    if let Some(built) = option_env!("CAREBOOK_CRR_BUILT") {
        out.push(PathBuf::from(built));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        out.push(dir.join(file_name()));
        if let Some(up) = dir.parent() {
            out.push(up.join("lib").join("carebook").join(file_name()));
        }
    }
    out
}

/// The first candidate that exists.
pub fn locate() -> Result<PathBuf, StoreError> {
    let tried = candidates();
    tried
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| StoreError::EngineNotFound(tried))
}

/// Loads the engine into a connection.
pub fn load(conn: &Connection) -> Result<(), StoreError> {
    let path = locate()?;
    // SAFETY: the library is our own engine, found where our build or installer put it; no
    // other SQL runs while extension loading is enabled.
    unsafe {
        let _guard = rusqlite::LoadExtensionGuard::new(conn)?;
        conn.load_extension(&path, Some(ENTRY_POINT))
            .map_err(|e| StoreError::EngineLoad(path.clone(), e))?;
    }
    Ok(())
}
