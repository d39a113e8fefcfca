//! CRR engine benchmark: a clinic-shaped table (text primary key, 12 columns) as a CRR and as a
//! plain table, measured in one run; prints `BENCH <name> <value>` lines. Ratios compare the
//! two in the same run, so a noisy shared machine shifts both sides alike.
//!
//! `CRR_BENCH_ROWS` (default 10000) sets N, the rows per large transaction and of the size
//! measurements; `CRR_BENCH_TX1` (default 2000) the rows written one per transaction. With
//! `CAREBOOK_REF_CRSQLITE` naming the real cr-sqlite 0.16.3 library, the same workloads run on
//! it too and print as `ref_*` lines.

use std::ops::Deref;
use std::path::Path;
use std::time::{Duration, Instant};

use carebook_sync::clinic::demo::{self, Rng};
use carebook_sync::store::CrrConnection;
use rusqlite::{params, Connection};

const COLUMNS: &str =
    "id TEXT PRIMARY KEY NOT NULL, chart TEXT, given TEXT, family TEXT, dob TEXT, \
    sex TEXT, phone TEXT, email TEXT, address TEXT, emergency TEXT, allergies TEXT, notes TEXT, \
    updated_at INTEGER";
const INSERT: &str =
    "INSERT INTO patients VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
const REPLACE: &str =
    "INSERT OR REPLACE INTO patients VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
const UPDATE: &str = "UPDATE patients SET phone = ?2, updated_at = ?3 WHERE id = ?1";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn uuid(i: usize) -> String {
    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        h >> 32,
        (h >> 16) & 0xffff,
        h & 0xfff,
        (h >> 20) & 0xfff,
        h.rotate_left(17) & 0xffff_ffff_ffff
    )
}

type Patient = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
);

/// A made-up patient row (the demo generator's fields, with a bench-made id and chart number).
fn patient(i: usize, rng: &mut Rng) -> Patient {
    let f = demo::patient(rng);
    (
        uuid(i),
        format!("KX{i:06}"),
        f.given_name,
        f.family_name,
        f.date_of_birth,
        f.sex,
        f.phone,
        f.email,
        f.address,
        f.emergency_contact,
        f.allergies,
        f.notes,
        1_700_000_000 + i as i64,
    )
}

fn insert(db: &Connection, p: &Patient, sql: &str) {
    db.prepare_cached(sql)
        .unwrap()
        .execute(params![
            p.0, p.1, p.2, p.3, p.4, p.5, p.6, p.7, p.8, p.9, p.10, p.11, p.12
        ])
        .unwrap();
}

/// Which engine a database runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Plain,
    Ours,
    Ref,
}

/// A benchmark database: ours through the store's connection (same pragmas for the plain
/// table), the reference with the same pragmas and cr-sqlite loaded.
enum Db {
    Ours(CrrConnection),
    Ref(Connection),
}

impl Deref for Db {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Db::Ours(c) => c,
            Db::Ref(c) => c,
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Db::Ref(c) = self {
            let _ = c.query_row("SELECT crsql_finalize()", [], |_| Ok(()));
        }
    }
}

/// A fresh database file with the patients table (tracked unless plain).
fn fresh(dir: &Path, kind: Kind) -> Db {
    let path = dir.join(format!("{kind:?}.db"));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let db = match kind {
        Kind::Plain | Kind::Ours => Db::Ours(CrrConnection::open(&path, false).unwrap()),
        Kind::Ref => {
            let c = Connection::open(&path).unwrap();
            c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768;")
                .unwrap();
            let lib = std::env::var_os("CAREBOOK_REF_CRSQLITE").expect("reference library");
            // SAFETY: the reference cr-sqlite build, loaded only by this benchmark.
            unsafe {
                let _g = rusqlite::LoadExtensionGuard::new(&c).unwrap();
                c.load_extension(lib, Some("sqlite3_crsqlite_init"))
                    .unwrap();
            }
            Db::Ref(c)
        }
    };
    db.execute_batch(&format!("CREATE TABLE patients({COLUMNS});"))
        .unwrap();
    if kind != Kind::Plain {
        db.query_row("SELECT crsql_as_crr('patients')", [], |_| Ok(()))
            .unwrap();
    }
    db
}

fn timed(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

/// Best of `rounds` timings of `work` on a fresh database of each kind (after `setup`),
/// alternating kinds so that noise hits them alike.
fn best(
    dir: &Path,
    kinds: &[Kind],
    rounds: usize,
    setup: impl Fn(&Db),
    work: impl Fn(&Db),
) -> Vec<Duration> {
    let mut best = vec![Duration::MAX; kinds.len()];
    for _ in 0..rounds {
        for (i, k) in kinds.iter().enumerate() {
            let db = fresh(dir, *k);
            setup(&db);
            best[i] = best[i].min(timed(|| work(&db)));
        }
    }
    best
}

fn fill(db: &Connection, n: usize, per_tx: usize) {
    let mut rng = Rng::new(42);
    for chunk in (0..n).collect::<Vec<_>>().chunks(per_tx) {
        db.execute_batch("BEGIN").unwrap();
        for &i in chunk {
            insert(db, &patient(i, &mut rng), INSERT);
        }
        db.execute_batch("COMMIT").unwrap();
    }
}

fn update_all(db: &Connection, n: usize, per_tx: usize, round: i64) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(per_tx) {
        db.execute_batch("BEGIN").unwrap();
        for &i in chunk {
            db.prepare_cached(UPDATE)
                .unwrap()
                .execute(params![
                    uuid(i),
                    format!("+1 555 {:07}", (i as i64 * 7 + round) % 10_000_000),
                    round
                ])
                .unwrap();
        }
        db.execute_batch("COMMIT").unwrap();
    }
}

/// Prints ours/plain (and ref/plain) for timings taken as [plain, ours, ref?].
fn ratios(name: &str, t: &[Duration]) {
    println!(
        "BENCH {name} {:.3}",
        t[1].as_secs_f64() / t[0].as_secs_f64()
    );
    if let Some(r) = t.get(2) {
        println!(
            "BENCH ref_{name} {:.3}",
            r.as_secs_f64() / t[0].as_secs_f64()
        );
    }
}

/// Bytes (dbstat pages) per row of the base table with its key index, and of the engine's
/// clock tables and indexes.
fn sizes(db: &Connection, rows: usize) -> (f64, f64) {
    let mut st = db
        .prepare("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        .unwrap();
    let (mut data, mut meta) = (0i64, 0i64);
    for r in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (name, bytes) = r.unwrap();
        if name == "patients" || name.starts_with("sqlite_autoindex_patients") {
            data += bytes;
        } else if name.starts_with("patients__cr") {
            meta += bytes;
        }
    }
    (data as f64 / rows as f64, meta as f64 / rows as f64)
}

const CHANGES: &str = "SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq \
    FROM crsql_changes WHERE db_version > 0";

fn read_changes(db: &Connection) -> Vec<Vec<rusqlite::types::Value>> {
    let mut st = db.prepare(CHANGES).unwrap();
    st.query_map([], |r| (0..9).map(|i| r.get(i)).collect())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn merge_sql(target: &Connection, changes: &[Vec<rusqlite::types::Value>]) {
    for chunk in changes.chunks(10_000) {
        target.execute_batch("BEGIN").unwrap();
        let mut st = target
            .prepare_cached("INSERT INTO crsql_changes VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
            .unwrap();
        for c in chunk {
            st.execute(rusqlite::params_from_iter(c.iter())).unwrap();
        }
        target.execute_batch("COMMIT").unwrap();
    }
}

fn count(db: &Connection) -> usize {
    db.query_row("SELECT count(*) FROM patients", [], |r| r.get::<_, i64>(0))
        .unwrap() as usize
}

fn main() {
    let n = env_usize("CRR_BENCH_ROWS", 10_000);
    let k = env_usize("CRR_BENCH_TX1", 2_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut kinds = vec![Kind::Plain, Kind::Ours];
    if std::env::var_os("CAREBOOK_REF_CRSQLITE").is_some() {
        kinds.push(Kind::Ref);
    }
    let none = |_: &Db| {};

    ratios(
        "insert_ratio_tx1",
        &best(dir, &kinds, 3, none, |db| fill(db, k, 1)),
    );
    ratios(
        "update_ratio_tx1",
        &best(
            dir,
            &kinds,
            3,
            |db| fill(db, k, k),
            |db| update_all(db, k, 1, 1),
        ),
    );
    ratios(
        "insert_ratio_tx10k",
        &best(dir, &kinds, 3, none, |db| fill(db, n, 10_000)),
    );
    ratios(
        "update_ratio_tx10k",
        &best(
            dir,
            &kinds,
            3,
            |db| fill(db, n, 10_000),
            |db| update_all(db, n, 10_000, 1),
        ),
    );

    // N rows in each kind of database, for reads, changes, merges and sizes.
    let dbs: Vec<Db> = kinds
        .iter()
        .map(|k| {
            let db = fresh(dir, *k);
            fill(&db, n, 10_000);
            db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
            db
        })
        .collect();
    let read = |db: &Connection| {
        let mut st = db.prepare_cached("SELECT * FROM patients").unwrap();
        let mut rows = st.query([]).unwrap();
        let mut total = 0usize;
        while let Some(r) = rows.next().unwrap() {
            total += r.get_ref(1).unwrap().as_str().unwrap().len();
        }
        assert!(total > 0);
    };
    let mut reads = vec![Duration::MAX; dbs.len()];
    for _ in 0..5 {
        for (i, db) in dbs.iter().enumerate() {
            reads[i] = reads[i].min(timed(|| read(db)));
        }
    }
    ratios("read_ratio", &reads);

    let t = Instant::now();
    let changes = read_changes(&dbs[1]);
    println!(
        "BENCH changes_read_per_s {:.0}",
        changes.len() as f64 / t.elapsed().as_secs_f64()
    );
    let mut batches = Vec::new();
    let mut since = 0i64;
    loop {
        let b: Vec<u8> = dbs[1]
            .query_row(
                "SELECT crsql_export_changes(?1, NULL, 10000)",
                [since],
                |r| r.get(0),
            )
            .unwrap();
        if b.len() <= 2 {
            break;
        }
        since = dbs[1]
            .query_row("SELECT crsql_batch_db_version(?1)", [&b], |r| r.get(0))
            .unwrap();
        batches.push(b);
    }
    let wire: usize = batches.iter().map(Vec::len).sum();
    println!(
        "BENCH batch_bytes_per_change {:.1}",
        wire as f64 / changes.len() as f64
    );

    let mut rng = Rng::new(42);
    let rows: Vec<Patient> = (0..n).map(|i| patient(i, &mut rng)).collect();
    let replace = best(dir, &[Kind::Plain], 3, none, |db| {
        for chunk in rows.chunks(10_000 / 12) {
            db.execute_batch("BEGIN").unwrap();
            for p in chunk {
                insert(db, p, REPLACE);
            }
            db.execute_batch("COMMIT").unwrap();
        }
    })[0];
    let batch = best(dir, &[Kind::Ours], 3, none, |db| {
        for b in &batches {
            db.execute_batch("BEGIN").unwrap();
            db.query_row("SELECT crsql_merge_changes(?1)", [b], |_| Ok(()))
                .unwrap();
            db.execute_batch("COMMIT").unwrap();
        }
        assert_eq!(count(db), n);
    })[0];
    let sql = best(dir, &[Kind::Ours], 3, none, |db| {
        merge_sql(db, &changes);
        assert_eq!(count(db), n);
    })[0];
    let per_s = |d: Duration, c: usize| c as f64 / d.as_secs_f64();
    // Each merge path against INSERT OR REPLACE of the same rows, and its changes per second.
    let merge_lines = |prefix: &str, took: Duration, count: usize| {
        let ratio = took.as_secs_f64() / replace.as_secs_f64();
        println!("BENCH {prefix}_vs_replace {ratio:.3}");
        println!("BENCH {prefix}_changes_per_s {:.0}", per_s(took, count));
    };
    merge_lines("merge", batch, changes.len());
    merge_lines("merge_sql", sql, changes.len());
    if kinds.contains(&Kind::Ref) {
        let theirs = read_changes(&dbs[2]);
        let t = best(dir, &[Kind::Ref], 1, none, |db| {
            merge_sql(db, &theirs);
            assert_eq!(count(db), n);
        })[0];
        merge_lines("ref_merge", t, theirs.len());
    }

    for (i, db) in dbs.iter().enumerate().skip(1) {
        let prefix = if kinds[i] == Kind::Ref { "ref_" } else { "" };
        let (data, meta) = sizes(db, n);
        println!("BENCH {prefix}data_bytes_per_row_after_inserts {data:.1}");
        println!("BENCH {prefix}meta_bytes_per_row_after_inserts {meta:.1}");
        for round in 1..=10 {
            update_all(db, n, 10_000, round);
        }
        db.execute_batch("VACUUM").unwrap();
        let (data, meta) = sizes(db, n);
        println!("BENCH {prefix}data_bytes_per_row {data:.1}");
        println!("BENCH {prefix}meta_bytes_per_row {meta:.1}");
    }
}
