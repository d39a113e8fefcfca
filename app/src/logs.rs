//! Where the program's log goes: stderr as always, and a file in the log folder (the platform's,
//! or `DIR/logs` with `--data-dir DIR`), a new one each day, keeping the newest 14, each
//! capped in size (past the cap, the day's lines go to stderr only, and the file says so once).

use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// How many daily files are kept.
const KEEP: usize = 14;

/// The most bytes written to one day's file.
const DAY_CAP: u64 = 20 * 1024 * 1024;

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
            let today = || chrono::Utc::now().date_naive();
            let (writer, guard) =
                tracing_appender::non_blocking(Capped::new(appender, DAY_CAP, today));
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

/// A writer that takes at most `cap` bytes a day (as `today` tells days apart), then writes
/// one line saying the rest of the day is left out, and drops what follows until the next day.
struct Capped<W, D> {
    inner: W,
    cap: u64,
    today: D,
    day: Option<chrono::NaiveDate>,
    written: u64,
}

/// The line that ends a full day's file.
const FULL: &[u8] =
    b"(the log file reached its size limit for today; more lines go to stderr only)\n";

impl<W, D: Fn() -> chrono::NaiveDate> Capped<W, D> {
    fn new(inner: W, cap: u64, today: D) -> Self {
        Capped {
            inner,
            cap,
            today,
            day: None,
            written: 0,
        }
    }
}

impl<W: std::io::Write, D: Fn() -> chrono::NaiveDate> std::io::Write for Capped<W, D> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let today = (self.today)();
        if self.day != Some(today) {
            self.day = Some(today);
            self.written = 0;
        }
        let after = self.written.saturating_add(buf.len() as u64);
        if after <= self.cap {
            self.inner.write_all(buf)?;
            self.written = after;
        } else if self.written <= self.cap {
            self.inner.write_all(FULL)?;
            self.written = u64::MAX;
        }
        // Taken, written or not: a full file is not an error to report on every line.
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::io::Write;

    #[test]
    fn a_days_file_stops_at_its_cap_says_so_once_and_starts_again_the_next_day() {
        let day = Cell::new(chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap());
        let mut out = Vec::new();
        {
            let mut w = Capped::new(&mut out, 100, || day.get());
            for _ in 0..1000 {
                w.write_all(b"0123456789\n").unwrap();
            }
            day.set(day.get().succ_opt().unwrap());
            w.write_all(b"next day\n").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("0123456789").count(), 9);
        assert_eq!(text.matches("size limit").count(), 1);
        assert!(text.ends_with("next day\n"));
        assert!(text.len() < 100 + FULL.len() + 20);
    }
}
