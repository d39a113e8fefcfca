//! The headless commands, for an always-on box and for scripts: `serve`, `id`, `peers`, `pair`,
//! `accept`, `remove`. Plain text out; exit codes: 0 done, 1 failed, 2 bad arguments, 3 no
//! such device or request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use carebook_sync::backup::schedule;
use carebook_sync::identity::{DeviceId, Identity};
use carebook_sync::net::discovery::Scope;
use carebook_sync::net::node::{Node, NodeError};
use carebook_sync::net::roster;
use carebook_sync::replica::ReplicaError;
use carebook_sync::store::{schema, Store};

/// A command's outcome as an exit code.
pub enum Outcome {
    Done,
    NotFound,
}

pub(crate) fn open(dir: &Path) -> anyhow::Result<(Arc<Store>, Identity)> {
    let path = crate::status::database_path(dir);
    let store = Store::open(&path, schema::CLINIC)
        .with_context(|| format!("opening the database {}", path.display()))?;
    Ok((Arc::new(store), identity(dir)?))
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

pub fn default_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "Carebook computer".into())
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
    let (store, _) = open(dir)?;
    if roster::accept(&store.writer(), &id)? {
        println!("accepted {id}");
        Ok(Outcome::Done)
    } else {
        eprintln!(
            "carebook: no computer with ID {} is asking to join",
            id.short()
        );
        Ok(Outcome::NotFound)
    }
}

/// `carebook remove ID`
pub fn remove(dir: &Path, id: &str) -> anyhow::Result<Outcome> {
    let id = device(id)?;
    let (store, _) = open(dir)?;
    if roster::revoke(&store.writer(), &id)? {
        println!("removed {id}: every computer of the clinic will refuse it");
        Ok(Outcome::Done)
    } else {
        eprintln!(
            "carebook: no member with ID {} (or it was removed already)",
            id.short()
        );
        Ok(Outcome::NotFound)
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// `carebook pair ADDRESS --id ID`: trust the computer at ADDRESS (whose ID the person read off
/// its screen) and ask it to accept this one.
pub fn pair(
    dir: &Path,
    address: SocketAddr,
    id: &str,
    name: Option<String>,
) -> anyhow::Result<Outcome> {
    let other = device(id)?;
    let (store, identity) = open(dir)?;
    roster::add(&store.writer(), &other, "", &address.to_string())?;
    let (served_as, port) = roster::local(&store.writer());
    let me = identity.id;
    let name = name.or(served_as).unwrap_or_else(default_name);
    let node = Node::new(identity, store, &name)?;
    node.set_port(port);
    let result = runtime()?.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(15),
            node.dial(address, other),
        )
        .await
    });
    match result {
        Err(_) => anyhow::bail!("no answer from {address} within 15 s"),
        Ok(Err(NodeError::Replica(ReplicaError::Bye(reason)))) => {
            println!("asked {address} to accept this computer ({me}): {reason}");
            println!("on that computer run: carebook accept {me}");
            Ok(Outcome::Done)
        }
        Ok(Err(e)) => Err(e).with_context(|| format!("pairing with {address}")),
        Ok(Ok(())) => {
            println!("paired with {other}");
            Ok(Outcome::Done)
        }
    }
}

/// Automatic backups while serving (an always-on box is the best place for them): a look at
/// the schedule at once, then once a minute.
async fn scheduled_backups(node: Arc<Node>, dir: PathBuf) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        every.tick().await;
        let (store, identity, dir) = (node.store.clone(), node.identity.clone(), dir.clone());
        let looked = tokio::task::spawn_blocking(move || {
            let now = chrono::Utc::now().timestamp();
            schedule::run_if_due(&store, &dir, now, || Ok(identity))
        })
        .await;
        if let Ok(Err(e)) = looked {
            tracing::warn!("automatic backups: {e}");
        }
    }
}

/// `carebook serve`: no window; keep this computer in sync with the clinic until stopped.
pub fn serve(
    dir: &Path,
    listen: SocketAddr,
    name: Option<String>,
    discovery: Option<Scope>,
) -> anyhow::Result<Outcome> {
    let (store, identity) = open(dir)?;
    println!("device ID: {}", identity.id);
    println!("key: {}", identity.storage);
    runtime()?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let bound = listener.local_addr()?;
        let name = name.unwrap_or_else(default_name);
        roster::set_local(&store.writer(), &name, bound.port())?;
        let node = Node::new(identity, store, &name)?;
        println!("listening on {bound}");
        tokio::spawn(node.clone().maintain());
        tokio::spawn(scheduled_backups(node.clone(), dir.to_path_buf()));
        if let Some(scope) = discovery {
            tokio::spawn(node.clone().discover(scope, bound.port()));
        }
        tokio::select! {
            r = node.listen(listener) => r.context("the listener failed")?,
            _ = tokio::signal::ctrl_c() => println!("stopping"),
        }
        anyhow::Ok(Outcome::Done)
    })
}
