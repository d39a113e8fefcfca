//! Pairing through a picture of a pairing code, without a window: `carebook id --qr FILE`
//! writes this computer's code as a PNG, and `carebook pair --from-image FILE` reads one, finds
//! which of its addresses answers with its device ID, and then pairs exactly as
//! `carebook pair ADDRESS --id ID` does.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use carebook_sync::clinic::profile;
use carebook_sync::net::roster;
use carebook_sync::pairing::pairing_link::PairingLink;
use carebook_sync::pairing::{join, qr};

use crate::cli::{self, Outcome};

/// `carebook id --qr FILE [--address ADDR]...`: the code carries the given addresses, or else
/// this computer's network addresses (and 127.0.0.1) with the port `serve` or the app last
/// listened on.
pub fn write_qr(dir: &Path, file: &Path, addresses: &[SocketAddr]) -> anyhow::Result<Outcome> {
    let (store, identity) = cli::open(dir)?;
    let (name, port) = roster::local(&store.writer());
    let name = name.unwrap_or_else(carebook_sync::net::serve::host_name);
    let clinic = profile::current(&store.writer())?
        .map(|c| c.name)
        .unwrap_or_default();
    let link = if addresses.is_empty() {
        if port == 0 {
            anyhow::bail!(
                "this computer has not listened for the others yet: run `carebook serve` (or the app) once, or give --address"
            );
        }
        PairingLink::for_this_computer(identity.id, port, &name)
    } else {
        PairingLink::new(identity.id, addresses, &name)
    }
    .with_clinic(&clinic);
    qr::save_png(&link, file)?;
    println!("{}", identity.id);
    for a in &link.addresses {
        println!("reachable at {a}");
    }
    println!("pairing code written to {}", file.display());
    Ok(Outcome::Done)
}

/// `carebook pair --from-image FILE`
pub fn pair(dir: &Path, file: &Path, name: Option<String>, yes: bool) -> anyhow::Result<Outcome> {
    let link = qr::read_file(file).with_context(|| format!("reading {}", file.display()))?;
    println!("pairing code of {}", link.from_whom());
    println!("device ID: {}", link.id);
    let identity = crate::cli::identity(dir)?;
    let address = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(join::reach(&identity, &link))?;
    println!("connecting to {address}");
    drop(identity);
    cli::pair(dir, address, &link.id.to_text(), name, yes)
}
