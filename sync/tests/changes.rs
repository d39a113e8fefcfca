//! The store's change feed and its readers: a write through the writer, a merge through it and
//! a write by another connection each move the feed; a transaction is announced once it
//! commits, not before; the watching thread ends with the store, before its writer (which
//! then checkpoints the WAL away, closing last); reads go to reused read-only connections
//! that see the last committed state, even while the writer is busy.

use std::sync::Arc;
use std::time::Duration;

use carebook_sync::store::{schema, CrrConnection, Store, StoreError};
use tokio::time::timeout;

const PATIENT: &str =
    "INSERT INTO patients(id, family_name, date_of_birth) VALUES (?1, ?2, '1980-01-01')";

fn open(dir: &tempfile::TempDir, name: &str) -> Arc<Store> {
    Arc::new(Store::open(&dir.path().join(name), schema::CLINIC).unwrap())
}

#[tokio::test]
async fn a_write_through_the_writer_is_announced_when_it_is_handed_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "a.db");
    let mut feed = store.changes();
    store.writer().execute(PATIENT, ["p1", "Okafor"]).unwrap();
    assert!(
        feed.has_changed().unwrap(),
        "announced as the writer returns"
    );
    feed.borrow_and_update();

    // Inside a transaction: nothing is announced until the commit.
    let w = store.writer();
    w.execute_batch("BEGIN").unwrap();
    w.execute(PATIENT, ["p2", "Tanaka"]).unwrap();
    drop(w);
    assert!(!feed.has_changed().unwrap(), "not committed yet");
    store.writer().execute_batch("COMMIT").unwrap();
    assert!(feed.has_changed().unwrap(), "announced once committed");
}

#[tokio::test]
async fn a_merge_through_the_writer_is_announced() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (open(&dir, "a.db"), open(&dir, "b.db"));
    a.writer().execute(PATIENT, ["p1", "Okafor"]).unwrap();
    let batch: Vec<u8> = a
        .writer()
        .query_row("SELECT crsql_export_changes(0)", [], |r| r.get(0))
        .unwrap();
    let feed = b.changes();
    b.writer()
        .query_row("SELECT crsql_merge_changes(?1)", [&batch], |_| Ok(()))
        .unwrap();
    assert!(feed.has_changed().unwrap());
}

#[tokio::test]
async fn a_write_by_another_connection_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "a.db");
    let mut feed = store.changes();
    let other = CrrConnection::open(store.path(), false).unwrap();
    other.execute(PATIENT, ["p1", "From elsewhere"]).unwrap();
    timeout(Duration::from_secs(5), feed.changed())
        .await
        .expect("noticed within 5 s")
        .unwrap();
}

#[tokio::test]
async fn the_watch_and_the_readers_end_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "a.db");
    store.writer().execute(PATIENT, ["p1", "Okafor"]).unwrap();
    store
        .read(|c| c.execute_batch("SELECT 1").map_err(StoreError::from))
        .unwrap();
    let mut feed = store.changes();
    drop(store);
    assert!(
        !dir.path().join("a.db-wal").exists(),
        "the writer closed last, so it folded the WAL into the file"
    );
    let ended = timeout(Duration::from_secs(5), feed.changed())
        .await
        .expect("the feed closes");
    assert!(
        ended.is_err(),
        "no sender is left, the watching thread included"
    );
}

#[test]
fn reads_see_the_last_commit_without_waiting_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "a.db");
    store.writer().execute(PATIENT, ["p1", "Okafor"]).unwrap();
    let family = |s: &Store| {
        s.read(|c| {
            c.query_row(
                "SELECT family_name FROM patients WHERE id = 'p1'",
                [],
                |r| r.get::<_, String>(0),
            )
            .map_err(StoreError::from)
        })
    };
    let w = store.writer();
    w.execute_batch("BEGIN; UPDATE patients SET family_name = 'Draft' WHERE id = 'p1';")
        .unwrap();
    // The writer is held (with a write in progress) on this thread; a read elsewhere goes on.
    let (done, got) = std::sync::mpsc::channel();
    let s = store.clone();
    std::thread::spawn(move || done.send(family(&s).unwrap()).unwrap());
    let seen = got
        .recv_timeout(Duration::from_secs(5))
        .expect("the read does not wait for the writer");
    assert_eq!(seen, "Okafor", "only what is committed");
    w.execute_batch("COMMIT").unwrap();
    drop(w);
    assert_eq!(family(&store).unwrap(), "Draft", "and everything committed");
}

#[test]
fn reader_connections_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, "a.db");
    store
        .read(|c| {
            c.execute_batch("CREATE TEMP TABLE marker(x)")
                .map_err(StoreError::from)
        })
        .unwrap();
    let found: i64 = store
        .read(|c| {
            c.query_row(
                "SELECT count(*) FROM temp.sqlite_schema WHERE name = 'marker'",
                [],
                |r| r.get(0),
            )
            .map_err(StoreError::from)
        })
        .unwrap();
    assert_eq!(
        found, 1,
        "the second read ran on the first one's connection"
    );
}
