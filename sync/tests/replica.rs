//! Replication sessions over in-memory pipes: an initial catch-up, live edits
//! both ways, and peers that send garbage or speak another protocol refused with the store
//! untouched.

use std::sync::Arc;
use std::time::Duration;

use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::{demo, staff, Actor};
use carebook_sync::proto::{self, Msg, ProtoError};
use carebook_sync::replica::{self, ReplicaError};
use carebook_sync::store::{schema, Store};
use carebook_tests::eventually;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

fn store(dir: &tempfile::TempDir, name: &str) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join(name), schema::CLINIC).unwrap())
}

fn count(s: &Store, table: &str) -> i64 {
    s.writer()
        .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .unwrap()
}

fn rows(s: &Store) -> Vec<(String, String, String)> {
    let db = s.writer();
    let mut st = db
        .prepare("SELECT id, family_name, phone FROM patients ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_computers_catch_up_and_stay_in_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db"), store(&dir, "b.db"));
    demo::fill(&a.writer(), 600, 1).unwrap();
    let (pipe_a, pipe_b) = tokio::io::duplex(1 << 16);
    let sa = tokio::spawn(replica::run(
        pipe_a,
        a.clone(),
        replica::Intro::default(),
        a.changes(),
    ));
    let sb = tokio::spawn(replica::run(
        pipe_b,
        b.clone(),
        replica::Intro::default(),
        b.changes(),
    ));

    eventually("B caught up with A's 600 patients", || {
        count(&b, "patients") == 600
    })
    .await;
    eventually("all history arrived", || {
        count(&b, "history") == count(&a, "history")
    })
    .await;
    assert_eq!(rows(&a), rows(&b));

    // Live: a write on each side reaches the other.
    let id = {
        let db = b.writer();
        let nurse = staff::list(&db)
            .unwrap()
            .into_iter()
            .find(|s| s.roles.has(staff::Role::Receptionist))
            .unwrap();
        let actor = Actor::at_this_device(&db, &nurse.id).unwrap();
        let f = PatientFields {
            family_name: "Mensah".into(),
            date_of_birth: "1999-09-09".into(),
            ..Default::default()
        };
        patients::create(&db, &actor, &f).unwrap().id
    };
    eventually("B's new patient reached A", || count(&a, "patients") == 601).await;
    {
        let db = a.writer();
        db.execute(
            "UPDATE patients SET phone = '+1 555 0100' WHERE id = ?1",
            [&id],
        )
        .unwrap();
    }
    eventually("A's edit reached B", || rows(&b) == rows(&a)).await;
    // Each side's slot for the other advanced to what it merged.
    let slot: i64 = b
        .writer()
        .query_row(
            "SELECT max(version) FROM crsql_tracked_peers WHERE event = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let a_version: i64 = a
        .writer()
        .query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .unwrap();
    assert!(slot > 0 && slot <= a_version);
    sa.abort();
    sb.abort();
}

#[tokio::test]
async fn garbage_from_a_peer_ends_the_session_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a.db");
    let before: i64 = a
        .writer()
        .query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .unwrap();
    let (pipe_a, pipe_x) = tokio::io::duplex(1 << 16);
    let session = tokio::spawn(replica::run(
        pipe_a,
        a.clone(),
        replica::Intro::default(),
        a.changes(),
    ));
    let (_keep_open, mut raw) = tokio::io::split(pipe_x);
    raw.write_all(&[0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef])
        .await
        .unwrap();
    let err = session.await.unwrap().unwrap_err();
    assert!(
        matches!(err, ReplicaError::Proto(ProtoError::Malformed(_))),
        "{err}"
    );
    let after: i64 = a
        .writer()
        .query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .unwrap();
    assert_eq!(before, after);
}

type Session = tokio::task::JoinHandle<Result<(), ReplicaError>>;
type Half = tokio::io::ReadHalf<tokio::io::DuplexStream>;
type WHalf = tokio::io::WriteHalf<tokio::io::DuplexStream>;

/// A session on a fresh store, with the test playing the peer: it has said hello with
/// `protocol`.
async fn with_fake_peer(
    protocol: u32,
) -> (
    tempfile::TempDir,
    Session,
    proto::Reader<Half>,
    proto::Writer<WHalf>,
) {
    let dir = tempfile::tempdir().unwrap();
    let a = store(&dir, "a.db");
    let (pipe_a, pipe_x) = tokio::io::duplex(1 << 16);
    let changes = a.changes();
    let session = tokio::spawn(replica::run(pipe_a, a, replica::Intro::default(), changes));
    let (rx, mut tx) = proto::split(pipe_x);
    tx.send(Msg::Hello {
        protocol,
        schema: 1,
        site_id: vec![7; 16],
        name: "X".into(),
        port: 0,
    })
    .await
    .unwrap();
    (dir, session, rx, tx)
}

#[tokio::test]
async fn a_peer_of_another_protocol_version_is_refused_with_a_reason() {
    let (_dir, session, mut rx, _tx) = with_fake_peer(99).await;
    assert!(matches!(rx.recv().await.unwrap(), Msg::Hello { .. }));
    assert!(matches!(rx.recv().await.unwrap(), Msg::Bye { .. }));
    let err = session.await.unwrap().unwrap_err();
    assert!(matches!(err, ReplicaError::Protocol(99)), "{err}");
}

#[tokio::test]
async fn an_acknowledgement_for_nothing_sent_is_refused() {
    let (_dir, session, mut rx, mut tx) = with_fake_peer(proto::PROTOCOL).await;
    let _ = rx.recv().await.unwrap();
    tx.send(Msg::Ack { upto: 12345 }).await.unwrap();
    let err = session.await.unwrap().unwrap_err();
    assert!(matches!(err, ReplicaError::OutOfTurn(_)), "{err}");
}

/// The replica-independent part of a store's changes, sorted.
fn change_set(s: &Store) -> Vec<(String, Vec<u8>, String, String, i64, i64)> {
    let db = s.writer();
    let mut st = db
        .prepare("SELECT \"table\", pk, cid, quote(val), col_version, cl FROM crsql_changes")
        .unwrap();
    let mut out: Vec<_> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    out.sort();
    out
}

/// Two computers that both worked offline, each with a backlog far larger than the pipe
/// between them: both start sending at once. A session that writes a whole batch before it
/// reads again wedges here for good; a full-duplex one converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_big_offline_backlogs_converge_over_a_narrow_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db"), store(&dir, "b.db"));
    demo::fill(&a.writer(), 1500, 1).unwrap();
    demo::fill(&b.writer(), 1500, 2).unwrap();
    let (pipe_a, pipe_b) = tokio::io::duplex(8 * 1024);
    let (sa, sb) = sessions(&a, &b, pipe_a, pipe_b);
    eventually("both computers hold all 3,000 patients (the sessions wedged: each side writes, neither reads)",
        || count(&a, "patients") == 3000 && count(&b, "patients") == 3000,
    )
    .await;
    eventually("all history on both", || {
        count(&a, "history") == count(&b, "history")
    })
    .await;
    assert_eq!(rows(&a), rows(&b));
    assert_eq!(change_set(&a), change_set(&b));
    assert!(
        !sa.is_finished() && !sb.is_finished(),
        "both sessions still run"
    );
    sa.abort();
    sb.abort();
}

/// A relay between two pipes that carries only the first `limit` bytes from `a` to `b`, then
/// cuts both connections (a connection dropped in the middle of a stream).
fn cutting_relay(limit: usize) -> (tokio::io::DuplexStream, tokio::io::DuplexStream) {
    use tokio::io::AsyncReadExt;
    let (a, relay_a) = tokio::io::duplex(64 * 1024);
    let (relay_b, b) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let (mut ra, mut wa) = tokio::io::split(relay_a);
        let (mut rb, mut wb) = tokio::io::split(relay_b);
        let forward = async {
            let mut left = limit;
            let mut buf = vec![0u8; 4096];
            while left > 0 {
                let n = match ra.read(&mut buf[..left.min(4096)]).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if wb.write_all(&buf[..n]).await.is_err() {
                    break;
                }
                left -= n;
            }
        };
        let back = async {
            let _ = tokio::io::copy(&mut rb, &mut wa).await;
        };
        tokio::select! {
            _ = forward => {}
            _ = back => {}
        }
        // Dropping every half here closes both connections.
    });
    (a, b)
}

fn slot(s: &Store, event: i64) -> i64 {
    s.writer()
        .query_row(
            "SELECT coalesce(max(version), 0) FROM crsql_tracked_peers WHERE event = ?1",
            [event],
            |r| r.get(0),
        )
        .unwrap()
}

/// One transaction far larger than a frame travels in parts and is merged whole; a connection
/// cut in the middle of it leaves none of it applied, and the next session sends it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_larger_than_a_frame_travels_in_parts_and_a_cut_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (store(&dir, "a.db"), store(&dir, "b.db"));
    // 2,000 patients in one transaction (one db_version), with their history rows.
    demo::fill(&a.writer(), 2000, 5).unwrap();
    let big: Vec<u8> = a
        .writer()
        .query_row(
            "SELECT crsql_export_changes(v - 1, NULL, 1) FROM
               (SELECT db_version AS v FROM crsql_changes WHERE \"table\" = 'patients' LIMIT 1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let limits = replica::Limits {
        part_bytes: 16 * 1024,
        window_frames: 4,
        window_bytes: 64 * 1024,
        ..Default::default()
    };
    assert!(
        big.len() > 20 * limits.part_bytes,
        "the version spans many frames ({} bytes)",
        big.len()
    );

    // First try: the connection is cut after a quarter of the version went across.
    let (pipe_a, pipe_b) = cutting_relay(big.len() / 4);
    let seen_a = a.changes();
    let seen_b = b.changes();
    let sa = tokio::spawn(replica::run_with(
        pipe_a,
        a.clone(),
        replica::Intro::default(),
        seen_a.clone(),
        limits,
    ));
    let sb = tokio::spawn(replica::run_with(
        pipe_b,
        b.clone(),
        replica::Intro::default(),
        seen_b.clone(),
        limits,
    ));
    let ended = tokio::time::timeout(Duration::from_secs(30), sb)
        .await
        .expect("B's session ends when the connection is cut")
        .unwrap();
    assert!(ended.is_err(), "the cut is an error: {ended:?}");
    sa.abort();
    let _ = sa.await;
    assert_eq!(
        count(&b, "patients"),
        0,
        "nothing of the cut version applied"
    );
    assert_eq!(count(&b, "history"), 0, "not even its history rows");
    assert!(
        slot(&b, 0)
            < a.writer()
                .query_row("SELECT crsql_db_version()", [], |r| r.get::<_, i64>(0))
                .unwrap()
    );

    // Next session: the whole version arrives, in parts, and is merged in one piece.
    let (pipe_a, pipe_b) = tokio::io::duplex(32 * 1024);
    let sa = tokio::spawn(replica::run_with(
        pipe_a,
        a.clone(),
        replica::Intro::default(),
        seen_a,
        limits,
    ));
    let sb = tokio::spawn(replica::run_with(
        pipe_b,
        b.clone(),
        replica::Intro::default(),
        seen_b,
        limits,
    ));
    eventually("B holds all 2,000 patients", || {
        count(&b, "patients") == 2000
    })
    .await;
    eventually("B holds everything A has", || {
        change_set(&a) == change_set(&b)
    })
    .await;
    assert_eq!(rows(&a), rows(&b));
    sa.abort();
    sb.abort();
}

fn add_patient(s: &Store, id: &str, family: &str) {
    s.writer()
        .execute(
            "INSERT INTO patients(id, family_name, date_of_birth) VALUES (?1, ?2, '1980-01-01')",
            [id, family],
        )
        .unwrap();
}

fn has_patient(s: &Store, id: &str) -> bool {
    s.writer()
        .query_row("SELECT count(*) FROM patients WHERE id = ?1", [id], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
        == 1
}

/// A session on each end of a pipe, each woken by its own store's change feed.
fn sessions<T: AsyncRead + AsyncWrite + Send + 'static>(
    a: &Arc<Store>,
    b: &Arc<Store>,
    pipe_a: T,
    pipe_b: T,
) -> (Session, Session) {
    let run = |pipe: T, s: &Arc<Store>| {
        tokio::spawn(replica::run(
            pipe,
            s.clone(),
            replica::Intro::default(),
            s.changes(),
        ))
    };
    (run(pipe_a, a), run(pipe_b, b))
}

/// Runs a session between `a` and `b` until they hold the same changes, then ends it and
/// waits until nothing else holds `a` (so its file can be closed).
async fn sync_until_equal(a: &Arc<Store>, b: &Arc<Store>, what: &str) {
    let (pipe_a, pipe_b) = tokio::io::duplex(4 << 20);
    let (sa, sb) = sessions(a, b, pipe_a, pipe_b);
    eventually(what, || change_set(a) == change_set(b)).await;
    assert_eq!(rows(a), rows(b));
    sa.abort();
    sb.abort();
    let _ = (sa.await, sb.await);
    eventually("the sessions let go of the store", || {
        Arc::strong_count(a) == 1
    })
    .await;
}

/// A computer's database file is put back to an older copy (as after a power cut that lost
/// its last commits, or a restore): its db_version is below what the peer has received from
/// it. Both notice; the peer sends it its own lost changes back, and its new writes (whose
/// numbers the peer has seen before) still reach the peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_computer_put_back_to_an_older_copy_gets_its_changes_back_and_sends_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let (mut a, b) = (store(&dir, "a.db"), store(&dir, "b.db"));
    demo::fill(&a.writer(), 40, 1).unwrap();
    demo::fill(&b.writer(), 40, 2).unwrap();
    sync_until_equal(&a, &b, "the first sync").await;

    // A copy of A's file taken while A is stopped.
    drop(a);
    let old = dir.path().join("a-old.db");
    std::fs::copy(&path, &old).unwrap();
    a = store(&dir, "a.db");
    for i in 0..30 {
        add_patient(&a, &format!("lost-{i}"), "Written after the copy");
    }
    sync_until_equal(&a, &b, "B has A's later writes").await;
    assert!(has_patient(&b, "lost-29"));

    // The old copy is put back and A starts again: its last writes are gone from it.
    let b_had = slot(&b, 0);
    drop(a);
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    std::fs::copy(&old, &path).unwrap();
    a = store(&dir, "a.db");
    assert!(!has_patient(&a, "lost-0"), "the restored copy lacks them");
    // New writes reuse db_version numbers that B has already received from A.
    for i in 0..5 {
        add_patient(&a, &format!("new-{i}"), "Written after the restore");
    }

    sync_until_equal(&a, &b, "A and B converge after the restore").await;
    assert!(has_patient(&a, "lost-29"), "A got its own lost writes back");
    assert!(
        has_patient(&b, "new-4"),
        "B got A's writes made after the restore"
    );
    let clock: i64 = a
        .writer()
        .query_row("SELECT crsql_db_version()", [], |r| r.get(0))
        .unwrap();
    assert!(
        clock >= b_had,
        "A's clock moved past the numbers B had seen"
    );

    // And writes after that flow both ways as usual.
    add_patient(&a, "later-a", "After the repair");
    add_patient(&b, "later-b", "After the repair");
    sync_until_equal(&a, &b, "later writes on both").await;
    assert!(has_patient(&b, "later-a") && has_patient(&a, "later-b"));
}
