//! Signing in: each person's PIN (at least six digits) or passphrase, kept only as a salted
//! Argon2id hash in the replicated `credentials` table, so every computer of the clinic checks it
//! without the network. Wrong PINs are recorded in the access log and slow down: after the second
//! wrong try in a row, each further try waits twice as long as the last (per person, on each
//! computer, counted in its local `pin_failures`), up to five minutes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use rusqlite::{params, Connection, OptionalExtension};

use super::access::{self, Action, Permission};
use super::{device_id, now, Actor, ClinicError, FieldError, Result};

/// Fewest digits a PIN may have.
pub const MIN_DIGITS: usize = 6;
/// Fewest characters a passphrase (anything that is not all digits) may have.
pub const MIN_PASSPHRASE: usize = 10;
/// Longest wait between tries, in seconds.
pub const MAX_WAIT_SECS: i64 = 300;

/// Argon2id with 64 MiB and three passes: about a fifth of a second per check on a small
/// clinic PC (the `pin_verify_ms` benchmark), slow enough that a copied database does not give
/// up six-digit PINs quickly, fast enough that nobody waits at the keyboard.
fn hasher() -> Argon2<'static> {
    let params = Params::new(64 * 1024, 3, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Why a new PIN is not acceptable, in the person's words.
pub fn problem(secret: &str) -> Option<String> {
    let digits = !secret.is_empty() && secret.chars().all(|c| c.is_ascii_digit());
    if digits && secret.len() < MIN_DIGITS {
        Some(format!("a PIN needs at least {MIN_DIGITS} digits"))
    } else if !digits && secret.chars().count() < MIN_PASSPHRASE {
        Some(format!(
            "use a PIN of at least {MIN_DIGITS} digits, or a passphrase of at least {MIN_PASSPHRASE} characters"
        ))
    } else {
        None
    }
}

fn hash(secret: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| ClinicError::Refused("the system's random source failed".into()))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|_| ClinicError::Refused("could not make a salt".into()))?;
    hasher()
        .hash_password(secret.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ClinicError::Refused("could not hash the PIN".into()))
}

/// Whether `secret` matches a stored hash (a hash this version cannot read never matches).
pub fn verify(stored: &str, secret: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| hasher().verify_password(secret.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

fn stored_hash(db: &Connection, staff_id: &str) -> Result<String> {
    Ok(db
        .prepare_cached("SELECT hash FROM credentials WHERE staff_id = ?1")?
        .query_row([staff_id], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

fn store(db: &Connection, staff_id: &str, hash: &str, by: &str) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO credentials(staff_id, hash, set_at, set_by) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(staff_id) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at,
             set_by = excluded.set_by",
    )?
    .execute(params![staff_id, hash, now(), by])?;
    Ok(())
}

/// Whether this person has a PIN yet (none: they set one at their first sign-in).
pub fn has_pin(db: &Connection, staff_id: &str) -> Result<bool> {
    Ok(!stored_hash(db, staff_id)?.is_empty())
}

/// What a sign-in attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in: act as this.
    Welcome(Actor),
    /// This person has no PIN yet (new, or reset by an administrator): set one first.
    NeedsPin,
    /// Wrong PIN; the next try is allowed after this many seconds (0: at once).
    Wrong { wait_secs: i64 },
    /// Too soon after wrong tries: wait this many seconds more.
    Wait { secs: i64 },
}

/// How long to wait after `failures` wrong tries in a row.
pub fn wait_after(failures: i64) -> i64 {
    if failures < 2 {
        0
    } else {
        (1i64 << (failures - 1).min(12)).min(MAX_WAIT_SECS)
    }
}

fn failures(db: &Connection, staff_id: &str) -> Result<(i64, i64)> {
    Ok(db
        .prepare_cached("SELECT count, last_at FROM pin_failures WHERE staff_id = ?1")?
        .query_row([staff_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, 0)))
}

/// Checks a person's PIN at time `at` (seconds since 1970): the library's only way to an
/// [`Actor`] for a person with a PIN.
pub fn sign_in(db: &Connection, staff_id: &str, secret: &str, at: i64) -> Result<SignIn> {
    let actor = Actor {
        staff_id: staff_id.to_string(),
        device_id: device_id(db)?,
    };
    access::roles_of(db, &actor)?;
    let stored = stored_hash(db, staff_id)?;
    if stored.is_empty() {
        return Ok(SignIn::NeedsPin);
    }
    let (count, last) = failures(db, staff_id)?;
    let ready = last + wait_after(count);
    if at < ready {
        return Ok(SignIn::Wait { secs: ready - at });
    }
    if verify(&stored, secret) {
        db.prepare_cached("DELETE FROM pin_failures WHERE staff_id = ?1")?
            .execute([staff_id])?;
        access::log(db, &actor, Action::SignedIn, "", staff_id, "")?;
        return Ok(SignIn::Welcome(actor));
    }
    let count = count + 1;
    db.prepare_cached(
        "INSERT INTO pin_failures(staff_id, count, last_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(staff_id) DO UPDATE SET count = excluded.count, last_at = excluded.last_at",
    )?
    .execute(params![staff_id, count, at])?;
    access::log(
        db,
        &actor,
        Action::WrongPin,
        "",
        staff_id,
        &count.to_string(),
    )?;
    Ok(SignIn::Wrong {
        wait_secs: wait_after(count),
    })
}

fn invalid(message: String) -> ClinicError {
    ClinicError::Invalid(vec![FieldError {
        field: "pin",
        message,
    }])
}

/// Sets the first PIN of a person who has none (a new person, or after a reset), and signs
/// them in.
pub fn set_first(db: &Connection, staff_id: &str, secret: &str) -> Result<Actor> {
    if let Some(p) = problem(secret) {
        return Err(invalid(p));
    }
    let actor = Actor {
        staff_id: staff_id.to_string(),
        device_id: device_id(db)?,
    };
    let tx = super::Atomic::begin(db)?;
    access::roles_of(&tx, &actor)?;
    if has_pin(&tx, staff_id)? {
        return Err(ClinicError::Refused(
            "this person already has a PIN; sign in with it".into(),
        ));
    }
    store(&tx, staff_id, &hash(secret)?, staff_id)?;
    access::log(&tx, &actor, Action::PinSet, "", staff_id, "")?;
    tx.commit()?;
    Ok(actor)
}

/// Changes the signed-in person's own PIN.
pub fn change(db: &Connection, actor: &Actor, old: &str, new: &str) -> Result<()> {
    if let Some(p) = problem(new) {
        return Err(invalid(p));
    }
    access::roles_of(db, actor)?;
    if !verify(&stored_hash(db, &actor.staff_id)?, old) {
        return Err(invalid("the current PIN is not right".into()));
    }
    let tx = super::Atomic::begin(db)?;
    store(&tx, &actor.staff_id, &hash(new)?, &actor.staff_id)?;
    access::log(&tx, actor, Action::PinSet, "", &actor.staff_id, "")?;
    tx.commit()
}

/// Clears a person's PIN (administrators), recorded: they set a new one at their next sign-in.
pub fn reset(db: &Connection, actor: &Actor, staff_id: &str) -> Result<()> {
    let tx = super::Atomic::begin(db)?;
    access::require(&tx, actor, Permission::Staff)?;
    super::staff::get(&tx, staff_id)?;
    store(&tx, staff_id, "", &actor.staff_id)?;
    tx.execute("DELETE FROM pin_failures WHERE staff_id = ?1", [staff_id])?;
    access::log(&tx, actor, Action::PinReset, "", staff_id, "")?;
    tx.commit()
}
