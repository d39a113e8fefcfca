//! Automatic backups: into a folder chosen on this computer, every so often (daily by
//! default), keeping the newest few files; the time of the last good backup, so a screen can
//! say "last backup: ..." and warn when one is overdue; and the clinic's passphrase remembered
//! on this computer (keyring or private file) so the backups run without anyone typing it.
//!
//! The settings and the record of the last backup are this computer's own (`local_settings`,
//! never replicated): each computer backs itself up where its own disk or share allows.
//! Retention only ever deletes this computer's scheduled files in that folder (their names
//! carry its device ID), never a colleague's in a shared folder, nor a backup saved by hand.
//!
//! The system clock can jump. A clock set back while the program runs is noticed (the
//! monotonic clock says more time passed than the wall clock shows) and the time it was set
//! back by still counts towards the next backup; a last backup dated after now (the clock was
//! set back while the program was not running) makes a backup at once, and so does a clock set
//! back by less while it was closed: the wall time of the last look is kept (with the time
//! set back not yet used up by a backup), and a start that finds the clock behind it counts
//! the difference as time passed. A clock set forward
//! makes one backup, which is then the last; files dated in the future are pruned first.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};
use tokio::sync::watch;

use super::{BackupError, Control, Passphrase};
use crate::identity::{DeviceId, Identity, IdentityError, KeyStorage, Keyring};
use crate::secret::{Found, Secret};
use crate::store::Store;

/// The ending of a backup file's name.
pub const EXTENSION: &str = "carebook-backup";

/// How often, where, and how many to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// None: automatic backups are off (not set up yet).
    pub folder: Option<PathBuf>,
    pub every_hours: u32,
    pub keep: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            folder: None,
            every_hours: 24,
            keep: 14,
        }
    }
}

/// The last backup this computer made, and the last automatic one that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Last {
    /// Seconds since 1970 and the file, of the last good backup (by hand or scheduled).
    pub ok: Option<(i64, String)>,
    /// When and why the last scheduled attempt failed, if it did after the last good one.
    pub failed: Option<(i64, String)>,
}

/// A backup counts as overdue this long after it was due.
const GRACE_S: i64 = 2 * 3600;

fn get(db: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    db.query_row(
        "SELECT value FROM local_settings WHERE key = ?1",
        [key],
        |r| r.get(0),
    )
    .optional()
}

fn set(db: &Connection, key: &str, value: &str) -> rusqlite::Result<()> {
    db.execute(
        "INSERT OR REPLACE INTO local_settings(key, value) VALUES (?1, ?2)",
        [key, value],
    )?;
    Ok(())
}

/// This computer's schedule (the default when never set).
pub fn load(db: &Connection) -> rusqlite::Result<Schedule> {
    let d = Schedule::default();
    let number = |key, default| -> rusqlite::Result<u32> {
        Ok(get(db, key)?
            .and_then(|v| v.parse().ok())
            .filter(|n| *n > 0)
            .unwrap_or(default))
    };
    Ok(Schedule {
        folder: get(db, "backup_folder")?
            .filter(|f| !f.is_empty())
            .map(PathBuf::from),
        every_hours: number("backup_every_hours", d.every_hours)?,
        keep: number("backup_keep", d.keep)?,
    })
}

pub fn save(db: &Connection, s: &Schedule) -> rusqlite::Result<()> {
    let folder = s
        .folder
        .as_ref()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    set(db, "backup_folder", &folder)?;
    set(db, "backup_every_hours", &s.every_hours.max(1).to_string())?;
    set(db, "backup_keep", &s.keep.max(1).to_string())
}

fn stamp(value: Option<String>) -> Option<(i64, String)> {
    let v = value?;
    let (at, text) = v.split_once(' ')?;
    Some((at.parse().ok()?, text.to_string()))
}

pub fn last(db: &Connection) -> rusqlite::Result<Last> {
    let ok = stamp(get(db, "backup_last_ok")?);
    let failed = stamp(get(db, "backup_last_failed")?)
        .filter(|(at, _)| ok.as_ref().is_none_or(|(good, _)| at > good));
    Ok(Last { ok, failed })
}

/// Records a good backup (by hand or scheduled) written to `file` at `at`.
pub fn record_ok(db: &Connection, at: i64, file: &Path) -> rusqlite::Result<()> {
    set(db, "backup_last_ok", &format!("{at} {}", file.display()))
}

/// Records a failed scheduled backup; `why` must hold no patient data (errors never do).
pub fn record_failed(db: &Connection, at: i64, why: &str) -> rusqlite::Result<()> {
    set(db, "backup_last_failed", &format!("{at} {why}"))
}

impl Schedule {
    /// Whether a scheduled backup should be made now. A last backup dated after `now` means
    /// the clock was set back past it: waiting for the clock to catch up would postpone
    /// backups by the jump, so one is due at once (and the schedule counts from it).
    pub fn due(&self, last: &Last, now: i64) -> bool {
        self.folder.is_some()
            && last
                .ok
                .as_ref()
                .is_none_or(|(at, _)| *at > now || now - at >= i64::from(self.every_hours) * 3600)
    }

    /// Whether to warn that backups are behind: set up, and no good backup for longer than
    /// the interval plus a grace period (the computer was off, the folder is unreachable, the
    /// passphrase is not remembered...).
    pub fn overdue(&self, last: &Last, now: i64) -> bool {
        self.folder.is_some()
            && last
                .ok
                .as_ref()
                .is_none_or(|(at, _)| now - at > i64::from(self.every_hours) * 3600 + GRACE_S)
    }
}

/// The name of a scheduled backup made by `device` at `at`: sortable by time, and telling
/// which computer made it.
fn file_name(device: &DeviceId, at: i64) -> String {
    let t = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
    format!(
        "carebook-{}-{}.{EXTENSION}",
        device.short(),
        t.format("%Y%m%d-%H%M%SZ")
    )
}

/// Makes a scheduled backup now: into the schedule's folder (the export records it as the
/// last good one), then deletes this computer's older scheduled backups beyond `keep`. A
/// failure is recorded too (and returned).
pub fn run(
    store: &Store,
    identity: &Identity,
    passphrase: &Passphrase,
    schedule: &Schedule,
    now: i64,
    control: &Control,
) -> Result<PathBuf, BackupError> {
    let result = (|| {
        let folder = schedule.folder.as_ref().ok_or(BackupError::NotScheduled)?;
        std::fs::create_dir_all(folder).map_err(|e| BackupError::File(folder.clone(), e))?;
        let file = folder.join(file_name(&identity.id, now));
        // The export records itself as the last good backup.
        super::export(store, identity, passphrase, &file, control)?;
        prune(folder, &identity.id, schedule.keep, now)?;
        Ok(file)
    })();
    if let Err(e) = &result {
        if !matches!(e, BackupError::Cancelled) {
            record_failed(&store.writer(), now, &e.to_string())?;
        }
    }
    result
}

/// What a look at the schedule did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The backup made now, if one was due and could be made.
    pub made: Option<PathBuf>,
    /// Backups are behind (see [`Schedule::overdue`]), after this look.
    pub overdue: bool,
}

/// Makes the scheduled backup when one is due, signed by the identity `identity` gives (asked
/// for only then: it may mean a keyring call) with the passphrase remembered in `dir` (the
/// data folder). `now` is the system clock's time; `set_back` how many seconds that clock was
/// set back since the last backup while the program ran (see [`ClockWatch`]), which still
/// count as time passed. A backup that cannot be made is recorded with why, and logged.
pub fn run_if_due<I: std::ops::Deref<Target = Identity>>(
    store: &Store,
    dir: &Path,
    now: i64,
    set_back: i64,
    identity: impl FnOnce() -> Result<I, IdentityError>,
) -> Result<Checked, BackupError> {
    let (s, before) = store.read(|db| Ok::<_, BackupError>((load(db)?, last(db)?)))?;
    let passed = now.saturating_add(set_back);
    if !s.due(&before, passed) {
        return Ok(Checked {
            made: None,
            overdue: s.overdue(&before, passed),
        });
    }
    let identity = identity()?;
    let made = match recall(dir, &identity.id)? {
        Some(p) => match run(store, &identity, &p, &s, now, &Control::default()) {
            Ok(file) => {
                tracing::info!("automatic backup written to {}", file.display());
                Some(file)
            }
            Err(e) => {
                tracing::warn!("automatic backup failed: {e}");
                None
            }
        },
        None => {
            let why = "this computer does not remember the backup passphrase";
            tracing::warn!("automatic backup not made: {why}");
            record_failed(&store.writer(), now, why)?;
            None
        }
    };
    let after = store.read(|db| Ok::<_, BackupError>(last(db)?))?;
    Ok(Checked {
        made,
        overdue: s.overdue(&after, now),
    })
}

/// How often a running computer looks whether an automatic backup is due.
pub const LOOK_EVERY: Duration = Duration::from_secs(60);

/// A wall clock this much behind the monotonic one between two looks was set back (less is
/// the ordinary drift and correction of a synchronised clock).
const SET_BACK_SLACK_S: i64 = 30;

/// Notices the system clock being set back while the program runs, by comparing it with the
/// monotonic clock at each look.
#[derive(Debug, Default)]
pub struct ClockWatch {
    last: Option<(Instant, i64)>,
    set_back: i64,
}

impl ClockWatch {
    /// A look at `wall` (the system clock, seconds) when the monotonic clock said `mono`:
    /// the seconds the clock has been set back by since [`ClockWatch::backed_up`].
    pub fn look(&mut self, mono: Instant, wall: i64) -> i64 {
        if let Some((then_mono, then_wall)) = self.last {
            let passed =
                i64::try_from(mono.duration_since(then_mono).as_secs()).unwrap_or(i64::MAX);
            let behind = then_wall.saturating_add(passed).saturating_sub(wall);
            if behind > SET_BACK_SLACK_S {
                self.set_back = self.set_back.saturating_add(behind);
            }
        }
        self.last = Some((mono, wall));
        self.set_back
    }

    /// A backup was made: the schedule counts from it, so earlier jumps no longer matter.
    pub fn backed_up(&mut self) {
        self.set_back = 0;
    }

    /// The watch of a program starting at `wall`, from what an earlier run kept (see
    /// `keep_clock`): a clock now behind the last look was set back while the program
    /// was closed, and that counts as time passed too.
    pub fn resume(kept: Option<(i64, i64)>, wall: i64) -> ClockWatch {
        let set_back = match kept {
            Some((last_wall, set_back)) => {
                let behind = last_wall.saturating_sub(wall);
                let behind = if behind > SET_BACK_SLACK_S { behind } else { 0 };
                set_back.max(0).saturating_add(behind)
            }
            None => 0,
        };
        ClockWatch {
            last: None,
            set_back,
        }
    }
}

const CLOCK: &str = "backup_clock";

/// What the last run's [`ClockWatch`] kept, if anything readable.
pub fn kept_clock(db: &Connection) -> rusqlite::Result<Option<(i64, i64)>> {
    Ok(get(db, CLOCK)?.and_then(|v| {
        let (wall, back) = v.split_once(' ')?;
        Some((wall.parse().ok()?, back.parse().ok()?))
    }))
}

/// Keeps the wall time of a look and the time set back not yet used up, for the next run.
fn keep_clock(db: &Connection, wall: i64, set_back: i64) -> rusqlite::Result<()> {
    set(db, CLOCK, &format!("{wall} {set_back}"))
}

/// The automatic backups of a running computer (the window or `serve`; see `net::serve`):
/// a look at the schedule at once and then every [`LOOK_EVERY`], each making the backup when
/// one is due ([`run_if_due`], which records how it went) and published on `report`. Runs
/// until its task is dropped.
pub async fn keep_making(
    store: Arc<Store>,
    dir: PathBuf,
    identity: Arc<Identity>,
    report: watch::Sender<Option<Checked>>,
) {
    let mut every = tokio::time::interval(LOOK_EVERY);
    let kept = store
        .read(|db| Ok::<_, BackupError>(kept_clock(db)?))
        .unwrap_or_else(|e| {
            tracing::warn!("could not read the backup clock: {e}");
            None
        });
    let mut clock = ClockWatch::resume(kept, chrono::Utc::now().timestamp());
    loop {
        every.tick().await;
        let (store, dir, identity) = (store.clone(), dir.clone(), identity.clone());
        let now = chrono::Utc::now().timestamp();
        let set_back = clock.look(Instant::now(), now);
        let looked = tokio::task::spawn_blocking(move || {
            let checked = run_if_due(&store, &dir, now, set_back, || Ok(identity));
            // Kept for the next run: a backup made uses the time set back up.
            let back = match &checked {
                Ok(c) if c.made.is_some() => 0,
                _ => set_back,
            };
            if let Err(e) = keep_clock(&store.writer(), now, back) {
                tracing::warn!("could not keep the backup clock: {e}");
            }
            checked
        })
        .await;
        let checked = match looked {
            Ok(Ok(c)) => {
                if c.made.is_some() {
                    clock.backed_up();
                }
                c
            }
            Ok(Err(e)) => {
                tracing::warn!("could not look at the backup schedule: {e}");
                Checked {
                    made: None,
                    overdue: true,
                }
            }
            Err(_) => return,
        };
        report.send_replace(Some(checked));
    }
}

/// Deletes `device`'s oldest scheduled backups in `folder` until `keep` are left. Files dated
/// after `now` were named by a clock set wrong (forward, since corrected): their date says
/// nothing, so they count as the oldest rather than crowd out the backups made since.
fn prune(folder: &Path, device: &DeviceId, keep: u32, now: i64) -> Result<(), BackupError> {
    let prefix = format!("carebook-{}-", device.short());
    let suffix = format!(".{EXTENSION}");
    let mut ours: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| BackupError::File(folder.to_path_buf(), e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(&suffix))
        })
        .collect();
    let future = file_name(device, now.saturating_add(SET_BACK_SLACK_S));
    // Names sort by time; the future-dated ones first, then the rest oldest first.
    ours.sort_by_key(|p| {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let dated_later = name.as_deref().is_some_and(|n| n > future.as_str());
        (!dated_later, name)
    });
    let extra = ours.len().saturating_sub(keep.max(1) as usize);
    for old in &ours[..extra] {
        std::fs::remove_file(old).map_err(|e| BackupError::File(old.clone(), e))?;
    }
    // What a backup killed half-way left (an export writes to such a file, then renames it).
    let stale = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in std::fs::read_dir(folder).into_iter().flatten().flatten() {
        let half_written = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(super::TEMPORARY));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t < stale);
        if half_written && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Where the passphrase of the computer whose identity is kept in `dir` is remembered.
fn passphrase_secret(dir: &Path, device: &DeviceId) -> Secret {
    Secret {
        service: "Carebook backup passphrase",
        user: device.to_text(),
        file: dir.join("backup-passphrase"),
    }
}

/// Remembers the clinic's backup passphrase on this computer, for scheduled backups.
pub fn remember(
    dir: &Path,
    device: &DeviceId,
    passphrase: &Passphrase,
    place: Keyring,
) -> Result<KeyStorage, BackupError> {
    Ok(passphrase_secret(dir, device).write(passphrase.text().as_bytes(), place)?)
}

/// The passphrase remembered on this computer: None when none was, or when it would be in a
/// keyring that does not answer now (then the person types it, as on a new computer).
pub fn recall(dir: &Path, device: &DeviceId) -> Result<Option<Passphrase>, BackupError> {
    match passphrase_secret(dir, device).read()? {
        Found::Here(bytes, _) => {
            let text = String::from_utf8(bytes).map_err(|_| BackupError::EmptyPassphrase)?;
            Ok(Some(Passphrase::new(text)?))
        }
        Found::Nowhere => Ok(None),
        Found::KeyringFailed(why) => {
            tracing::debug!("no remembered backup passphrase: the keyring did not answer ({why})");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The files' names in a folder, sorted.
    fn names_in(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn due_and_overdue_follow_the_interval() {
        let s = Schedule {
            folder: Some("/backups".into()),
            ..Schedule::default()
        };
        let never = Last::default();
        assert!(s.due(&never, 1_000_000) && s.overdue(&never, 1_000_000));
        let last = Last {
            ok: Some((1_000_000, "f".into())),
            failed: None,
        };
        assert!(!s.due(&last, 1_000_000 + 23 * 3600));
        assert!(s.due(&last, 1_000_000 + 24 * 3600));
        assert!(!s.overdue(&last, 1_000_000 + 25 * 3600));
        assert!(s.overdue(&last, 1_000_000 + 27 * 3600));
        let off = Schedule::default();
        assert!(!off.due(&never, 0) && !off.overdue(&never, 0));
    }

    #[test]
    fn pruning_keeps_the_newest_of_this_computers_scheduled_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let (me, colleague) = (DeviceId([1; 32]), DeviceId([2; 32]));
        let day = 86_400;
        for n in 0..5 {
            std::fs::write(
                dir.path().join(file_name(&me, 1_700_000_000 + n * day)),
                b"x",
            )
            .unwrap();
        }
        let theirs = dir.path().join(file_name(&colleague, 1_600_000_000));
        let by_hand = dir.path().join("before-the-move.carebook-backup");
        std::fs::write(&theirs, b"x").unwrap();
        std::fs::write(&by_hand, b"x").unwrap();
        let now = 1_700_000_000 + 5 * day;
        prune(dir.path(), &me, 2, now).unwrap();
        let left = names_in(dir.path());
        let mine: Vec<&String> = left
            .iter()
            .filter(|n| n.starts_with(&format!("carebook-{}", me.short())))
            .collect();
        assert_eq!(
            mine,
            [
                &file_name(&me, 1_700_000_000 + 3 * day),
                &file_name(&me, 1_700_000_000 + 4 * day)
            ]
        );
        assert!(theirs.exists() && by_hand.exists());
        // A half-written file of a killed backup goes once it is old; a fresh one may be
        // a backup being written right now.
        let (stale, fresh) = (
            dir.path().join(".carebook-backup-stale"),
            dir.path().join(".carebook-backup-fresh"),
        );
        std::fs::write(&stale, b"x").unwrap();
        std::fs::write(&fresh, b"x").unwrap();
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        std::fs::File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        prune(dir.path(), &me, 2, now).unwrap();
        assert!(!stale.exists() && fresh.exists());
    }

    #[test]
    fn a_clock_set_back_does_not_postpone_backups_and_one_set_forward_makes_one() {
        let s = Schedule {
            folder: Some("/backups".into()),
            ..Schedule::default()
        };
        let day = 86_400;
        let at = 1_800_000_000;
        let last = Last {
            ok: Some((at, "f".into())),
            failed: None,
        };
        // Set back past the last backup while the program was not running: due at once, not
        // in a day plus the jump.
        assert!(s.due(&last, at - 30 * day));
        // Set back by three hours while it runs: those hours still count.
        let mut clock = ClockWatch::default();
        let t0 = Instant::now();
        assert_eq!(clock.look(t0, at + 20 * 3600), 0);
        let set_back = clock.look(t0 + Duration::from_secs(60), at + 20 * 3600 + 60 - 3 * 3600);
        assert_eq!(set_back, 3 * 3600);
        let wall_when_due = at + 21 * 3600;
        assert!(!s.due(&last, wall_when_due - 1));
        assert!(s.due(&last, wall_when_due + set_back));
        // Ordinary drift is no jump, and a backup made forgets earlier jumps.
        assert_eq!(
            clock.look(t0 + Duration::from_secs(120), at + 17 * 3600 + 115),
            set_back
        );
        clock.backed_up();
        assert_eq!(
            clock.look(t0 + Duration::from_secs(180), at + 17 * 3600 + 175),
            0
        );
        // Set forward a year: one backup, recorded then; the next look a minute on is not due.
        let ahead = at + 365 * day;
        assert!(s.due(&last, ahead));
        let made = Last {
            ok: Some((ahead, "g".into())),
            failed: None,
        };
        assert!(!s.due(&made, ahead + LOOK_EVERY.as_secs() as i64));
    }

    #[test]
    fn a_clock_set_back_while_the_program_was_closed_does_not_postpone_backups() {
        let s = Schedule {
            folder: Some("/backups".into()),
            ..Schedule::default()
        };
        let at = 1_800_000_000;
        let last = Last {
            ok: Some((at, "f".into())),
            failed: None,
        };
        // A run looked at the clock four hours after the backup, having seen it set back by
        // an hour already; closed, the clock is set back three more hours, and it starts again.
        let t0 = Instant::now();
        let mut before = ClockWatch::resume(None, at);
        before.look(t0, at + 4 * 3600);
        before.look(t0 + Duration::from_secs(60), at + 4 * 3600 + 60 - 3600);
        let kept = (at + 3 * 3600 + 60, 3600);
        assert_eq!(before.look(t0 + Duration::from_secs(61), kept.0), kept.1);
        let start = at + 60;
        let mut after = ClockWatch::resume(Some(kept), start);
        let set_back = after.look(t0 + Duration::from_secs(3600), start);
        assert_eq!(set_back, 3600 + 3 * 3600, "both jumps count");
        // A day after the backup in real time is 20 hours later on this clock: due then.
        assert!(s.due(&last, start + 20 * 3600 + set_back));
        // A clock that is only a little behind the last look (drift) is no jump, and a
        // missing or unreadable record is none.
        assert_eq!(
            ClockWatch::resume(Some((start + 10, 0)), start).look(t0, start),
            0
        );
        assert_eq!(ClockWatch::resume(None, start).look(t0, start), 0);
    }

    #[test]
    fn the_backup_clock_is_kept_between_runs() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("a.db"), crate::store::schema::CLINIC).unwrap();
        let db = store.writer();
        assert_eq!(kept_clock(&db).unwrap(), None);
        keep_clock(&db, 1_800_000_000, 0).unwrap();
        assert_eq!(kept_clock(&db).unwrap(), Some((1_800_000_000, 0)));
        set(&db, CLOCK, "garbage").unwrap();
        assert_eq!(kept_clock(&db).unwrap(), None);
    }

    #[test]
    fn backups_dated_by_a_clock_set_forward_are_pruned_first() {
        let dir = tempfile::tempdir().unwrap();
        let me = DeviceId([4; 32]);
        let day = 86_400;
        let now = 1_800_000_000;
        let names: Vec<String> = [now + 400 * day, now - 2 * day, now - day, now]
            .iter()
            .map(|at| file_name(&me, *at))
            .collect();
        for n in &names {
            std::fs::write(dir.path().join(n), b"x").unwrap();
        }
        prune(dir.path(), &me, 2, now).unwrap();
        let left = names_in(dir.path());
        assert_eq!(left, [names[2].clone(), names[3].clone()]);
    }

    #[test]
    fn the_passphrase_is_remembered_privately_and_recalled() {
        let dir = tempfile::tempdir().unwrap();
        let me = DeviceId([3; 32]);
        assert!(recall(dir.path(), &me).unwrap().is_none());
        let p = Passphrase::new("correct horse battery".into()).unwrap();
        let at = remember(dir.path(), &me, &p, Keyring::Off).unwrap();
        assert!(matches!(at, KeyStorage::File { .. }));
        let back = recall(dir.path(), &me).unwrap().unwrap();
        assert_eq!(back.text(), "correct horse battery");
    }
}
