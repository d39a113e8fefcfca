//! The local database: one SQLite file in WAL mode with the CRR engine loaded, one writer
//! connection (owned here, behind a mutex, committing with synchronous=FULL), a few reused
//! read-only connections, and a feed that announces every committed change (see `feed`).

mod extension;
mod feed;
mod migrate;
pub mod schema;

use std::ffi::c_int;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;

pub use extension::{
    candidates as engine_candidates, file_name as engine_file_name, locate as locate_engine,
};
pub use feed::{Writer, WATCH_EVERY};
pub use migrate::{current_version, Migration};

/// Idle reader connections kept for reuse (more may be open at once; the extra ones close).
const IDLE_READERS: usize = 4;

/// What can go wrong opening or using the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the CRR engine library was not found; looked in: {}", .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    EngineNotFound(Vec<PathBuf>),
    #[error("could not load the CRR engine from {0}: {1}")]
    EngineLoad(PathBuf, rusqlite::Error),
    #[error("schema migration {version} failed: {reason}")]
    Migration { version: u32, reason: String },
    #[error("the database has schema version {found}, newer than this program knows ({known}); update Carebook")]
    SchemaTooNew { found: u32, known: u32 },
    #[error("could not create the data folder {0}: {1}")]
    Folder(PathBuf, std::io::Error),
    #[error("could not start watching the database for changes: {0}")]
    Watch(std::io::Error),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// A connection with the CRR engine loaded; releases the engine's statements when dropped.
#[derive(Debug)]
pub struct CrrConnection(Option<Connection>);

/// Turns SQLite's memory statistics off, once, before its first connection: with them on,
/// every allocation of every connection takes one lock for the whole process, so a merge, the
/// window's reads and other sessions' exports wait on each other.
fn configure_sqlite() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called before any connection of this process is opened (SQLite refuses it,
        // changing nothing, if it was already initialised); the option takes one int.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int)
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!("SQLite was initialised already; its memory statistics stay on");
        }
    });
}

impl CrrConnection {
    /// Opens a connection to `path` and loads the engine.
    pub fn open(path: &Path, read_only: bool) -> Result<CrrConnection, StoreError> {
        configure_sqlite();
        let flags = if read_only {
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI
        } else {
            OpenFlags::default()
        };
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        if !read_only {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            // FULL: a commit is on disk before it returns, so nothing leaves this computer
            // (a change sent, a batch acknowledged) that a power cut could take back.
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // 32 MiB of page cache: a clinic's whole working set, so large merges and imports do
        // not spill to the WAL half-way.
        conn.pragma_update(None, "cache_size", -32768)?;
        extension::load(&conn)?;
        Ok(CrrConnection(Some(conn)))
    }

    /// An in-memory database with the engine loaded (for tests and tools).
    pub fn open_in_memory() -> Result<CrrConnection, StoreError> {
        configure_sqlite();
        let conn = Connection::open_in_memory()?;
        extension::load(&conn)?;
        Ok(CrrConnection(Some(conn)))
    }
}

impl Deref for CrrConnection {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.0.as_ref().expect("present until drop")
    }
}

impl DerefMut for CrrConnection {
    fn deref_mut(&mut self) -> &mut Connection {
        self.0.as_mut().expect("present until drop")
    }
}

impl Drop for CrrConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // The engine caches prepared statements; SQLite refuses to close until they go.
            let _ = conn.query_row("SELECT crsql_finalize()", [], |_| Ok(()));
            let _ = conn.close();
        }
    }
}

/// The database's logical clock (`crsql_db_version()`): it moves whenever records change,
/// here or by a merge, so screens can tell when to refresh.
pub fn db_version(db: &Connection) -> rusqlite::Result<i64> {
    db.query_row("SELECT crsql_db_version()", [], |r| r.get(0))
}

/// This database's site id (16 bytes).
pub fn site_id(db: &Connection) -> rusqlite::Result<Vec<u8>> {
    db.query_row("SELECT crsql_site_id()", [], |r| r.get(0))
}

/// The clinic's local database.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    // Fields drop in this order: the read-only connections close before the writer, so that
    // the writer, last, checkpoints the WAL into the database file and removes it.
    _watcher: feed::Watcher,
    readers: Mutex<Vec<CrrConnection>>,
    writer: Mutex<feed::WriterState>,
    feed: watch::Sender<u64>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path, migrations: &[Migration]) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Folder(dir.to_path_buf(), e))?;
        }
        let mut writer = CrrConnection::open(path, false)?;
        migrate::apply(&mut writer, migrations)?;
        let feed = watch::Sender::new(0);
        Ok(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(feed::WriterState::new(writer)),
            readers: Mutex::new(Vec::new()),
            _watcher: feed::Watcher::start(path, feed.clone())?,
            feed,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The single writer connection (waits for other writers in this process). What it
    /// commits is announced on [`Store::changes`] when it is dropped.
    pub fn writer(&self) -> Writer<'_> {
        Writer::new(
            self.writer.lock().unwrap_or_else(|p| p.into_inner()),
            &self.feed,
        )
    }

    /// Moves after every committed change to the records, made through this store's writer
    /// or by any other program on the same file (noticed within [`WATCH_EVERY`]). The value
    /// is only a counter: wait with `changed()`, then read what you need. A move may now and
    /// then find nothing new; a committed change is never left unannounced.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.feed.subscribe()
    }

    /// Runs `f` on one of the store's read-only connections, never on the writer, so reads
    /// do not wait for writes (WAL mode). Each statement (or each transaction `f` opens) sees
    /// the database as last committed when it starts: never a write still in progress, and
    /// always everything committed before. The connections are kept and reused.
    pub fn read<R, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&CrrConnection) -> Result<R, E>,
    ) -> Result<R, E> {
        let idle = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => self.reader()?,
        };
        let out = f(&conn);
        // One left inside a transaction would keep seeing an old snapshot: close it instead.
        if conn.is_autocommit() {
            let mut idle = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < IDLE_READERS {
                idle.push(conn);
            }
        }
        out
    }

    /// A new read-only connection of its own (for long reads, such as a backup's snapshot;
    /// readers never block the writer in WAL mode).
    pub fn reader(&self) -> Result<CrrConnection, StoreError> {
        CrrConnection::open(&self.path, true)
    }
}
