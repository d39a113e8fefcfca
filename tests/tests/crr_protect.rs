//! Rules a table keeps against merged changes (`crsql_protect`), and changes no honest
//! computer can make: each is held back with its reason while the rest of the batch merges,
//! and every computer holding the rule ends with the same rows.

use carebook_tests::{apply, changes_since, export, memory_db, merge_batch, rows, ChangeRow};
use rusqlite::Connection;

const SCHEMA: &str = "
    CREATE TABLE log(id TEXT PRIMARY KEY NOT NULL, what TEXT NOT NULL DEFAULT '');
    SELECT crsql_as_crr('log');
    CREATE TABLE kept(id TEXT PRIMARY KEY NOT NULL, v);
    SELECT crsql_as_crr('kept');
    CREATE TABLE free(id TEXT PRIMARY KEY NOT NULL, v);
    SELECT crsql_as_crr('free');";

fn replica(protected: bool) -> carebook_sync::store::CrrConnection {
    let db = memory_db();
    db.execute_batch(SCHEMA).unwrap();
    if protected {
        db.execute_batch(
            "SELECT crsql_protect('log', 'append-only'); SELECT crsql_protect('kept', 'keep-rows');",
        )
        .unwrap();
    }
    db
}

fn held_back(db: &Connection) -> Vec<(String, String)> {
    let mut st = db
        .prepare("SELECT \"table\", reason FROM crr_quarantine ORDER BY 1, 2")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn merged_changes_that_break_a_table_s_rule_are_held_back_and_the_rest_merges() {
    // A tampered computer (no rules of its own) writes, then rewrites and deletes.
    let bad = replica(false);
    bad.execute_batch(
        "INSERT INTO log VALUES ('l1', 'created');
         INSERT INTO kept VALUES ('k1', 1);
         INSERT INTO free VALUES ('f1', 1);",
    )
    .unwrap();
    let first = export(&bad, 0);
    let original = changes_since(&bad, 0);
    let good = replica(true);
    merge_batch(&good, &first);
    let since = carebook_tests::db_version(&bad);
    bad.execute_batch(
        "UPDATE log SET what = 'rewritten' WHERE id = 'l1';
         DELETE FROM kept WHERE id = 'k1';
         UPDATE kept SET v = 2;
         DELETE FROM free WHERE id = 'f1';
         INSERT INTO log VALUES ('l2', 'another');",
    )
    .unwrap();
    // Both merge paths: the batch path here, the SQL path on a second computer.
    merge_batch(&good, &export(&bad, since));
    assert_eq!(
        rows(&good, "log"),
        [
            vec!["t\"l1\"", "t\"created\""],
            vec!["t\"l2\"", "t\"another\""]
        ]
    );
    assert_eq!(
        rows(&good, "kept"),
        [vec!["t\"k1\"", "i1"]],
        "the row stays"
    );
    assert!(
        rows(&good, "free").is_empty(),
        "an unprotected delete merges"
    );
    assert_eq!(
        held_back(&good),
        [
            (
                "kept".to_string(),
                "rows of this table are never deleted".to_string()
            ),
            (
                "log".to_string(),
                "this table is append-only: a value once written never changes".to_string()
            ),
        ]
    );
    // Every computer had the original from its author; the rewrite is refused alike.
    let other = replica(true);
    apply(&other, &original);
    apply(&other, &changes_since(&bad, since));
    for t in ["log", "kept", "free"] {
        assert_eq!(rows(&other, t), rows(&good, t), "table {t}");
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// A batch of one change of table `free`'s column `v` to a text, as a peer would send it
/// (the layout in sync/crr/src/batch.rs), with any clock.
fn forged(pk: &[u8], text: &str, site: &[u8], col_version: i64) -> Vec<u8> {
    let mut b = vec![1];
    varint(&mut b, 1);
    b.push(1);
    varint(&mut b, 0);
    bytes(&mut b, b"free");
    varint(&mut b, 0);
    bytes(&mut b, b"v");
    varint(&mut b, 0);
    b.extend_from_slice(site);
    bytes(&mut b, pk);
    b.push(3);
    bytes(&mut b, text.as_bytes());
    for n in [col_version, 1, 1, 0] {
        varint(&mut b, n as u64);
    }
    b
}

#[test]
fn impossible_changes_in_a_batch_are_held_back_without_failing_it() {
    let a = replica(false);
    a.execute("INSERT INTO free VALUES ('f1', 'fine')", [])
        .unwrap();
    let honest = changes_since(&a, 0);
    let (pk, site) = (honest[0].pk.clone(), honest[0].site_id.clone());
    let b = replica(false);
    // From a peer: held back with the reason, and the batch's other changes merge.
    merge_batch(&b, &forged(&pk, "locked for ever", &site, i64::MAX));
    merge_batch(&b, &forged(&[1, 0x0B], "a cut key", &site, 1));
    merge_batch(&b, &export(&a, 0));
    assert_eq!(rows(&b, "free"), [vec!["t\"f1\"", "t\"fine\""]]);
    let reasons: Vec<String> = held_back(&b).into_iter().map(|(_, r)| r).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(
        reasons[0],
        "an impossible clock (far beyond any real count of edits)"
    );
    assert!(
        reasons[1].contains("malformed packed primary key"),
        "{reasons:?}"
    );
    // Inserted on its own through SQL: refused with the reason.
    let forged_row = ChangeRow {
        col_version: i64::MAX,
        ..honest[0].clone()
    };
    let err = std::panic::catch_unwind(|| apply(&replica(false), &[forged_row]));
    assert!(err.is_err(), "refused");
    // A later honest edit still wins (nothing locked the value).
    a.execute("UPDATE free SET v = 'edited'", []).unwrap();
    merge_batch(&b, &export(&a, 0));
    assert_eq!(rows(&b, "free"), [vec!["t\"f1\"", "t\"edited\""]]);
}

#[test]
fn a_rule_must_name_a_tracked_table_and_a_known_rule() {
    let db = replica(false);
    let e = db
        .execute_batch("SELECT crsql_protect('log', 'read-only')")
        .unwrap_err();
    assert!(e.to_string().contains("is not a rule"), "{e}");
    let e = db
        .execute_batch("SELECT crsql_protect('nowhere', 'keep-rows')")
        .unwrap_err();
    assert!(e.to_string().contains("not tracked"), "{e}");
}
