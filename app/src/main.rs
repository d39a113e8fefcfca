//! The `carebook` program: parses arguments, then opens the desktop window (the default) or
//! runs a headless command.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod app;
mod backend;
mod cli;
mod cli_backup;
mod gui;
mod probe;
mod screen;
mod status;
#[cfg(test)]
mod tests;
mod theme;

#[derive(Parser, Debug)]
#[command(
    name = "carebook",
    version,
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
    Id,
    /// List the clinic's computers, how each is connected, and who asks to join.
    Peers,
    /// Join the clinic through the computer at ADDRESS whose device ID is ID.
    Pair {
        address: SocketAddr,
        /// The device ID shown on that computer's screen.
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Accept a computer that asked to join.
    Accept { id: String },
    /// Remove a computer from the clinic (lost or stolen); every member refuses it.
    Remove { id: String },
    /// Make, check or import a signed, encrypted backup of the clinic's records.
    Backup(cli_backup::Args),
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CAREBOOK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = (|| {
        let dir = match cli.data_dir {
            Some(d) => d,
            None => default_data_dir()?,
        };
        let done = |r: anyhow::Result<()>| r.map(|()| cli::Outcome::Done);
        match cli.command {
            None => done(gui::run(
                &dir,
                cli.demo,
                cli.first_frame_probe,
                cli.discovery.scope(),
            )),
            Some(Command::Status) => done(status::run(&dir, &mut std::io::stdout())),
            Some(Command::Serve { listen, name }) => {
                cli::serve(&dir, listen, name, cli.discovery.scope())
            }
            Some(Command::Id) => cli::id(&dir),
            Some(Command::Peers) => cli::peers(&dir),
            Some(Command::Pair { address, id, name }) => cli::pair(&dir, address, &id, name),
            Some(Command::Accept { id }) => cli::accept(&dir, &id),
            Some(Command::Remove { id }) => cli::remove(&dir, &id),
            Some(Command::Backup(args)) => cli_backup::run(&dir, args),
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
