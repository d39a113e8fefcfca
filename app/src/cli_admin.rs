//! The administrator behind a command that changes who the clinic trusts or what its backups
//! hold (`pair`, `accept`, `remove`, `backup ...`, `staff ...`): their name on the first line of
//! standard input and their PIN on the second, never on the command line and never printed (at
//! a terminal both are asked for, the PIN without echo). A computer that holds no staff yet (one
//! joining a clinic, or being restored from a backup) has nothing to protect and needs nobody.
//! Each authorised command is in the access log.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Context};
use carebook_sync::clinic::access::{self, Action, Permission};
use carebook_sync::clinic::staff::{self, Staff};
use carebook_sync::clinic::{now, pin, Actor};
use carebook_sync::store::CrrConnection;

/// The one person called `name` (active or not).
pub fn named(db: &CrrConnection, name: &str) -> anyhow::Result<Staff> {
    let found: Vec<Staff> = staff::everyone(db)?
        .into_iter()
        .filter(|s| s.name == name)
        .collect();
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one")),
        0 => bail!("nobody called \"{name}\" is on the staff list"),
        _ => bail!("more than one person is called \"{name}\"; rename one in the app first"),
    }
}

/// A name and a PIN from standard input: asked for at a terminal, read as two lines otherwise.
fn credentials() -> anyhow::Result<(String, String)> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("administrator's name: ");
        std::io::stderr().flush()?;
        let mut name = String::new();
        stdin.lock().read_line(&mut name)?;
        let secret = rpassword::prompt_password("PIN: ").context("reading the PIN")?;
        return Ok((name.trim().to_string(), secret));
    }
    let mut input = stdin.lock();
    let mut line = || -> anyhow::Result<String> {
        let mut l = String::new();
        input.read_line(&mut l).context("reading standard input")?;
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    };
    Ok((line()?, line()?))
}

/// The administrator named on standard input, signed in with their PIN and allowed `needs`;
/// `command` is what the access log records they ran.
pub fn signed_in(db: &CrrConnection, needs: Permission, command: &str) -> anyhow::Result<Actor> {
    let (name, secret) = credentials()?;
    if name.is_empty() {
        bail!("give an administrator's name on the first line of standard input and their PIN on the second");
    }
    let who = named(db, &name)?;
    let actor = match pin::sign_in(db, &who.id, &secret, now())? {
        pin::SignIn::Welcome(actor) => actor,
        pin::SignIn::NeedsPin => bail!("{name} has no PIN yet: sign in once in the app to set one"),
        pin::SignIn::Wrong { .. } => bail!("that PIN is not right"),
        pin::SignIn::Wait { secs } => bail!("too many wrong PINs: wait {secs} seconds"),
    };
    access::require(db, &actor, needs)?;
    access::log(db, &actor, Action::CommandLine, "", command, "")?;
    Ok(actor)
}

/// Like [`signed_in`], except on a computer that holds no staff yet (joining or being restored):
/// nobody is asked then.
pub fn authorise(db: &CrrConnection, needs: Permission, command: &str) -> anyhow::Result<()> {
    if !access::staffed(db)? {
        return Ok(());
    }
    signed_in(db, needs, command).map(drop)
}
