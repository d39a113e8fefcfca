//! Property test: any number of replicas (2 to 5), random inserts, updates and deletes, random
//! partial exchanges in random order with duplicates, then a full exchange: every replica
//! holds identical rows and the same (table, pk, cid, val, col_version, cl) changes. Merges
//! that are rolled back (a cancelled restore, a cut file) are mixed in and must leave no trace.

use carebook_sync::store::CrrConnection;
use carebook_tests::{
    apply, change_set, changes_since, export, insert_changes, memory_db, merge_batch, rows,
    ChangeRow,
};
use proptest::prelude::*;
use rusqlite::types::Value;

const SCHEMA: &str = "
    CREATE TABLE t(id TEXT PRIMARY KEY NOT NULL, a, b, c);
    SELECT crsql_as_crr('t');
    CREATE TABLE k(x INTEGER NOT NULL, y TEXT NOT NULL, v, PRIMARY KEY (x, y));
    SELECT crsql_as_crr('k');";

#[derive(Debug, Clone)]
enum Op {
    Insert {
        site: usize,
        id: u8,
        vals: [Value; 3],
        replace: bool,
    },
    Update {
        site: usize,
        id: u8,
        col: usize,
        val: Value,
    },
    Delete {
        site: usize,
        id: u8,
    },
    KeyRow {
        site: usize,
        x: i64,
        y: u8,
        v: Value,
        delete: bool,
    },
    Exchange {
        from: usize,
        to: usize,
        picks: Vec<usize>,
        dup: bool,
    },
    /// The batch path: everything `from` has above a random db_version, merged twice if `dup`.
    Batch {
        from: usize,
        to: usize,
        since: u8,
        dup: bool,
    },
    /// A merge of everything `from` has that is rolled back (batch or SQL path).
    Aborted {
        from: usize,
        to: usize,
        sql: bool,
    },
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Integer),
        (-3i64..3).prop_map(Value::Integer),
        prop_oneof![
            Just(-0.0f64),
            Just(0.0f64),
            Just(1e-300f64),
            Just(-1e-300f64),
            Just(1.0f64),
            Just(1e300f64),
            Just(-123456.789f64),
            any::<f64>().prop_filter("SQLite has no NaN", |f| !f.is_nan()),
        ]
        .prop_map(Value::Real),
        "[a-c]{0,3}".prop_map(Value::Text),
        "\\PC{0,6}".prop_map(Value::Text),
        proptest::collection::vec(any::<u8>(), 0..4).prop_map(Value::Blob),
    ]
}

fn op(sites: usize) -> impl Strategy<Value = Op> {
    let site = 0..sites;
    prop_oneof![
        3 => (site.clone(), 0u8..4, [value(), value(), value()], any::<bool>())
            .prop_map(|(site, id, vals, replace)| Op::Insert { site, id, vals, replace }),
        4 => (site.clone(), 0u8..4, 0usize..3, value())
            .prop_map(|(site, id, col, val)| Op::Update { site, id, col, val }),
        1 => (site.clone(), 0u8..4).prop_map(|(site, id)| Op::Delete { site, id }),
        1 => (site.clone(), -1i64..2, 0u8..2, value(), any::<bool>())
            .prop_map(|(site, x, y, v, delete)| Op::KeyRow { site, x, y, v, delete }),
        3 => (site.clone(), site.clone(), proptest::collection::vec(0usize..64, 0..12), any::<bool>())
            .prop_map(|(from, to, picks, dup)| Op::Exchange { from, to, picks, dup }),
        2 => (site.clone(), site.clone(), any::<u8>(), any::<bool>())
            .prop_map(|(from, to, since, dup)| Op::Batch { from, to, since, dup }),
        1 => (site.clone(), site, any::<bool>())
            .prop_map(|(from, to, sql)| Op::Aborted { from, to, sql }),
    ]
}

fn scenario() -> impl Strategy<Value = (usize, Vec<Op>)> {
    (2usize..=5).prop_flat_map(|n| (Just(n), proptest::collection::vec(op(n), 1..40)))
}

fn run(db: &CrrConnection, sql: &str, params: &[&dyn rusqlite::ToSql]) {
    db.execute(sql, params)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn perform(dbs: &mut [CrrConnection], op: &Op) {
    match op {
        Op::Insert {
            site,
            id,
            vals,
            replace,
        } => {
            let verb = if *replace {
                "INSERT OR REPLACE"
            } else {
                "INSERT OR IGNORE"
            };
            let id = format!("r{id}");
            run(
                &dbs[*site],
                &format!("{verb} INTO t(id, a, b, c) VALUES (?1, ?2, ?3, ?4)"),
                &[&id, &vals[0], &vals[1], &vals[2]],
            );
        }
        Op::Update { site, id, col, val } => {
            let col = ["a", "b", "c"][*col];
            let id = format!("r{id}");
            run(
                &dbs[*site],
                &format!("UPDATE t SET {col} = ?1 WHERE id = ?2"),
                &[val, &id],
            );
        }
        Op::Delete { site, id } => {
            let id = format!("r{id}");
            run(&dbs[*site], "DELETE FROM t WHERE id = ?1", &[&id]);
        }
        Op::KeyRow {
            site,
            x,
            y,
            v,
            delete,
        } => {
            let y = format!("y{y}");
            if *delete {
                run(
                    &dbs[*site],
                    "DELETE FROM k WHERE x = ?1 AND y = ?2",
                    &[x, &y],
                );
            } else {
                run(
                    &dbs[*site],
                    "INSERT INTO k(x, y, v) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET v = excluded.v",
                    &[x, &y, v],
                );
            }
        }
        Op::Exchange {
            from,
            to,
            picks,
            dup,
        } => {
            if from == to {
                return;
            }
            let all = changes_since(&dbs[*from], 0);
            if all.is_empty() {
                return;
            }
            let mut batch: Vec<ChangeRow> =
                picks.iter().map(|p| all[p % all.len()].clone()).collect();
            if *dup {
                batch.extend(batch.clone());
            }
            apply(&dbs[*to], &batch);
        }
        Op::Batch {
            from,
            to,
            since,
            dup,
        } => {
            if from == to {
                return;
            }
            let top = carebook_tests::db_version(&dbs[*from]);
            let batch = export(&dbs[*from], i64::from(*since) % (top + 1));
            for _ in 0..(1 + usize::from(*dup)) {
                merge_batch(&dbs[*to], &batch);
            }
        }
        Op::Aborted { from, to, sql } => {
            if from == to {
                return;
            }
            let db = &dbs[*to];
            db.execute_batch("BEGIN").unwrap();
            if *sql {
                insert_changes(db, &changes_since(&dbs[*from], 0));
            } else {
                merge_batch(db, &export(&dbs[*from], 0));
            }
            db.execute_batch("ROLLBACK").unwrap();
        }
    }
}

fn full_exchange(dbs: &mut [CrrConnection]) {
    for i in 1..dbs.len() {
        let all = changes_since(&dbs[i], 0);
        apply(&dbs[0], &all);
    }
    let merged = changes_since(&dbs[0], 0);
    let batch = export(&dbs[0], 0);
    for (i, db) in dbs.iter_mut().enumerate().skip(1) {
        if i % 2 == 0 {
            merge_batch(db, &batch);
        } else {
            // Reverse order: arrival order must not matter.
            let mut rev = merged.clone();
            rev.reverse();
            apply(db, &rev);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(2000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn replicas_converge((n, ops) in scenario()) {
        let mut dbs: Vec<CrrConnection> = (0..n).map(|_| {
            let db = memory_db();
            db.execute_batch(SCHEMA).unwrap();
            db
        }).collect();
        for op in &ops {
            perform(&mut dbs, op);
        }
        full_exchange(&mut dbs);
        for (i, db) in dbs.iter().enumerate().skip(1) {
            prop_assert_eq!(rows(db, "t"), rows(&dbs[0], "t"), "rows of t, replica {} vs 0", i);
            prop_assert_eq!(rows(db, "k"), rows(&dbs[0], "k"), "rows of k, replica {} vs 0", i);
            prop_assert_eq!(change_set(db), change_set(&dbs[0]), "changes, replica {} vs 0", i);
        }
        // A second full exchange is a no-op everywhere.
        let versions: Vec<i64> = dbs.iter().map(|d| carebook_tests::db_version(d)).collect();
        full_exchange(&mut dbs);
        let after: Vec<i64> = dbs.iter().map(|d| carebook_tests::db_version(d)).collect();
        prop_assert_eq!(versions, after);
    }
}

#[test]
fn floats_keep_their_exact_bits_through_a_merge() {
    let a = memory_db();
    let b = memory_db();
    for db in [&a, &b] {
        db.execute_batch(SCHEMA).unwrap();
    }
    let vals = [-0.0f64, 1e-300, 0.1 + 0.2, -1.7976931348623157e308, 5e-324];
    for (i, f) in vals.iter().enumerate() {
        a.execute(
            "INSERT INTO t(id, a) VALUES (?1, ?2)",
            rusqlite::params![format!("f{i}"), f],
        )
        .unwrap();
    }
    carebook_tests::sync(&a, &b);
    let got: Vec<f64> = b
        .prepare("SELECT a FROM t ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let bits = |v: &[f64]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(&vals));
}
