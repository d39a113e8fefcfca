//! The `carebook` program: parses arguments, then opens the desktop window (the default) or
//! runs a headless command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod app;
mod at_keyboard;
mod autobackup;
mod backend;
mod bars;
mod changes;
mod cli;
mod cli_admin;
mod cli_backup;
mod cli_pair_image;
mod cli_schedule;
mod cli_staff;
mod clock;
mod context;
mod dialogs;
mod facts;
mod gui;
mod listen;
mod logs;
mod nav;
mod passphrase;
mod probe;
mod screen;
mod status;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_backups;
#[cfg(test)]
mod tests_book;
#[cfg(test)]
mod tests_scan;
#[cfg(test)]
mod tests_staff;
mod theme;

#[derive(Parser, Debug)]
#[command(
    name = "carebook",
    disable_version_flag = true,
    about = "Patient records for small clinics, in sync without a server"
)]
struct Cli {
    /// Folder for this instance's data (default: the platform's data folder).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Fill a new database with made-up patients, appointments and visits to try Carebook.
    #[arg(long)]
    demo: bool,
    /// Where to announce and look for the clinic's computers (mDNS).
    #[arg(long, global = true, value_enum, default_value_t = DiscoveryArg::Lan)]
    discovery: DiscoveryArg,
    /// Print when the first frame is drawn and the peak memory, then exit (for benchmarks).
    #[arg(long, hide = true)]
    first_frame_probe: bool,
    /// Keep this patient's page open and print a digest of its phone number whenever the page
    /// shows a new one (for benchmarks).
    #[arg(long, hide = true, value_name = "PATIENT_ID")]
    patient_probe: Option<String>,
    /// Print the version, the data and log folders and this computer's device ID (for the IT
    /// helper).
    #[arg(short = 'V', long)]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Open the local database (creating it if needed) and print what it holds.
    Status,
    /// Run without a window, keeping this computer in sync with the clinic's others.
    Serve {
        /// Address and port to listen on.
        #[arg(long, default_value = "0.0.0.0:7462")]
        listen: SocketAddr,
        /// This computer's name, shown to the others (default: the host name).
        #[arg(long)]
        name: Option<String>,
    },
    /// Print this computer's device ID (read it to the person at the other computer).
    Id {
        /// Also write this computer's pairing code (ID and addresses) to FILE as a PNG.
        #[arg(long, value_name = "FILE")]
        qr: Option<PathBuf>,
        /// An address to put in the code (repeatable; default: this computer's addresses).
        #[arg(long = "address", value_name = "ADDR", requires = "qr")]
        addresses: Vec<SocketAddr>,
    },
    /// List the clinic's computers, how each is connected, and who asks to join.
    Peers,
    /// Join the clinic through the computer at ADDRESS whose device ID is ID (or whose
    /// pairing code is in a picture).
    Pair {
        #[arg(required_unless_present = "from_image", conflicts_with = "from_image")]
        address: Option<SocketAddr>,
        /// The device ID shown on that computer's screen.
        #[arg(long, required_unless_present = "from_image")]
        id: Option<String>,
        /// A picture (PNG or JPEG) of that computer's pairing code, instead of ADDRESS and --id.
        #[arg(long, value_name = "FILE", conflicts_with = "id")]
        from_image: Option<PathBuf>,
        #[arg(long)]
        name: Option<String>,
        /// Add it without asking (when this computer is in a clinic already, every computer
        /// of the clinic trusts the new one at once).
        #[arg(long)]
        yes: bool,
    },
    /// Accept a computer that asked to join.
    Accept { id: String },
    /// Remove a computer from the clinic (lost or stolen); every member refuses it.
    Remove { id: String },
    /// Make, check or import a signed, encrypted backup of the clinic's records.
    Backup(cli_backup::Args),
    /// The staff list: list, add, edit, deactivate, reactivate, reset a PIN (an administrator's
    /// name and PIN are read from standard input).
    Staff(cli_staff::Args),
}

/// mDNS discovery choices for `serve`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum DiscoveryArg {
    Lan,
    Loopback,
    Off,
}

impl DiscoveryArg {
    fn scope(self) -> Option<carebook_sync::net::discovery::Scope> {
        match self {
            DiscoveryArg::Lan => Some(carebook_sync::net::discovery::Scope::Lan),
            DiscoveryArg::Loopback => Some(carebook_sync::net::discovery::Scope::Loopback),
            DiscoveryArg::Off => None,
        }
    }
}

/// The default data folder: ~/.local/share/carebook, %APPDATA%\Carebook, ~/Library/Application
/// Support/org.Carebook.Carebook.
fn default_data_dir() -> anyhow::Result<PathBuf> {
    directories::ProjectDirs::from("org", "Carebook", "Carebook")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or_else(|| anyhow::anyhow!("no home folder found; pass --data-dir"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_dir = logs::folder(cli.data_dir.as_deref());
    // `--version` makes nothing, not even a log file.
    let _log_guard = logs::init(log_dir.as_deref().filter(|_| !cli.version));
    let result = (|| {
        let dir = match cli.data_dir {
            Some(d) => d,
            None => default_data_dir()?,
        };
        let done = |r: anyhow::Result<()>| r.map(|()| cli::Outcome::Done);
        if cli.version {
            return cli::version(&dir, log_dir.as_deref());
        }
        match cli.command {
            None => done(gui::run(
                &dir,
                log_dir.clone(),
                cli.demo,
                match (cli.first_frame_probe, cli.patient_probe) {
                    (true, _) => probe::Probe::FirstFrame,
                    (false, Some(id)) => probe::Probe::Patient(id),
                    (false, None) => probe::Probe::Off,
                },
                cli.discovery.scope(),
            )),
            Some(Command::Status) => done(status::run(&dir, &mut std::io::stdout())),
            Some(Command::Serve { listen, name }) => {
                cli::serve(&dir, listen, name, cli.discovery.scope())
            }
            Some(Command::Id { qr: None, .. }) => cli::id(&dir),
            Some(Command::Id {
                qr: Some(file),
                addresses,
            }) => cli_pair_image::write_qr(&dir, &file, &addresses),
            Some(Command::Peers) => cli::peers(&dir),
            Some(Command::Pair {
                from_image: Some(file),
                name,
                yes,
                ..
            }) => cli_pair_image::pair(&dir, &file, name, yes),
            Some(Command::Pair {
                address: Some(address),
                id: Some(id),
                name,
                yes,
                ..
            }) => cli::pair(&dir, address, &id, name, yes),
            Some(Command::Pair { .. }) => unreachable!("clap asks for ADDRESS and --id"),
            Some(Command::Accept { id }) => cli::accept(&dir, &id),
            Some(Command::Remove { id }) => cli::remove(&dir, &id),
            Some(Command::Backup(args)) => cli_backup::run(&dir, args),
            Some(Command::Staff(args)) => cli_staff::run(&dir, args),
        }
    })();
    match result {
        Ok(cli::Outcome::Done) => ExitCode::SUCCESS,
        Ok(cli::Outcome::NotFound) => ExitCode::from(3),
        Err(e) => {
            eprintln!("carebook: {e:#}");
            ExitCode::FAILURE
        }
    }
}
