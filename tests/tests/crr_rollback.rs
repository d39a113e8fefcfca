//! A merge that is rolled back (Cancel during a restore, a cut backup file, a full disk) must
//! leave the engine as if it never ran: later merges record each change under its own site,
//! and exports read them back, on both the batch path and the SQL path.

use carebook_tests::{apply, changes_since, export, insert_changes, memory_db, merge_batch};
use rusqlite::Connection;

const SCHEMA: &str = "CREATE TABLE t(id TEXT PRIMARY KEY NOT NULL, a); SELECT crsql_as_crr('t');";

fn replica() -> carebook_sync::store::CrrConnection {
    let db = memory_db();
    db.execute_batch(SCHEMA).unwrap();
    db
}

fn site(db: &Connection) -> Vec<u8> {
    db.query_row("SELECT crsql_site_id()", [], |r| r.get(0))
        .unwrap()
}

/// Which site each row's change is recorded under, by row id.
fn sites_by_row(db: &Connection) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = changes_since(db, 0)
        .into_iter()
        .map(|c| {
            let id: String = db
                .query_row(
                    "SELECT id FROM t WHERE crsql_pack_columns(id) = ?1",
                    [&c.pk],
                    |r| r.get(0),
                )
                .unwrap_or_default();
            (id, c.site_id)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_rolled_back_batch_merge_leaves_no_stale_site_behind() {
    let (s, u, target) = (replica(), replica(), replica());
    s.execute("INSERT INTO t VALUES ('from-s', 1)", []).unwrap();
    u.execute("INSERT INTO t VALUES ('from-u', 2)", []).unwrap();
    // The target starts merging S's changes, then the merge is cancelled.
    target.execute_batch("BEGIN").unwrap();
    merge_batch(&target, &export(&s, 0));
    target.execute_batch("ROLLBACK").unwrap();
    assert!(changes_since(&target, 0).is_empty(), "nothing stayed");
    // Later, U's changes arrive first, then S's again.
    merge_batch(&target, &export(&u, 0));
    merge_batch(&target, &export(&s, 0));
    let recorded = sites_by_row(&target);
    assert_eq!(
        recorded,
        [
            ("from-s".to_string(), site(&s)),
            ("from-u".to_string(), site(&u))
        ],
        "each change keeps its own site"
    );
    // And the target can pass them on.
    let onward = replica();
    merge_batch(&onward, &export(&target, 0));
    assert_eq!(sites_by_row(&onward), recorded);
}

#[test]
fn a_rolled_back_sql_merge_leaves_no_stale_site_behind() {
    let (s, target) = (replica(), replica());
    s.execute("INSERT INTO t VALUES ('from-s', 1)", []).unwrap();
    let changes = changes_since(&s, 0);
    target.execute_batch("BEGIN").unwrap();
    insert_changes(&target, &changes);
    target.execute_batch("ROLLBACK").unwrap();
    apply(&target, &changes);
    assert_eq!(sites_by_row(&target), [("from-s".to_string(), site(&s))]);
    // Its export reads back (a stale site would make it fail with a corrupt clock record).
    let batch: Vec<u8> = target
        .query_row("SELECT crsql_export_changes(0)", [], |r| r.get(0))
        .unwrap();
    assert!(!batch.is_empty());
}
