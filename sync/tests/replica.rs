//! Replication sessions over in-memory pipes: an initial catch-up, live edits
//! both ways, and peers that send garbage or speak another protocol refused with the store
//! untouched.

use std::sync::Arc;

use carebook_sync::clinic::patients::{self, PatientFields};
use carebook_sync::clinic::{demo, staff, Actor};
use carebook_sync::proto::{self, Msg, ProtoError};
use carebook_sync::replica::{self, ReplicaError};
use carebook_sync::store::{schema, Store};
use carebook_tests::eventually;
use tokio::io::AsyncWriteExt;

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
        let nurse = staff::add(&db, "Kai Night", staff::Role::Receptionist).unwrap();
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
