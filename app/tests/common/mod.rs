//! What the process-level tests share: starting `carebook serve` on 127.0.0.1 (no discovery),
//! running a command on a data folder as the demo clinic's administrator, and waiting for something to become true (the tests
//! crate's, as every test waits).
#![allow(dead_code, unused_imports)] // each test file uses its own subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use carebook_sync::clinic::{pin, staff};
use carebook_sync::store::CrrConnection;
pub use carebook_tests::eventually_blocking as eventually;

pub const BIN: &str = env!("CARGO_BIN_EXE_carebook");

/// A `carebook serve` process, killed when dropped.
pub struct Serve {
    pub child: Child,
    pub dir: PathBuf,
    pub addr: String,
    pub id: String,
}

impl Serve {
    pub fn start(dir: &Path, name: &str) -> Serve {
        Serve::start_logging(dir, name, "warn")
    }

    /// Like `start`, logging at `filter` (`$CAREBOOK_LOG`) to the data folder's log file.
    pub fn start_logging(dir: &Path, name: &str, filter: &str) -> Serve {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--discovery", "off"])
            .args(["--name", name, "--data-dir"])
            .arg(dir)
            .env("CAREBOOK_LOG", filter)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start carebook serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut id, mut addr) = (String::new(), String::new());
        while addr.is_empty() {
            let line = lines.next().expect("serve printed its address").unwrap();
            if let Some(v) = line.strip_prefix("device ID: ") {
                id = v.to_string();
            }
            if let Some(v) = line.strip_prefix("listening on ") {
                addr = v.to_string();
            }
        }
        // Keep reading so the pipe never fills.
        std::thread::spawn(move || lines.for_each(drop));
        Serve {
            child,
            dir: dir.to_path_buf(),
            addr,
            id,
        }
    }

    /// Stops it as Ctrl+C does (it finishes its log file), and waits until it has ended.
    pub fn interrupt(&mut self) {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve ended with {status}");
    }

    pub fn kill_9(&mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo clinic's administrator (`demo::fill` adds them) and the PIN the tests give them.
pub const ADMIN: &str = "Sam Clinic-Admin";
pub const ADMIN_PIN: &str = "402917";

/// Gives the demo clinic's administrator the tests' PIN, when the data folder holds them
/// without one (a folder with no database, or no such person, is left alone).
pub fn admin_pin(dir: &Path) {
    let path = dir.join("carebook.db");
    if !path.exists() {
        return;
    }
    // A look first, read-only: most folders hold no such person, or they have their PIN.
    let needs_pin = |db: &CrrConnection| {
        staff::everyone(db)
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.name == ADMIN)
            .filter(|sam| !pin::has_pin(db, &sam.id).unwrap_or(true))
    };
    if needs_pin(&CrrConnection::open(&path, true).unwrap()).is_none() {
        return;
    }
    let db = CrrConnection::open(&path, false).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    if let Some(sam) = needs_pin(&db) {
        pin::set_first(&db, &sam.id, ADMIN_PIN).unwrap();
    }
}

/// Runs `cmd` with the demo clinic's administrator's name and PIN on standard input (what the
/// commands that pair, remove or back up read once the computer holds staff; others ignore
/// it): its exit code, stdout and stderr.
pub fn as_admin(mut cmd: Command, dir: &Path) -> (i32, String, String) {
    admin_pin(dir);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that does not read it may have exited already.
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{ADMIN}\n{ADMIN_PIN}\n").as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs a command on a data folder, as the demo clinic's administrator: its exit code, stdout
/// and stderr.
pub fn carebook(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("CAREBOOK_LOG", "error");
    as_admin(cmd, dir)
}
