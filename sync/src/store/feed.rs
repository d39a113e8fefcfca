//! The store's change feed: a counter on a tokio watch channel that moves after every commit
//! that changed rows, whoever made it. Commits through the store's writer are announced when
//! the writer is handed back (the commit is then visible to every reader; a commit hook would
//! fire before that, and SQLite keeps one per connection, which the CRR engine uses); commits
//! by other programs (the sqlite3 shell, a script, another Carebook on the same file) are
//! noticed by one thread that asks a connection of its own for `PRAGMA data_version` ten times
//! a second. That thread stops when the store is dropped.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::mpsc;
use std::sync::MutexGuard;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

use super::{CrrConnection, StoreError};

/// How often the file is checked for commits by other programs.
pub const WATCH_EVERY: Duration = Duration::from_millis(100);

/// The writer connection and whether it committed changes not announced yet.
#[derive(Debug)]
pub(super) struct WriterState {
    pub(super) conn: CrrConnection,
    /// Rows changed inside a transaction still open when the writer was handed back.
    pending: bool,
}

impl WriterState {
    pub(super) fn new(conn: CrrConnection) -> WriterState {
        WriterState {
            conn,
            pending: false,
        }
    }
}

/// The store's single writer connection, held until dropped. Dropping it announces the rows
/// it changed on the store's change feed, once they are committed.
#[derive(Debug)]
pub struct Writer<'a> {
    state: MutexGuard<'a, WriterState>,
    /// The connection's change count when it was taken.
    before: u64,
    feed: &'a watch::Sender<u64>,
}

impl<'a> Writer<'a> {
    pub(super) fn new(state: MutexGuard<'a, WriterState>, feed: &'a watch::Sender<u64>) -> Self {
        let before = state.conn.total_changes();
        Writer {
            state,
            before,
            feed,
        }
    }
}

impl Deref for Writer<'_> {
    type Target = CrrConnection;
    fn deref(&self) -> &CrrConnection {
        &self.state.conn
    }
}

impl DerefMut for Writer<'_> {
    fn deref_mut(&mut self) -> &mut CrrConnection {
        &mut self.state.conn
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        let state = &mut *self.state;
        // Counts rows changed by statements, triggers and the engine's own merges (a rolled
        // back change counts too: at worst a listener looks and finds nothing new).
        if state.conn.total_changes() != self.before {
            state.pending = true;
        }
        if state.pending && state.conn.is_autocommit() {
            state.pending = false;
            announce(self.feed);
        }
    }
}

fn announce(feed: &watch::Sender<u64>) {
    feed.send_modify(|n| *n = n.wrapping_add(1));
}

/// The thread that notices commits by other programs; stops when dropped.
#[derive(Debug)]
pub(super) struct Watcher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Watches the database at `path`, announcing on `feed` whenever another connection
    /// committed (this store's writer included: its commits are then announced twice, which
    /// costs a listener one look that finds nothing new).
    pub(super) fn start(path: &Path, feed: watch::Sender<u64>) -> Result<Watcher, StoreError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut seen = data_version(&conn)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("carebook-db-watch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(WATCH_EVERY) {
                    match data_version(&conn) {
                        Ok(v) if v != seen => {
                            seen = v;
                            announce(&feed);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::debug!("could not check the database for changes: {e}"),
                    }
                }
            })
            .map_err(StoreError::Watch)?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

fn data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0))
}

impl Drop for Watcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
