//! `carebook status`: opens the local database and prints where it is and what it holds
//! (counts only: no patient data is ever printed).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use carebook_sync::store::{schema, Store};

/// The database file inside a data folder.
pub fn database_path(dir: &Path) -> std::path::PathBuf {
    dir.join("carebook.db")
}

pub fn run(dir: &Path, out: &mut impl Write) -> anyhow::Result<()> {
    let path = database_path(dir);
    let store = Store::open(&path, schema::CLINIC)
        .with_context(|| format!("opening the database {}", path.display()))?;
    let db = store.writer();
    let site = carebook_sync::store::site_id(&db)?;
    let version = carebook_sync::store::db_version(&db)?;
    let patients = carebook_sync::clinic::patients::count_active(&db)?;
    let schema: u32 = carebook_sync::store::current_version(&db)?;
    writeln!(out, "Carebook {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "database:       {}", path.display())?;
    writeln!(out, "schema version: {schema}")?;
    writeln!(
        out,
        "site id:        {}",
        site.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )?;
    writeln!(out, "db version:     {version}")?;
    writeln!(out, "patients:       {patients}")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_the_database_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        run(dir.path(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(database_path(dir.path()).is_file());
        let latest = schema::CLINIC.last().unwrap().version;
        assert!(
            text.contains(&format!("schema version: {latest}")),
            "{text}"
        );
        assert!(text.contains("patients:       0"), "{text}");
        // Opening again keeps the same site id: it belongs to the database file.
        let mut again = Vec::new();
        run(dir.path(), &mut again).unwrap();
        let site = |t: &str| {
            t.lines()
                .find(|l| l.starts_with("site id"))
                .unwrap()
                .to_string()
        };
        assert_eq!(site(&text), site(&String::from_utf8(again).unwrap()));
    }
}
