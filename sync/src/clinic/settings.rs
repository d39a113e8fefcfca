//! The clinic's settings, the same on every computer (a replicated table): how long an untouched
//! window waits before it locks. Changing one needs an administrator and is in the access log; a
//! value that arrives out of range (an older or a hostile computer) reads as the nearest allowed
//! one, so no merge can switch the lock off.

use std::ops::RangeInclusive;

use rusqlite::{params, Connection, OptionalExtension};

use super::access::{self, Action, Permission};
use super::{Actor, ClinicError, FieldError, Result};

const IDLE_LOCK: &str = "idle_lock_minutes";

/// The idle time before the window locks, in minutes, when the clinic has not set one.
pub const DEFAULT_IDLE_MINUTES: u32 = 5;

/// The idle times an administrator may choose, in minutes.
pub const IDLE_MINUTES: RangeInclusive<u32> = 1..=60;

/// A setting's stored value, if any.
pub(super) fn get(db: &Connection, key: &str) -> Result<Option<String>> {
    Ok(db
        .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// How long an untouched window waits before it locks, in minutes.
pub fn idle_lock_minutes(db: &Connection) -> Result<u32> {
    let stored = get(db, IDLE_LOCK)?.and_then(|v| v.trim().parse::<i64>().ok());
    Ok(match stored {
        Some(m) => m.clamp(
            i64::from(*IDLE_MINUTES.start()),
            i64::from(*IDLE_MINUTES.end()),
        ) as u32,
        None => DEFAULT_IDLE_MINUTES,
    })
}

/// Sets the clinic's idle time before the window locks (administrators), recorded.
pub fn set_idle_lock_minutes(db: &Connection, actor: &Actor, minutes: u32) -> Result<()> {
    if !IDLE_MINUTES.contains(&minutes) {
        return Err(ClinicError::Invalid(vec![FieldError {
            field: "idle_lock_minutes",
            message: format!(
                "the idle time must be between {} and {} minutes",
                IDLE_MINUTES.start(),
                IDLE_MINUTES.end()
            ),
        }]));
    }
    put(db, actor, IDLE_LOCK, &minutes.to_string())
}

/// Stores a setting (administrators), recorded in the access log.
pub(super) fn put(db: &Connection, actor: &Actor, key: &str, value: &str) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Settings)?;
    tx.execute(
        "INSERT INTO settings(key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    access::log(&tx, actor, Action::SettingChanged, "", key, value)?;
    tx.commit()
}
