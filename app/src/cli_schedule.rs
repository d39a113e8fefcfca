//! `carebook backup schedule` and `carebook backup remember-passphrase`: automatic backups
//! on this computer, set up without a window (an always-on box runs them while `serve` runs,
//! as the app does while it is open).

use std::path::{Path, PathBuf};

use carebook_sync::backup::schedule::{self, Schedule};
use carebook_sync::backup::Passphrase;

use crate::cli::Outcome;
use crate::clock;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The folder automatic backups go to (an external disk or a share).
    #[arg(long, value_name = "DIR", conflicts_with = "off")]
    folder: Option<PathBuf>,
    /// How often, in hours (default 24).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    every_hours: Option<u32>,
    /// How many of this computer's automatic backups to keep (default 14).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    keep: Option<u32>,
    /// Turn automatic backups off.
    #[arg(long)]
    off: bool,
}

/// `carebook backup schedule [--folder DIR] [--every-hours N] [--keep N] [--off]`: changes
/// what is given, then prints the schedule and the last backup.
pub fn run(dir: &Path, args: Args) -> anyhow::Result<Outcome> {
    let (store, identity) = crate::cli::open(dir)?;
    let db = store.writer();
    let mut s = schedule::load(&db)?;
    if args.off {
        s.folder = None;
    }
    s = Schedule {
        folder: args.folder.or(s.folder),
        every_hours: args.every_hours.unwrap_or(s.every_hours),
        keep: args.keep.unwrap_or(s.keep),
    };
    schedule::save(&db, &s)?;
    match &s.folder {
        Some(f) => println!(
            "automatic backups: every {} hours into {}, keeping the newest {}",
            s.every_hours,
            f.display(),
            s.keep
        ),
        None => println!("automatic backups: off"),
    }
    let last = schedule::last(&db)?;
    match &last.ok {
        Some((at, file)) => println!("last backup: {} {file}", clock::local(*at, clock::MINUTE)),
        None => println!("last backup: none yet"),
    }
    if let Some((at, why)) = &last.failed {
        println!("last failure: {} {why}", clock::local(*at, clock::MINUTE));
    }
    let now = chrono::Utc::now().timestamp();
    if s.overdue(&last, now) {
        println!("warning: a backup is overdue");
    }
    if s.folder.is_some() && schedule::recall(dir, &identity.id)?.is_none() {
        println!(
            "warning: this computer does not remember the backup passphrase; run `carebook backup remember-passphrase`"
        );
    }
    Ok(Outcome::Done)
}

/// `carebook backup remember-passphrase`
pub fn remember(dir: &Path, passphrase: &Passphrase) -> anyhow::Result<Outcome> {
    let identity = crate::cli::identity(dir)?;
    let at = schedule::remember(
        dir,
        &identity.id,
        passphrase,
        carebook_sync::identity::Keyring::Use,
    )?;
    println!("the backup passphrase is kept {at}");
    Ok(Outcome::Done)
}
