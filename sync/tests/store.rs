//! The store: file databases in WAL mode, migrations that keep tracked tables tracked,
//! held-back changes for columns that do not exist yet, and the stock sqlite3 shell.

use carebook_sync::store::{locate_engine, CrrConnection, Migration, Store, StoreError};

const V1: Migration = Migration {
    version: 1,
    sql: "CREATE TABLE visits(id TEXT PRIMARY KEY NOT NULL, note TEXT);",
    alters: &[],
    track: &["visits"],
};
const V2: Migration = Migration {
    version: 2,
    sql: "ALTER TABLE visits ADD COLUMN diagnosis TEXT NOT NULL DEFAULT '';",
    alters: &["visits"],
    track: &[],
};

fn changes_of(db: &rusqlite::Connection, cid: &str) -> Vec<(String, i64)> {
    let mut st = db
        .prepare(
            "SELECT quote(val), col_version FROM crsql_changes WHERE cid = ?1 ORDER BY db_version",
        )
        .unwrap();
    st.query_map([cid], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn migrations_keep_tracked_tables_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    {
        let store = Store::open(&path, &[V1]).unwrap();
        store
            .writer()
            .execute("INSERT INTO visits VALUES ('v1', 'cough')", [])
            .unwrap();
    }
    let store = Store::open(&path, &[V1, V2]).unwrap();
    let w = store.writer();
    let mode: String = w
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(carebook_sync::store::current_version(&w).unwrap(), 2);
    w.execute("UPDATE visits SET diagnosis = 'J20.9' WHERE id = 'v1'", [])
        .unwrap();
    w.execute("INSERT INTO visits VALUES ('v2', 'rash', 'L30.9')", [])
        .unwrap();
    assert_eq!(
        changes_of(&w, "diagnosis"),
        vec![("'J20.9'".to_string(), 1), ("'L30.9'".to_string(), 1)]
    );
    assert_eq!(
        changes_of(&w, "note").len(),
        2,
        "old columns keep their clocks"
    );
    // A reader sees committed data while the writer holds a transaction open.
    w.execute_batch("BEGIN; UPDATE visits SET note = 'draft' WHERE id = 'v1';")
        .unwrap();
    let r = store.reader().unwrap();
    let note: String = r
        .query_row("SELECT note FROM visits WHERE id = 'v1'", [], |x| x.get(0))
        .unwrap();
    assert_eq!(note, "cough");
    w.execute_batch("COMMIT").unwrap();
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    drop(Store::open(&path, &[V1, V2]).unwrap());
    let err = Store::open(&path, &[V1]).unwrap_err();
    assert!(
        matches!(err, StoreError::SchemaTooNew { found: 2, known: 1 }),
        "{err}"
    );
}

#[test]
fn changes_for_an_unknown_column_wait_for_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let newer = Store::open(&dir.path().join("a.db"), &[V1, V2]).unwrap();
    let older = Store::open(&dir.path().join("b.db"), &[V1]).unwrap();
    newer
        .writer()
        .execute("INSERT INTO visits VALUES ('v1', 'cough', 'J20.9')", [])
        .unwrap();
    let batch: Vec<u8> = newer
        .writer()
        .query_row("SELECT crsql_export_changes(0)", [], |r| r.get(0))
        .unwrap();
    let w = older.writer();
    w.query_row("SELECT crsql_merge_changes(?1)", [&batch], |_| Ok(()))
        .unwrap();
    let note: String = w
        .query_row("SELECT note FROM visits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(note, "cough", "known columns merge at once");
    let held: Vec<(String, String)> = w
        .prepare("SELECT cid, reason FROM crr_quarantine")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        held,
        vec![("diagnosis".to_string(), "unknown column".to_string())]
    );
    let shown = carebook_sync::net::roster::held_back(&w).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(
        shown[0].to_string(),
        "visits.diagnosis: 1 changes (unknown column)",
        "the Peers screen and `carebook peers` name what waits"
    );
    drop(w);
    drop(older);
    // The older computer upgrades: the held-back change applies.
    let older = Store::open(&dir.path().join("b.db"), &[V1, V2]).unwrap();
    let w = older.writer();
    let diagnosis: String = w
        .query_row("SELECT diagnosis FROM visits", [], |r| r.get(0))
        .unwrap();
    assert_eq!(diagnosis, "J20.9");
    let left: i64 = w
        .query_row("SELECT count(*) FROM crr_quarantine", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn refused_tables_are_named_with_the_reason() {
    let db = CrrConnection::open_in_memory().unwrap();
    let cases = [
        ("CREATE TABLE a(x TEXT, y TEXT)", "has no primary key"),
        (
            "CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, y)",
            "AUTOINCREMENT",
        ),
        (
            "CREATE TABLE a(id TEXT PRIMARY KEY NOT NULL, email TEXT UNIQUE)",
            "unique index",
        ),
        (
            "CREATE TABLE a(id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL)",
            "NOT NULL without a DEFAULT",
        ),
        ("CREATE TABLE a(id TEXT PRIMARY KEY, y)", "is not NOT NULL"),
    ];
    for (sql, why) in cases {
        db.execute_batch(&format!("DROP TABLE IF EXISTS a; {sql};"))
            .unwrap();
        let err = db
            .query_row("SELECT crsql_as_crr('a')", [], |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("table \"a\"") && err.contains(why),
            "{sql}: {err}"
        );
    }
    let err = db
        .query_row("SELECT crsql_as_crr('nope')", [], |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such table"), "{err}");
}

#[test]
fn bad_merges_get_clear_errors_and_change_nothing() {
    let db = CrrConnection::open_in_memory().unwrap();
    db.execute_batch("CREATE TABLE t(id TEXT PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('t');")
        .unwrap();
    let insert = "INSERT INTO crsql_changes VALUES (?1, ?2, ?3, 'x', 1, 1, ?4, 1, 0)";
    let good_pk = vec![1u8, 0x0B, 1, b'a'];
    let cases: [(rusqlite::types::Value, Vec<u8>, Vec<u8>, &str); 3] = [
        (
            "t".to_string().into(),
            vec![1u8, 0x0B],
            vec![1; 16],
            "malformed packed primary key",
        ),
        (
            "t".to_string().into(),
            good_pk.clone(),
            vec![1; 3],
            "site_id must be 16 bytes",
        ),
        (5i64.into(), good_pk, vec![1; 16], "table must be text"),
    ];
    for (table, pk, site, want) in cases {
        let err = db
            .execute(insert, rusqlite::params![table, pk, "v", site])
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{err}");
    }
    let err = db
        .query_row("SELECT crsql_merge_changes(x'01ff')", [], |_| Ok(()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("malformed change batch"), "{err}");
    let n: i64 = db
        .query_row("SELECT count(*) FROM crsql_changes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 0);
    let v: i64 = db
        .query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 0);
    db.execute("INSERT INTO t VALUES ('a', 1)", []).unwrap();
    let err = db
        .execute("DELETE FROM crsql_changes", [])
        .unwrap_err()
        .to_string();
    assert!(err.contains("accepts only INSERT"), "{err}");
}

/// An administrator's writes from a stock sqlite3 shell with the extension loaded are tracked
/// like the app's own.
#[test]
fn the_sqlite3_shell_loads_the_engine_and_its_writes_are_tracked() {
    let shell = which("sqlite3").expect("the sqlite3 shell is needed (apt-get install sqlite3)");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clinic.db");
    drop(Store::open(&path, &[V1]).unwrap());
    let lib = locate_engine().unwrap();
    let script = format!(
        ".load {}\nINSERT INTO visits VALUES ('v9', 'from the shell');\nSELECT crsql_finalize();\n",
        lib.with_extension("").display()
    );
    let mut child = std::process::Command::new(shell)
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&path, &[V1]).unwrap();
    assert_eq!(
        changes_of(&store.writer(), "note"),
        vec![("'from the shell'".to_string(), 1)]
    );
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
