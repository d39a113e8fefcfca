//! Where the program's log goes: stderr as always, and a file in the log folder (the platform's,
//! or `DIR/logs` with `--data-dir DIR`), a new one each day, keeping the newest 14.

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// How many daily files are kept.
const KEEP: usize = 14;

/// Log files are named `carebook.YYYY-MM-DD.log`.
const PREFIX: &str = "carebook";
const SUFFIX: &str = "log";

/// The log folder: `DIR/logs` for `--data-dir DIR`, otherwise ~/.local/state/carebook/logs
/// (`$XDG_STATE_HOME`), ~/Library/Logs/Carebook, or %LOCALAPPDATA%\Carebook\logs. None when
/// there is no home folder.
pub fn folder(data_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = data_dir {
        return Some(dir.join("logs"));
    }
    if cfg!(target_os = "macos") {
        directories::BaseDirs::new().map(|b| b.home_dir().join("Library/Logs/Carebook"))
    } else if cfg!(windows) {
        directories::BaseDirs::new().map(|b| b.data_local_dir().join("Carebook").join("logs"))
    } else {
        directories::ProjectDirs::from("org", "Carebook", "Carebook")
            .and_then(|d| d.state_dir().map(|s| s.join("logs")))
    }
}

/// Starts logging to stderr (filtered by `$CAREBOOK_LOG`, default `info`) and, when `file` is
/// given, to a daily file in that folder too. A folder that cannot be made is said on stderr
/// and logging goes on without the file. Keep the guard alive until the process ends: dropping
/// it writes out what is still queued.
pub fn init(file: Option<&Path>) -> Option<WorkerGuard> {
    let (writer, guard) = match file.map(open) {
        Some(Ok(appender)) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(writer), Some(guard))
        }
        Some(Err(e)) => {
            eprintln!("carebook: warning: {e}; logging to stderr only");
            (None, None)
        }
        None => (None, None),
    };
    let filter = EnvFilter::try_from_env("CAREBOOK_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(writer.map(|w| fmt::layer().with_ansi(false).with_writer(w)))
        .init();
    guard
}

fn open(dir: &Path) -> Result<tracing_appender::rolling::RollingFileAppender, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot make the log folder {}: {e}", dir.display()))?;
    Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix(SUFFIX)
        .max_log_files(KEEP)
        .build(dir)
        .map_err(|e| format!("cannot open a log file in {}: {e}", dir.display()))
}
