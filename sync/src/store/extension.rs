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
/// it (so a test never picks up a stale copy; only for programs that run from that build's
/// target folder, so an installed copy never depends on a build tree), beside the executable
/// (Windows), an installed layout's `../lib/carebook/` (Linux packages), then a macOS app
/// bundle's `../Resources/`.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("CAREBOOK_CRR_LIB") {
        out.push(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok();
    if let (Some(built), Some(exe)) = (option_env!("CAREBOOK_CRR_BUILT"), &exe) {
        let built = PathBuf::from(built);
        if in_build_tree(exe, &built) {
            out.push(built);
        }
    }
    if let Some(dir) = exe.as_deref().and_then(Path::parent) {
        out.push(dir.join(file_name()));
        if let Some(up) = dir.parent() {
            out.push(up.join("lib").join("carebook").join(file_name()));
            out.push(up.join("Resources").join(file_name()));
        }
    }
    out
}

/// Whether `exe` lives in the target folder that holds `built`
/// (`<target>/engine/release/<library>`).
fn in_build_tree(exe: &Path, built: &Path) -> bool {
    let Some(target) = built.ancestors().nth(3) else {
        return false;
    };
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canonical(exe).starts_with(canonical(target))
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
    tracing::debug!("loading the CRR engine from {}", path.display());
    // SAFETY: the library is our own engine, found where our build or installer put it; no
    // other SQL runs while extension loading is enabled.
    unsafe {
        let _guard = rusqlite::LoadExtensionGuard::new(conn)?;
        conn.load_extension(&path, Some(ENTRY_POINT))
            .map_err(|e| StoreError::EngineLoad(path.clone(), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_tree_engine_is_only_for_programs_in_that_build() {
        let built = Path::new("/src/carebook/target/engine/release").join(file_name());
        assert!(in_build_tree(
            Path::new("/src/carebook/target/debug/deps/carebook_sync-0123"),
            &built
        ));
        assert!(in_build_tree(
            Path::new("/src/carebook/target/debug/carebook"),
            &built
        ));
        assert!(!in_build_tree(Path::new("/usr/bin/carebook"), &built));
        assert!(!in_build_tree(
            Path::new("/src/carebook/other/carebook"),
            &built
        ));
        // This test runs from the build's target folder, so it finds this build's engine.
        let built = PathBuf::from(env!("CAREBOOK_CRR_BUILT"));
        assert!(candidates().contains(&built), "{:?}", candidates());
        if std::env::var_os("CAREBOOK_CRR_LIB").is_none() {
            assert_eq!(locate().unwrap(), built);
        }
    }
}
