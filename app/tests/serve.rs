//! End to end with separate processes: three `carebook serve` nodes on 127.0.0.1, paired with
//! `carebook pair` / `carebook accept`, writes made by another program noticed and replicated,
//! a node killed with SIGKILL (also in the middle of a large catch-up) and restarted, and every
//! copy converging.

mod common;

use common::{carebook, eventually, Serve};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use carebook_sync::clinic::demo;
use carebook_sync::store::{schema, CrrConnection, Store};

/// Another program writing to a node's database (as a script or the sqlite3 shell would).
fn write(dir: &Path, id: &str, family: &str) {
    let db = CrrConnection::open(&dir.join("carebook.db"), false).unwrap();
    db.execute(
        "INSERT INTO patients(id, family_name, date_of_birth) VALUES (?1, ?2, '1980-01-01')
         ON CONFLICT(id) DO UPDATE SET family_name = excluded.family_name",
        [id, family],
    )
    .unwrap();
}

fn read(dir: &Path, sql: &str) -> String {
    let db = CrrConnection::open(&dir.join("carebook.db"), true).unwrap();
    db.query_row(sql, [], |r| r.get::<_, rusqlite::types::Value>(0))
        .map(|v| format!("{v:?}"))
        .unwrap_or_default()
}

fn pair(joiner: &Serve, host: &Serve) {
    let (code, out, _) = carebook(&joiner.dir, &["pair", &host.addr, "--id", &host.id]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("carebook accept"), "{out}");
    let (code, out, err) = carebook(&host.dir, &["accept", &joiner.id]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn three_serve_processes_pair_converge_and_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = ["a", "b", "c"].iter().map(|n| tmp.path().join(n)).collect();
    let a = Serve::start(&dirs[0], "Front desk");
    let b = Serve::start(&dirs[1], "Doctor");
    let mut c = Serve::start(&dirs[2], "Laptop");
    let (code, out, _) = carebook(&dirs[0], &["id"]);
    assert_eq!((code, out.trim()), (0, a.id.as_str()));
    assert_eq!(
        carebook(&dirs[0], &["accept", &b.id]).0,
        3,
        "nobody asked yet"
    );
    assert_eq!(
        carebook(&dirs[0], &["pair", "127.0.0.1:9", "--id", "not-an-id"]).0,
        1
    );
    pair(&b, &a);
    pair(&c, &a);

    write(&dirs[0], "p1", "Okafor");
    eventually("A's record on B and C", || {
        read(&dirs[1], "SELECT family_name FROM patients WHERE id = 'p1'").contains("Okafor")
            && read(&dirs[2], "SELECT family_name FROM patients WHERE id = 'p1'").contains("Okafor")
    });
    eventually("A reports both peers live", || {
        let (_, peers, _) = carebook(&dirs[0], &["peers"]);
        peers.contains("Doctor") && peers.contains("Laptop") && peers.matches(" live ").count() == 2
    });

    // C dies hard; both sides write; C comes back; nothing is lost.
    c.kill_9();
    write(&dirs[0], "p2", "Written while C was down");
    write(&dirs[2], "p3", "Written on C offline");
    let c = Serve::start(&dirs[2], "Laptop");
    eventually("everyone holds everything", || {
        dirs.iter()
            .all(|d| read(d, "SELECT count(*) FROM patients").contains("Integer(3)"))
    });
    drop((a, b, c));
}

#[test]
fn a_node_killed_during_a_large_catch_up_converges_after_restart() {
    const PATIENTS: i64 = 12_000;
    let tmp = tempfile::tempdir().unwrap();
    let (da, dc) = (tmp.path().join("a"), tmp.path().join("c"));
    {
        std::fs::create_dir_all(&da).unwrap();
        let store = Store::open(&da.join("carebook.db"), schema::CLINIC).unwrap();
        // Several batches, some in several parts: the demo commits 5,000 patients at a time
        // (about 125,000 changes in one db_version, so one batch of four 1 MiB parts), and a
        // batch holds up to 20,000 changes but never splits a db_version.
        demo::fill(&store.writer(), PATIENTS as usize, 5).unwrap();
    }
    let a = Serve::start(&da, "Front desk");
    let mut c = Serve::start(&dc, "New laptop");
    pair(&c, &a);
    // Kill C as soon as the first batch has landed.
    let db = CrrConnection::open(&dc.join("carebook.db"), true).unwrap();
    let count = |db: &CrrConnection| -> i64 {
        db.query_row("SELECT count(*) FROM patients", [], |r| r.get(0))
            .unwrap_or(0)
    };
    let start = Instant::now();
    while count(&db) == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    c.kill_9();
    let partial = count(&db);
    drop(db);
    assert!(
        partial > 0 && partial < PATIENTS,
        "killed in the middle of the catch-up ({partial} of {PATIENTS})"
    );
    let c = Serve::start(&dc, "New laptop");
    eventually("C caught up after the restart", || {
        read(&dc, "SELECT count(*) FROM history") == read(&da, "SELECT count(*) FROM history")
            && read(&dc, "SELECT count(*) FROM patients") == format!("Integer({PATIENTS})")
    });
    assert_eq!(read(&dc, "PRAGMA integrity_check"), "Text(\"ok\")");
    drop((a, c));
}
