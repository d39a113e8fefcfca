//! `carebook backup export|verify|import FILE`: signed, encrypted backups from the command
//! line. The passphrase comes from `--passphrase-file F` or `$CAREBOOK_BACKUP_PASSPHRASE`, never
//! from the command line, and is never printed. An administrator authorises each command
//! (`cli_admin`) once this computer holds the clinic's staff. Ctrl+C cancels (no partial file, nothing
//! imported). Plain text out, counts only (no patient data). Exit codes: 0 done, 1 failed or
//! refused, 2 bad arguments (no passphrase given), 3 no such file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use carebook_sync::backup::{
    self, BackupError, ClinicMatch, Control, ImportOptions, Manifest, Passphrase, Report,
};
use carebook_sync::clinic::access::Permission;
use carebook_sync::identity::{DeviceId, Identity};
use carebook_sync::store::{schema, Store};

use crate::cli::Outcome;
use crate::clock;

/// The environment variable that may hold the backup passphrase.
const PASSPHRASE_VAR: &str = "CAREBOOK_BACKUP_PASSPHRASE";

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// A file holding the clinic's backup passphrase (one line); without it the passphrase is
    /// taken from $CAREBOOK_BACKUP_PASSPHRASE.
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

#[derive(clap::Subcommand, Debug)]
enum Action {
    #[command(flatten)]
    File(FileAction),
    /// Show or set this computer's automatic backups (the app and `serve` make them).
    Schedule(crate::cli_schedule::Args),
    /// Remember the clinic's backup passphrase on this computer (the keyring, or a file only
    /// you can read), so automatic backups run unattended.
    RememberPassphrase,
}

/// What is done with one backup file.
#[derive(clap::Subcommand, Debug)]
enum FileAction {
    /// Write a backup of the whole database to FILE (the app may keep running).
    Export { file: PathBuf },
    /// Check FILE and say who signed it, when, and what it holds; changes nothing.
    Verify { file: PathBuf },
    /// Merge FILE's records into this database (nothing here is lost or rolled back).
    Import {
        file: PathBuf,
        /// Import even though the signer is unknown to this clinic or was removed from it
        /// (its device ID, as `backup verify` shows it).
        #[arg(long, value_name = "ID")]
        accept_signer: Option<String>,
    },
}

fn passphrase(file: Option<&Path>) -> anyhow::Result<Passphrase> {
    let text = match file {
        Some(f) => {
            let mut text = std::fs::read_to_string(f)
                .with_context(|| format!("reading the passphrase file {}", f.display()))?;
            if text.ends_with('\n') {
                text.pop();
                if text.ends_with('\r') {
                    text.pop();
                }
            }
            text
        }
        None => match std::env::var(PASSPHRASE_VAR) {
            Ok(t) => t,
            Err(_) => clap::Error::raw(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!(
                    "no backup passphrase: pass --passphrase-file FILE or set {PASSPHRASE_VAR}\n"
                ),
            )
            .exit(),
        },
    };
    Ok(Passphrase::new(text)?)
}

/// Runs `work` on another thread; Ctrl+C asks it to cancel.
fn cancellable<T: Send>(work: impl FnOnce(&Control) -> T + Send) -> anyhow::Result<T> {
    let control = Arc::new(Control::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(std::thread::scope(|s| {
        let job = s.spawn(|| work(&control));
        runtime.block_on(async {
            while !job.is_finished() {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => control.cancel(),
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        });
        job.join().expect("the backup thread does not panic")
    }))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A clinic as printed: its name (if it has one) and id.
fn clinic(m: &Manifest) -> String {
    if m.clinic_name.is_empty() {
        format!("unnamed clinic {}", m.clinic_id)
    } else {
        format!("\"{}\" {}", m.clinic_name, m.clinic_id)
    }
}

fn print_contents(m: &Manifest) {
    println!(
        "snapshot:   db version {}, schema {}, site id {}",
        m.db_version,
        m.schema_version,
        hex(&m.site_id)
    );
    let rows: Vec<String> = m
        .rows
        .iter()
        .map(|t| format!("{} {}", t.table, t.rows))
        .collect();
    println!("rows:       {}", rows.join(", "));
    for s in &m.sites {
        println!(
            "changes:    {} from site {} (up to db version {})",
            s.changes,
            hex(&s.site_id),
            s.db_version
        );
    }
}

fn print_report(file: &Path, r: &Report) {
    let m = &r.manifest;
    println!(
        "backup:     {} ({} bytes, format {}, Carebook {})",
        file.display(),
        r.bytes,
        m.format,
        m.app_version
    );
    println!("signature:  valid");
    let name = r.signer_name.clone().unwrap_or_else(|| {
        if m.device_name.is_empty() {
            "unnamed computer".into()
        } else {
            format!("\"{}\" (its own name for itself)", m.device_name)
        }
    });
    println!("signed by:  {name}, {}", r.signer);
    println!("signer is:  {}", r.standing);
    println!("made:       {}", clock::local(m.created_at, clock::SECOND));
    let here = match &r.clinic {
        ClinicMatch::Same => "this clinic".to_string(),
        ClinicMatch::NoneHere => "no clinic here yet: it can be restored".to_string(),
        ClinicMatch::Other { here } => format!("ANOTHER clinic (this one is \"{here}\")"),
    };
    println!("clinic:     {}: {here}", clinic(m));
    print_contents(m);
}

/// Explains a refusal, with the way out when there is one.
fn refused(file: &Path, e: BackupError) -> anyhow::Error {
    if let BackupError::UnknownSigner(id) | BackupError::RevokedSigner { id, .. } = &e {
        eprintln!(
            "carebook: check the signer with `carebook backup verify {}`; to import it anyway: --accept-signer {id}",
            file.display()
        );
    }
    anyhow::Error::new(e).context(format!(
        "{} was not imported; nothing changed",
        file.display()
    ))
}

fn open(dir: &Path) -> anyhow::Result<(Store, Identity)> {
    let path = crate::status::database_path(dir);
    let store = Store::open(&path, schema::CLINIC)
        .with_context(|| format!("opening the database {}", path.display()))?;
    let identity = crate::cli::identity(dir)?;
    Ok((store, identity))
}

/// Every backup command needs an administrator once this computer holds the clinic's staff
/// (a computer being restored holds none yet).
fn authorise(dir: &Path, command: &str) -> anyhow::Result<()> {
    let (store, _) = open(dir)?;
    let db = store.writer();
    crate::cli_admin::authorise(&db, Permission::Backups, command)
}

/// `carebook backup ...`
pub fn run(dir: &Path, args: Args) -> anyhow::Result<Outcome> {
    let passphrase_file = args.passphrase_file.as_deref();
    match args.action {
        Action::File(action) => file(dir, action, passphrase_file),
        Action::Schedule(a) => {
            authorise(dir, "backup schedule")?;
            crate::cli_schedule::run(dir, a)
        }
        Action::RememberPassphrase => {
            let passphrase = passphrase(passphrase_file)?;
            authorise(dir, "backup remember-passphrase")?;
            crate::cli_schedule::remember(dir, &passphrase)
        }
    }
}

/// `carebook backup export|verify|import FILE`
fn file(dir: &Path, action: FileAction, passphrase_file: Option<&Path>) -> anyhow::Result<Outcome> {
    let file = match &action {
        FileAction::Export { file }
        | FileAction::Verify { file }
        | FileAction::Import { file, .. } => file,
    };
    let reads = !matches!(action, FileAction::Export { .. });
    if reads && !file.is_file() {
        eprintln!("carebook: no such backup file: {}", file.display());
        return Ok(Outcome::NotFound);
    }
    let accept = match &action {
        FileAction::Import {
            accept_signer: Some(id),
            ..
        } => Some(
            DeviceId::parse(id).map_err(|e| anyhow::anyhow!("that device ID is not right: {e}"))?,
        ),
        _ => None,
    };
    let passphrase = passphrase(passphrase_file)?;
    let (store, identity) = open(dir)?;
    let command = match &action {
        FileAction::Export { .. } => "backup export",
        FileAction::Verify { .. } => "backup verify",
        FileAction::Import { .. } => "backup import",
    };
    crate::cli_admin::authorise(&store.writer(), Permission::Backups, command)?;
    match &action {
        FileAction::Export { file } => {
            let m = cancellable(|c| backup::export(&store, &identity, &passphrase, file, c))?
                .with_context(|| format!("writing the backup {}", file.display()))?;
            let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            println!("wrote:      {} ({size} bytes)", file.display());
            println!("clinic:     {}", clinic(&m));
            println!("signed by:  this computer, {}", identity.id);
            print_contents(&m);
        }
        FileAction::Verify { file } => {
            let r = cancellable(|c| {
                let reader = store.reader()?;
                backup::verify(&reader, &identity.id, file, &passphrase, c)
            })?
            .map_err(|e| {
                anyhow::Error::new(e).context(format!("{} did not verify", file.display()))
            })?;
            print_report(file, &r);
        }
        FileAction::Import { file, .. } => {
            let options = ImportOptions {
                this_device: identity.id,
                accept_signer: accept,
            };
            let done = cancellable(|c| backup::import(&store, file, &passphrase, &options, c))?
                .map_err(|e| refused(file, e))?;
            print_report(file, &done.report);
            if done.db_version_after == done.db_version_before {
                println!("imported:   nothing new; this database already held all of it");
            } else {
                println!(
                    "imported:   {} changes merged; db version {} -> {}",
                    done.changes, done.db_version_before, done.db_version_after
                );
            }
        }
    }
    Ok(Outcome::Done)
}
