//! CRR engine benchmark: a clinic-shaped table (text primary key, 12 columns) as a CRR and as a
//! plain table, measured in one run; prints `BENCH <name> <value>` lines. Ratios compare the
//! two in the same run, so a noisy shared machine shifts both sides alike.
//!
//! `CRR_BENCH_ROWS` (default 10000) sets N, the rows per large transaction and of the size
//! measurements; `CRR_BENCH_TX1` (default 2000) the rows written one per transaction.

use std::path::Path;
use std::time::{Duration, Instant};

use carebook_sync::store::CrrConnection;
use rusqlite::params;

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

/// A deterministic stream of pseudo-random numbers (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
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

fn patient(i: usize, rng: &mut Rng) -> Patient {
    let given = rng.pick(&[
        "Amina", "Björn", "Chloé", "Dmitri", "Eun-ji", "Farid", "Grace", "Hiroshi", "Ines", "José",
    ]);
    let family = rng.pick(&[
        "Okafor",
        "Lindqvist",
        "Dubois",
        "Ivanov",
        "Kim",
        "Haddad",
        "Murphy",
        "Tanaka",
        "García",
        "Silva",
    ]);
    (
        uuid(i),
        format!("KX{:06}", i),
        given.into(),
        family.into(),
        format!(
            "19{:02}-{:02}-{:02}",
            rng.next() % 100,
            rng.next() % 12 + 1,
            rng.next() % 28 + 1
        ),
        rng.pick(&["F", "M", "X"]).into(),
        format!("+1 555 {:07}", rng.next() % 10_000_000),
        format!(
            "{}.{}@example.org",
            given.to_lowercase(),
            family.to_lowercase()
        ),
        format!("{} Elm Street, Springfield", rng.next() % 999),
        format!(
            "{} {} +1 555 {:07}",
            rng.pick(&["Sam", "Alex", "Kai"]),
            family,
            rng.next() % 10_000_000
        ),
        rng.pick(&["", "penicillin", "latex", "peanuts"]).into(),
        rng.pick(&[
            "",
            "prefers mornings",
            "hard of hearing; speak clearly",
            "interpreter: Arabic",
        ])
        .into(),
        1_700_000_000 + i as i64,
    )
}

fn insert(db: &rusqlite::Connection, p: &Patient, sql: &str) {
    db.prepare_cached(sql)
        .unwrap()
        .execute(params![
            p.0, p.1, p.2, p.3, p.4, p.5, p.6, p.7, p.8, p.9, p.10, p.11, p.12
        ])
        .unwrap();
}

/// A fresh database file with the engine loaded and the patients table (a CRR or not).
fn fresh(dir: &Path, name: &str, crr: bool) -> CrrConnection {
    let path = dir.join(name);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let db = CrrConnection::open(&path, false).unwrap();
    db.execute_batch(&format!("CREATE TABLE patients({COLUMNS});"))
        .unwrap();
    if crr {
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

/// Best of `rounds` runs of `f` on a fresh plain and a fresh CRR database, alternating.
fn compare(dir: &Path, rounds: usize, f: impl Fn(&CrrConnection)) -> (Duration, Duration) {
    let (mut plain, mut crr) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let db = fresh(dir, "plain.db", false);
        plain = plain.min(timed(|| f(&db)));
        let db = fresh(dir, "crr.db", true);
        crr = crr.min(timed(|| f(&db)));
    }
    (plain, crr)
}

fn fill(db: &CrrConnection, n: usize, per_tx: usize) {
    let mut rng = Rng(42);
    for chunk in (0..n).collect::<Vec<_>>().chunks(per_tx) {
        db.execute_batch("BEGIN").unwrap();
        for &i in chunk {
            insert(db, &patient(i, &mut rng), INSERT);
        }
        db.execute_batch("COMMIT").unwrap();
    }
}

fn update_all(db: &CrrConnection, n: usize, per_tx: usize, round: i64) {
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

fn ratio(name: &str, (plain, crr): (Duration, Duration)) {
    println!(
        "BENCH {name} {:.3}",
        crr.as_secs_f64() / plain.as_secs_f64()
    );
}

/// Bytes (dbstat pages) of the base table and its key index, and of the engine's metadata.
fn sizes(db: &CrrConnection, rows: usize) -> (f64, f64) {
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
        } else if name.starts_with("patients__crr") {
            meta += bytes;
        }
    }
    (data as f64 / rows as f64, meta as f64 / rows as f64)
}

fn main() {
    let n = env_usize("CRR_BENCH_ROWS", 10_000);
    let k = env_usize("CRR_BENCH_TX1", 2_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    ratio("insert_ratio_tx1", compare(dir, 3, |db| fill(db, k, 1)));
    ratio(
        "update_ratio_tx1",
        compare(dir, 3, |db| {
            fill(db, k, k);
            update_all(db, k, 1, 1)
        }),
    );
    ratio(
        "insert_ratio_tx10k",
        compare(dir, 3, |db| fill(db, n, 10_000)),
    );
    let (plain_u, crr_u) = {
        let (mut p, mut c) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let db = fresh(dir, "plain.db", false);
            fill(&db, n, 10_000);
            p = p.min(timed(|| update_all(&db, n, 10_000, 1)));
            let db = fresh(dir, "crr.db", true);
            fill(&db, n, 10_000);
            c = c.min(timed(|| update_all(&db, n, 10_000, 1)));
        }
        (p, c)
    };
    ratio("update_ratio_tx10k", (plain_u, crr_u));

    // Reads, changes and merges on N rows.
    let plain = fresh(dir, "plain.db", false);
    fill(&plain, n, 10_000);
    let crr = fresh(dir, "crr.db", true);
    fill(&crr, n, 10_000);
    for db in [&plain, &crr] {
        db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    }
    let read = |db: &CrrConnection| {
        let mut st = db.prepare_cached("SELECT * FROM patients").unwrap();
        let mut rows = st.query([]).unwrap();
        let mut count = 0usize;
        while let Some(r) = rows.next().unwrap() {
            count += r.get_ref(1).unwrap().as_str().unwrap().len();
        }
        count
    };
    let (mut rp, mut rc) = (Duration::MAX, Duration::MAX);
    for _ in 0..5 {
        rp = rp.min(timed(|| {
            read(&plain);
        }));
        rc = rc.min(timed(|| {
            read(&crr);
        }));
    }
    ratio("read_ratio", (rp, rc));

    let changes: Vec<Vec<rusqlite::types::Value>> = {
        let t = Instant::now();
        let mut st = crr
            .prepare("SELECT \"table\", pk, cid, val, col_version, db_version, site_id, cl, seq FROM crsql_changes WHERE db_version > 0")
            .unwrap();
        let all: Vec<Vec<rusqlite::types::Value>> = st
            .query_map([], |r| (0..9).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        println!(
            "BENCH changes_read_per_s {:.0}",
            all.len() as f64 / t.elapsed().as_secs_f64()
        );
        all
    };
    let batches: Vec<Vec<u8>> = {
        let mut out = Vec::new();
        let mut since = 0i64;
        loop {
            let b: Vec<u8> = crr
                .query_row(
                    "SELECT crsql_export_changes(?1, NULL, 10000)",
                    [since],
                    |r| r.get(0),
                )
                .unwrap();
            if b.len() <= 2 {
                break;
            }
            since = crr.query_row(
                "SELECT max(db_version) FROM (SELECT db_version FROM crsql_changes WHERE db_version > ?1 ORDER BY db_version, seq LIMIT 10000)",
                [since],
                |r| r.get(0),
            ).unwrap();
            out.push(b);
        }
        out
    };
    let wire: usize = batches.iter().map(Vec::len).sum();
    println!(
        "BENCH batch_bytes_per_change {:.1}",
        wire as f64 / changes.len() as f64
    );
    let (mut merge_t, mut sql_t, mut replace_t) = (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let target = fresh(dir, "batch.db", true);
        merge_t = merge_t.min(timed(|| {
            for b in &batches {
                target.execute_batch("BEGIN").unwrap();
                target
                    .query_row("SELECT crsql_merge_changes(?1)", [b], |_| Ok(()))
                    .unwrap();
                target.execute_batch("COMMIT").unwrap();
            }
        }));
        assert_eq!(
            target
                .query_row("SELECT count(*) FROM patients", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            n as i64
        );
        let target = fresh(dir, "merge.db", true);
        sql_t = sql_t.min(timed(|| {
            for chunk in changes.chunks(10_000) {
                target.execute_batch("BEGIN").unwrap();
                let mut st = target
                    .prepare_cached(
                        "INSERT INTO crsql_changes VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )
                    .unwrap();
                for c in chunk {
                    st.execute(rusqlite::params_from_iter(c.iter())).unwrap();
                }
                target.execute_batch("COMMIT").unwrap();
            }
        }));
        assert_eq!(
            target
                .query_row("SELECT count(*) FROM patients", [], |r| r.get::<_, i64>(0))
                .unwrap(),
            n as i64
        );
        let target = fresh(dir, "replace.db", false);
        let mut rng = Rng(42);
        let rows: Vec<Patient> = (0..n).map(|i| patient(i, &mut rng)).collect();
        replace_t = replace_t.min(timed(|| {
            for chunk in rows.chunks(10_000 / 12) {
                target.execute_batch("BEGIN").unwrap();
                for p in chunk {
                    insert(&target, p, REPLACE);
                }
                target.execute_batch("COMMIT").unwrap();
            }
        }));
    }
    println!(
        "BENCH merge_vs_replace {:.3}",
        merge_t.as_secs_f64() / replace_t.as_secs_f64()
    );
    println!(
        "BENCH merge_changes_per_s {:.0}",
        changes.len() as f64 / merge_t.as_secs_f64()
    );
    println!(
        "BENCH merge_sql_vs_replace {:.3}",
        sql_t.as_secs_f64() / replace_t.as_secs_f64()
    );
    println!(
        "BENCH merge_sql_changes_per_s {:.0}",
        changes.len() as f64 / sql_t.as_secs_f64()
    );

    let (data, meta) = sizes(&crr, n);
    println!("BENCH data_bytes_per_row_after_inserts {data:.1}");
    println!("BENCH meta_bytes_per_row_after_inserts {meta:.1}");
    for round in 1..=10 {
        update_all(&crr, n, 10_000, round);
    }
    crr.execute_batch("VACUUM").unwrap();
    let (data, meta) = sizes(&crr, n);
    println!("BENCH data_bytes_per_row {data:.1}");
    println!("BENCH meta_bytes_per_row {meta:.1}");
}
