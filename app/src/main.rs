//! The `carebook` program: parses arguments, then opens the desktop window (the default) or
//! runs a headless command.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod app;
mod backend;
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
    let result = (|| {
        let dir = match cli.data_dir {
            Some(d) => d,
            None => default_data_dir()?,
        };
        match cli.command {
            None => gui::run(&dir, cli.demo, cli.first_frame_probe),
            Some(Command::Status) => status::run(&dir, &mut std::io::stdout()),
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carebook: {e:#}");
            ExitCode::FAILURE
        }
    }
}
