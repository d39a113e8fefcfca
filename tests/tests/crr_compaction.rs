//! Tombstone compaction: deleted rows' clocks below a version every peer acknowledged are
//! forgotten, the db_version never moves back, and exchanging with a peer that saw the
//! deletions brings nothing back.

use carebook_tests::{change_set, db_version, memory_db, rows, sync};

const SCHEMA: &str = "CREATE TABLE t(id TEXT PRIMARY KEY NOT NULL, v); SELECT crsql_as_crr('t');";

fn tombstones(db: &rusqlite::Connection) -> i64 {
    db.query_row(
        "SELECT count(*) FROM crsql_changes WHERE cid = '-1' AND cl % 2 = 0",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn compaction_forgets_old_deletions_without_bringing_rows_back() {
    let a = memory_db();
    let b = memory_db();
    for db in [&a, &b] {
        db.execute_batch(SCHEMA).unwrap();
    }
    for i in 0..10 {
        a.execute(
            "INSERT INTO t VALUES (?1, ?2)",
            rusqlite::params![format!("r{i}"), i],
        )
        .unwrap();
    }
    a.execute_batch("DELETE FROM t WHERE v < 5").unwrap();
    sync(&a, &b);
    assert_eq!(tombstones(&a), 5);
    // A newer deletion, after the point every peer acknowledged.
    let acknowledged = db_version(&a);
    a.execute_batch("DELETE FROM t WHERE id = 'r9'").unwrap();
    let before = db_version(&a);

    let removed: i64 = a
        .query_row(
            "SELECT crsql_compact_tombstones(?1)",
            [acknowledged + 1],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        removed, 5,
        "only deletions at or below the acknowledged version"
    );
    assert_eq!(tombstones(&a), 1, "the newer deletion is kept");
    assert_eq!(db_version(&a), before, "the clock does not move back");
    a.execute("INSERT INTO t VALUES ('new', 1)", []).unwrap();
    assert_eq!(
        db_version(&a),
        before + 1,
        "and no version is handed out twice"
    );

    // B, which saw the deletions, exchanges everything both ways: nothing comes back.
    sync(&b, &a);
    sync(&a, &b);
    assert_eq!(rows(&a, "t"), rows(&b, "t"));
    assert_eq!(rows(&a, "t").len(), 5, "r5..r8 and new");
    assert_eq!(change_set(&a), change_set(&b));

    // Compacting everything still keeps the clock where it was.
    let top = db_version(&a);
    a.query_row("SELECT crsql_compact_tombstones(?1)", [top + 1], |_| Ok(()))
        .unwrap();
    a.execute_batch("DELETE FROM t").unwrap();
    a.query_row(
        "SELECT crsql_compact_tombstones(?1)",
        [i64::MAX],
        |_| Ok(()),
    )
    .unwrap();
    assert!(db_version(&a) > top);
}
