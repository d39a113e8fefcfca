//! Replication benchmark over real TLS on 127.0.0.1; prints `BENCH <name> <value>` lines:
//! the initial sync of N patients (default 100,000; `REPL_BENCH_PATIENTS`) between two nodes,
//! the bytes on the wire per change (counted by a relay between them), the same initial sync
//! through a link that holds every chunk 25 ms each way (a 50 ms round trip; loss cannot be
//! emulated here: the kernel has no netem and TCP would resend anyway), the latency of
//! single edits reaching both other computers of three, and how long two computers that each
//! took M new patients in one transaction while apart (default 40,000;
//! `REPL_BENCH_OFFLINE_PATIENTS`) take to converge.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use carebook_sync::clinic::demo;
use carebook_sync::net::roster;
use carebook_sync::store::CrrConnection;
use carebook_tests::link::Link;
use carebook_tests::{Computer, Online};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A computer of `fill` demo patients, online and maintaining its connections.
async fn machine(name: &str, fill: usize) -> Online {
    let computer = Computer::new();
    if fill > 0 {
        demo::fill(&computer.store.writer(), fill, 3).unwrap();
    }
    let online = computer.online(name).await;
    online.maintain();
    online
}

/// Trust both ways; `b` keeps a connection to `a` through `via`.
async fn link(a: &Online, b: &Online, via: SocketAddr) {
    roster::add(&a.node.store.writer(), &b.node.identity.id, "b", "").unwrap();
    roster::add(&b.node.store.writer(), &a.node.identity.id, "a", "").unwrap();
    a.node.refresh_roster().await.unwrap();
    b.node.refresh_roster().await.unwrap();
    tokio::spawn(b.node.clone().keep_connected(via, a.node.identity.id));
}

/// A TCP relay to `to` that counts the bytes it carries both ways.
async fn counting_relay(to: SocketAddr, bytes: Arc<AtomicU64>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let bytes = bytes.clone();
            tokio::spawn(async move {
                let mut outbound = TcpStream::connect(to).await.unwrap();
                let (mut ri, mut wi) = inbound.split();
                let (mut ro, mut wo) = outbound.split();
                tokio::join!(
                    pump(&mut ri, &mut wo, &bytes),
                    pump(&mut ro, &mut wi, &bytes)
                );
            });
        }
    });
    addr
}

/// Copies one direction, counting bytes as they pass.
async fn pump(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    bytes: &AtomicU64,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                bytes.fetch_add(n as u64, Ordering::Relaxed);
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

fn count(path: &std::path::Path, sql: &str) -> i64 {
    CrrConnection::open(path, true)
        .and_then(|c| Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))?))
        .unwrap_or(-1)
}

/// `n` made-up patients in one transaction, every column filled (as a bulk import would).
fn bulk_patients(db: &rusqlite::Connection, prefix: &str, n: usize) {
    db.execute_batch("BEGIN").unwrap();
    {
        let mut st = db
            .prepare(
                "INSERT INTO patients(id, chart_no, given_name, family_name, date_of_birth, sex, \
                 phone, email, address, emergency_contact, allergies, notes, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '', unixepoch(), unixepoch())",
            )
            .unwrap();
        let mut rng = demo::Rng::new(n as u64 + prefix.len() as u64);
        for i in 0..n {
            let f = demo::patient(&mut rng);
            st.execute(rusqlite::params![
                format!("{prefix}-{i}"),
                format!("{prefix}{i:06}"),
                f.given_name,
                f.family_name,
                f.date_of_birth,
                f.sex,
                f.phone,
                f.email,
                f.address,
                f.emergency_contact,
                f.allergies
            ])
            .unwrap();
        }
    }
    db.execute_batch("COMMIT").unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n: usize = std::env::var("REPL_BENCH_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let a = machine("A", n).await;
    let b = machine("B", 0).await;
    let changes = count(&a.db_path(), "SELECT count(*) FROM crsql_changes");
    let history = count(&a.db_path(), "SELECT count(*) FROM history");
    let wire = Arc::new(AtomicU64::new(0));
    let relay = counting_relay(a.addr, wire.clone()).await;
    let t = Instant::now();
    link(&a, &b, relay).await;
    loop {
        if count(&b.db_path(), "SELECT count(*) FROM history") == history {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    println!("BENCH initial_sync_s {secs:.2}");
    println!(
        "BENCH initial_sync_changes_per_s {:.0}",
        changes as f64 / secs
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "BENCH wire_bytes_per_change {:.1}",
        wire.load(Ordering::Relaxed) as f64 / changes as f64
    );

    // The same initial sync over a 50 ms round trip.
    let w = machine("W", 0).await;
    let delayed = Link::open(
        Arc::new(std::sync::Mutex::new(a.addr)),
        Duration::from_millis(25),
    )
    .await;
    let t = Instant::now();
    link(&a, &w, delayed.addr).await;
    while count(&w.db_path(), "SELECT count(*) FROM history") != history {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "BENCH initial_sync_wan_changes_per_s {:.0}",
        changes as f64 / t.elapsed().as_secs_f64()
    );

    // Live: a third computer; single edits on A reach B and C.
    let c = machine("C", 0).await;
    link(&a, &c, a.addr).await;
    while count(&c.db_path(), "SELECT count(*) FROM history") != history {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Through the store's writer, as the app writes: its commits are announced at once.
    let writer = &a.node.store;
    let (rb, rc) = (
        CrrConnection::open(&b.db_path(), true).unwrap(),
        CrrConnection::open(&c.db_path(), true).unwrap(),
    );
    let ids: Vec<String> = writer
        .writer()
        .prepare("SELECT id FROM patients LIMIT 200")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut lat = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let phone = format!("+1 555 000 {i:04}");
        let t = Instant::now();
        writer
            .writer()
            .execute("UPDATE patients SET phone = ?1 WHERE id = ?2", [&phone, id])
            .unwrap();
        let seen = |db: &CrrConnection| {
            db.query_row("SELECT phone FROM patients WHERE id = ?1", [id], |r| {
                r.get::<_, String>(0)
            })
            .map(|p| p == phone)
            .unwrap_or(false)
        };
        while !(seen(&rb) && seen(&rc)) {
            if t.elapsed() > Duration::from_secs(10) {
                panic!("an edit did not arrive within 10 s");
            }
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(|x, y| x.total_cmp(y));
    println!("BENCH live_p50_ms {:.1}", percentile(&lat, 0.5));
    println!("BENCH live_p99_ms {:.1}", percentile(&lat, 0.99));

    // Both offline: two computers, each with M new patients in one transaction, meet.
    let m: usize = std::env::var("REPL_BENCH_OFFLINE_PATIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40_000);
    let d = machine("D", 0).await;
    let e = machine("E", 0).await;
    bulk_patients(&d.node.store.writer(), "d", m);
    bulk_patients(&e.node.store.writer(), "e", m);
    let both = 2 * m as i64;
    let t = Instant::now();
    link(&d, &e, d.addr).await;
    while count(&d.db_path(), "SELECT count(*) FROM patients") != both
        || count(&e.db_path(), "SELECT count(*) FROM patients") != both
    {
        if t.elapsed() > Duration::from_secs(600) {
            panic!("two offline computers did not converge within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "BENCH offline_both_converge_s {:.2}",
        t.elapsed().as_secs_f64()
    );
    std::process::exit(0);
}
