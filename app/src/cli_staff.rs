//! `carebook staff list|add|edit|deactivate|reactivate|reset-pin`: the staff list from the
//! command line, for the always-on box. Every command is authorised by an administrator
//! (`cli_admin`: their name and PIN on standard input). Exit codes: 0 done, 1 refused or failed.

use std::path::Path;

use carebook_sync::clinic::staff::{self, Role, Roles};
use carebook_sync::clinic::{access, pin};

use crate::cli::Outcome;
use crate::cli_admin;

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

pub fn run(dir: &Path, args: Args) -> anyhow::Result<Outcome> {
    let (store, _) = crate::cli::open(dir)?;
    let db = store.writer();
    let admin = cli_admin::signed_in(&db, access::Permission::Staff, "staff")?;
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
            let s = cli_admin::named(&db, &name)?;
            let s = staff::edit(&db, &admin, &s.id, &s.name, roles(&r))?;
            println!("{} is now {}", s.name, s.roles);
        }
        Action::Deactivate { name } => {
            staff::set_active(&db, &admin, &cli_admin::named(&db, &name)?.id, false)?;
            println!("deactivated {name}");
        }
        Action::Reactivate { name } => {
            staff::set_active(&db, &admin, &cli_admin::named(&db, &name)?.id, true)?;
            println!("reactivated {name}");
        }
        Action::ResetPin { name } => {
            pin::reset(&db, &admin, &cli_admin::named(&db, &name)?.id)?;
            println!("{name}'s PIN was cleared; they choose a new one at their next sign-in");
        }
    }
    Ok(Outcome::Done)
}
