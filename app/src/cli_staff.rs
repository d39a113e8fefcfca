//! `carebook staff list|add|edit|deactivate|reactivate|reset-pin`: the staff list from the
//! command line, for the always-on box. Every command is authorised by an administrator: their
//! name on the first line of standard input and their PIN on the second (never on the command
//! line, never printed). Exit codes: 0 done, 1 refused or failed.

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context};
use carebook_sync::clinic::staff::{self, Role, Roles, Staff};
use carebook_sync::clinic::{access, now, pin, Actor};
use carebook_sync::store::CrrConnection;

use crate::cli::Outcome;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

/// A role as typed on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum RoleArg {
    Receptionist,
    Nurse,
    Doctor,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Receptionist => Role::Receptionist,
            RoleArg::Nurse => Role::Nurse,
            RoleArg::Doctor => Role::Doctor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

fn roles(args: &[RoleArg]) -> Roles {
    args.iter()
        .map(|r| Role::from(*r))
        .fold(Roles::default(), Roles::with)
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    /// Everyone on the staff list, with their roles and whether they are active.
    List,
    /// Add a person (they set their PIN at their first sign-in).
    Add {
        name: String,
        /// A role they hold (repeat for several).
        #[arg(long = "role", required = true, value_enum)]
        roles: Vec<RoleArg>,
    },
    /// Change a person's roles.
    Edit {
        name: String,
        #[arg(long = "role", required = true, value_enum)]
        roles: Vec<RoleArg>,
    },
    /// Deactivate a person: they can no longer sign in; their past work keeps their name.
    Deactivate { name: String },
    /// Let a deactivated person sign in again.
    Reactivate { name: String },
    /// Clear a person's PIN: they choose a new one at their next sign-in.
    ResetPin { name: String },
}

/// The one person called `name` (active or not).
fn named(db: &CrrConnection, name: &str) -> anyhow::Result<Staff> {
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

/// The administrator named on standard input, signed in with the PIN on the next line.
fn administrator(db: &CrrConnection, input: &mut dyn BufRead) -> anyhow::Result<Actor> {
    let mut line = || -> anyhow::Result<String> {
        let mut l = String::new();
        input.read_line(&mut l).context("reading standard input")?;
        Ok(l.trim_end_matches(['\r', '\n']).to_string())
    };
    let (name, secret) = (line()?, line()?);
    if name.is_empty() {
        bail!("give an administrator's name on the first line of standard input and their PIN on the second");
    }
    let who = named(db, &name)?;
    match pin::sign_in(db, &who.id, &secret, now())? {
        pin::SignIn::Welcome(actor) => {
            access::require(db, &actor, access::Permission::Staff)?;
            Ok(actor)
        }
        pin::SignIn::NeedsPin => bail!("{name} has no PIN yet: sign in once in the app to set one"),
        pin::SignIn::Wrong { .. } => bail!("that PIN is not right"),
        pin::SignIn::Wait { secs } => bail!("too many wrong PINs: wait {secs} seconds"),
    }
}

pub fn run(dir: &Path, args: Args) -> anyhow::Result<Outcome> {
    let (store, _) = crate::cli::open(dir)?;
    let db = store.writer();
    let admin = administrator(&db, &mut std::io::stdin().lock())?;
    match args.action {
        Action::List => {
            for s in staff::everyone(&db)? {
                let state = if s.active { "" } else { "  (deactivated)" };
                println!("{}\t{}{state}", s.name, s.roles);
            }
        }
        Action::Add { name, roles: r } => {
            let s = staff::add_by(&db, &admin, &name, roles(&r))?;
            println!(
                "added {} ({}); they set their PIN at their first sign-in",
                s.name, s.roles
            );
        }
        Action::Edit { name, roles: r } => {
            let s = named(&db, &name)?;
            let s = staff::edit(&db, &admin, &s.id, &s.name, roles(&r))?;
            println!("{} is now {}", s.name, s.roles);
        }
        Action::Deactivate { name } => {
            staff::set_active(&db, &admin, &named(&db, &name)?.id, false)?;
            println!("deactivated {name}");
        }
        Action::Reactivate { name } => {
            staff::set_active(&db, &admin, &named(&db, &name)?.id, true)?;
            println!("reactivated {name}");
        }
        Action::ResetPin { name } => {
            pin::reset(&db, &admin, &named(&db, &name)?.id)?;
            println!("{name}'s PIN was cleared; they choose a new one at their next sign-in");
        }
    }
    Ok(Outcome::Done)
}
