//! The headless commands, for an always-on box and for scripts: `serve`, `id`, `peers`, `pair`,
//! `accept`, `remove` (the last three need an administrator once this computer holds the
//! clinic's staff: `cli_admin`). Plain text out; exit codes: 0 done, 1 failed, 2 bad arguments, 3 no
//! such device or request.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use carebook_sync::clinic::access::Permission;
use carebook_sync::identity::{DeviceId, Identity};
use carebook_sync::net::discovery::Scope;
use carebook_sync::net::members::{self, Acceptance, Pairing, Removal};
use carebook_sync::net::node::Node;
use carebook_sync::net::roster;
use carebook_sync::net::serve::{self, Config};
use carebook_sync::store::{schema, Store};

use crate::cli_admin;

/// A command's outcome as an exit code.
pub enum Outcome {
    Done,
    NotFound,
}

fn store(dir: &Path) -> anyhow::Result<Arc<Store>> {
    let path = crate::status::database_path(dir);
    let store = Store::open(&path, schema::CLINIC)
        .with_context(|| format!("opening the database {}", path.display()))?;
    Ok(Arc::new(store))
}

pub(crate) fn open(dir: &Path) -> anyhow::Result<(Arc<Store>, Identity)> {
    Ok((store(dir)?, identity(dir)?))
}

/// This computer's identity, saying in the log where its private key is kept.
pub fn identity(dir: &Path) -> anyhow::Result<Identity> {
    let identity = Identity::load_or_create(dir).context("reading this computer's identity")?;
    tracing::info!("this computer's private key is kept {}", identity.storage);
    Ok(identity)
}

fn device(text: &str) -> anyhow::Result<DeviceId> {
    DeviceId::parse(text).map_err(|e| anyhow::anyhow!("that device ID is not right: {e}"))
}

/// `carebook --version`: what the clinic's IT helper asks for first. Reads only; makes nothing.
pub fn version(dir: &Path, log_dir: Option<&Path>) -> anyhow::Result<Outcome> {
    print!("{}", crate::facts::Facts::read(dir, log_dir).text());
    Ok(Outcome::Done)
}

/// `carebook id`
pub fn id(dir: &Path) -> anyhow::Result<Outcome> {
    let (_, identity) = open(dir)?;
    println!("{}", identity.id);
    Ok(Outcome::Done)
}

/// `carebook peers`
pub fn peers(dir: &Path) -> anyhow::Result<Outcome> {
    let (store, identity) = open(dir)?;
    let db = store.writer();
    let members = roster::members(&db)?;
    println!("DEVICE    NAME                 STATE      LAST CONTACT        ADDRESS");
    for m in members {
        let (state, when, detail) = if m.id == identity.id {
            ("this one".to_string(), String::new(), String::new())
        } else if m.revoked {
            ("removed".to_string(), String::new(), String::new())
        } else {
            match roster::status(&db, &m.id)? {
                Some(p) => {
                    let when = chrono::DateTime::from_timestamp(p.last_contact, 0)
                        .map(|t| {
                            t.with_timezone(&chrono::Local)
                                .format("%Y-%m-%d %H:%M:%S")
                                .to_string()
                        })
                        .unwrap_or_default();
                    let state = match p.state.as_str() {
                        "catching up" => format!("catching up ({} changes to send)", p.lag),
                        _ => p.state,
                    };
                    (state, when, p.detail)
                }
                None => ("never seen".into(), String::new(), String::new()),
            }
        };
        println!(
            "{:<9} {:<20} {:<10} {:<19} {}",
            m.id.short(),
            m.name,
            state,
            when,
            m.address
        );
        if !detail.is_empty() {
            println!("          last ended: {detail}");
        }
    }
    for away in roster::long_away(&db, &identity.id, chrono::Utc::now().timestamp())? {
        println!("\nwarning: {away}");
    }
    let held = roster::held_back(&db)?;
    if !held.is_empty() {
        println!(
            "\nHELD BACK until this computer is updated to a newer Carebook (nothing is lost):"
        );
        for h in held {
            println!("{h}");
        }
    }
    let requests = roster::requests(&db)?;
    if !requests.is_empty() {
        println!("\nASKING TO JOIN (carebook accept ID):");
        for r in requests {
            println!("{}  {}  from {}", r.id, r.name, r.address);
        }
    }
    Ok(Outcome::Done)
}

/// `carebook accept ID`
pub fn accept(dir: &Path, id: &str) -> anyhow::Result<Outcome> {
    let id = device(id)?;
    let store = store(dir)?;
    cli_admin::authorise(&store.writer(), Permission::Computers, "accept")?;
    match members::accept(&store, &id)? {
        Acceptance::Accepted => {
            println!("accepted {id}");
            Ok(Outcome::Done)
        }
        Acceptance::NotFound => {
            eprintln!(
                "carebook: no computer with ID {} is asking to join",
                id.short()
            );
            Ok(Outcome::NotFound)
        }
        Acceptance::Removed => anyhow::bail!(
            "computer {} was removed from the clinic and cannot be accepted again; it stays \
             refused (set it up again, with a new ID, if it should rejoin)",
            id.short()
        ),
    }
}

/// `carebook remove ID`
pub fn remove(dir: &Path, id: &str) -> anyhow::Result<Outcome> {
    let id = device(id)?;
    let store = store(dir)?;
    cli_admin::authorise(&store.writer(), Permission::Computers, "remove")?;
    match members::remove(&store, &id)? {
        Removal::Removed => {
            println!("removed {id}: every computer of the clinic will refuse it");
            Ok(Outcome::Done)
        }
        Removal::NotFound => {
            eprintln!(
                "carebook: no member with ID {} (or it was removed already)",
                id.short()
            );
            Ok(Outcome::NotFound)
        }
    }
}

/// Says who is about to be trusted clinic-wide and asks the person at a terminal to agree;
/// without a terminal (a script), refuses and points to `--yes`.
fn confirm_adding(other: DeviceId, address: SocketAddr, others: usize) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    println!("about to add the computer {other} at {address} to this clinic:");
    println!(
        "this computer and the {others} other computer(s) of the clinic will trust it and share \
         every patient record with it"
    );
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "not added: check the ID above against the one on that computer's screen, then run \
             the same command with --yes"
        );
    }
    print!(
        "is {} the ID shown on that computer's screen? type yes to add it: ",
        other.short()
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        anyhow::bail!("not added")
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `carebook pair ADDRESS --id ID [--yes]`: trust the computer at ADDRESS (whose ID the person
/// read off its screen) and ask it to accept this one. When this computer is already in a
/// clinic, trusting a new computer trusts it clinic-wide at once (the roster replicates), so
/// it says which computer that is and asks first: `yes` answers for a script.
pub fn pair(
    dir: &Path,
    address: SocketAddr,
    id: &str,
    name: Option<String>,
    yes: bool,
) -> anyhow::Result<Outcome> {
    let other = device(id)?;
    let (store, identity) = open(dir)?;
    cli_admin::authorise(&store.writer(), Permission::Computers, "pair")?;
    let me = identity.id;
    let others = roster::members(&store.writer())?
        .into_iter()
        .filter(|m| !m.revoked && m.id != me && m.id != other)
        .count();
    if others > 0 && !yes {
        confirm_adding(other, address, others)?;
    }
    let (served_as, port) = roster::local(&store.writer());
    let name = name.or(served_as).unwrap_or_else(serve::host_name);
    let node = Node::new(identity, store, &name)?;
    node.set_port(port);
    let outcome = runtime()?
        .block_on(members::pair(&node, address, other, ""))
        .with_context(|| format!("pairing with {address}"))?;
    match &outcome {
        Pairing::Requested { reply } => {
            println!("asked {address} to accept this computer ({me}): {reply}");
            println!("on that computer run: carebook accept {me}");
        }
        Pairing::AlreadyMember => println!("paired with {other}"),
        Pairing::Refused { .. } | Pairing::Unreachable { .. } => {
            anyhow::bail!("pairing with {address}: {outcome}")
        }
    }
    Ok(Outcome::Done)
}

/// `carebook serve`: no window; keep this computer in sync with the clinic until stopped,
/// making the automatic backups.
pub fn serve(
    dir: &Path,
    listen: SocketAddr,
    name: Option<String>,
    discovery: Option<Scope>,
) -> anyhow::Result<Outcome> {
    let mut running = serve::serve(Config {
        name,
        listen,
        discovery,
        ..Config::new(dir.to_path_buf(), store(dir)?)
    })?;
    println!("device ID: {}", running.node.identity.id);
    println!("key: {}", running.node.identity.storage);
    println!("listening on {}", running.addr);
    running.run_until(async {
        let _ = tokio::signal::ctrl_c().await;
        println!("stopping");
    })?;
    Ok(Outcome::Done)
}
