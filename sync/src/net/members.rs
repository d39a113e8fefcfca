//! What a person does with the clinic's computers, with what came of it: ask another computer
//! to let this one join (pair), accept a computer that asked, remove a lost or stolen one.
//! The window and the command line call these and only say the outcome in their own words.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::node::{Node, NodeError};
use super::roster;
use crate::identity::DeviceId;
use crate::replica::ReplicaError;
use crate::store::Store;

/// How long the other computer has to answer a pairing.
pub const PAIR_WAIT: Duration = Duration::from_secs(15);

/// How asking another computer went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    /// It recorded this computer's request; someone there must accept it. `reply` is its
    /// own words.
    Requested { reply: String },
    /// It trusts this computer already: records flow.
    AlreadyMember,
    /// It answered but refused (another device ID at that address, this computer removed, a
    /// Carebook that speaks another protocol...).
    Refused { reason: String },
    /// Nothing answered there in time.
    Unreachable { reason: String },
}

impl std::fmt::Display for Pairing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pairing::Requested { reply } => write!(f, "asked it to accept this computer: {reply}"),
            Pairing::AlreadyMember => f.write_str("paired: it already trusts this computer"),
            Pairing::Refused { reason } => write!(f, "refused: {reason}"),
            Pairing::Unreachable { reason } => f.write_str(reason),
        }
    }
}

/// What accepting a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    Accepted,
    /// No computer with that ID is asking to join.
    NotFound,
    /// That computer was removed from the clinic, and a removal is for good.
    Removed,
}

/// What removing a computer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Every computer of the clinic refuses it from now on.
    Removed,
    /// No member has that ID, or it was removed already.
    NotFound,
}

/// Trusts `other` (called `name`, when its pairing code said; empty otherwise) at `address`
/// and asks it to accept this computer. The address is remembered (so the node keeps dialling
/// it) unless the computer there refused. A network failure is an outcome, not an error; an
/// error means this computer's own database failed.
pub async fn pair(
    node: &Arc<Node>,
    address: SocketAddr,
    other: DeviceId,
    name: &str,
) -> Result<Pairing, NodeError> {
    // Trusted with no address yet, so that the node's own upkeep does not dial it meanwhile.
    remember(node, other, name, String::new()).await?;
    let pairing = ask(node, address, other).await;
    if !matches!(pairing, Pairing::Refused { .. }) {
        remember(node, other, name, address.to_string()).await?;
    }
    Ok(pairing)
}

async fn remember(
    node: &Node,
    other: DeviceId,
    name: &str,
    address: String,
) -> Result<(), NodeError> {
    let (store, name) = (node.store.clone(), name.to_string());
    tokio::task::spawn_blocking(move || roster::add(&store.writer(), &other, &name, &address))
        .await
        .map_err(|e| NodeError::Store(e.to_string()))?
        .map_err(|e| NodeError::Store(e.to_string()))?;
    node.refresh_roster().await
}

/// Dials `other` and waits for what it says.
async fn ask(node: &Arc<Node>, address: SocketAddr, other: DeviceId) -> Pairing {
    let mut changes = node.store.changes();
    let reported = node.reports_from(&other);
    let dialler = node.clone();
    let mut dial = tokio::spawn(async move { dialler.dial(address, other).await });
    let deadline = tokio::time::sleep(PAIR_WAIT);
    tokio::pin!(deadline);
    loop {
        // A session with it got going (the node then writes how it stands): it trusts us.
        if node.reports_from(&other) > reported {
            return Pairing::AlreadyMember;
        }
        tokio::select! {
            ended = &mut dial => return match ended {
                // Another session with it runs (it dialled us, say): it trusts us.
                Ok(Err(NodeError::Ended(_))) if node.sessions_with(&other) > 0 => {
                    Pairing::AlreadyMember
                }
                Ok(r) => outcome(r),
                Err(e) => Pairing::Refused { reason: e.to_string() },
            },
            Ok(()) = changes.changed() => {}
            () = &mut deadline => {
                dial.abort();
                return Pairing::Unreachable {
                    reason: format!("no answer from {address} within {} s", PAIR_WAIT.as_secs()),
                };
            }
        }
    }
}

fn outcome(dialled: Result<(), NodeError>) -> Pairing {
    match dialled {
        Ok(()) => Pairing::AlreadyMember,
        Err(NodeError::Replica(ReplicaError::Bye(reply))) => Pairing::Requested { reply },
        Err(e @ (NodeError::Io(_) | NodeError::Timeout(_))) => Pairing::Unreachable {
            reason: e.to_string(),
        },
        Err(e) => Pairing::Refused {
            reason: e.to_string(),
        },
    }
}

/// Accepts the computer `id` that asked to join: it becomes a member (on every computer, as
/// the roster replicates).
/// A removed computer is never accepted.
pub fn accept(store: &Store, id: &DeviceId) -> rusqlite::Result<Acceptance> {
    let db = store.writer();
    Ok(if roster::verdict(&db, id)? == roster::Verdict::Revoked {
        // Drops its stale request, if any.
        roster::accept(&db, id)?;
        Acceptance::Removed
    } else if roster::accept(&db, id)? {
        Acceptance::Accepted
    } else {
        Acceptance::NotFound
    })
}

/// Removes the computer `id` from the clinic (lost or stolen): every member refuses it, and
/// running nodes end its sessions as soon as their roster refreshes.
pub fn remove(store: &Store, id: &DeviceId) -> rusqlite::Result<Removal> {
    Ok(if roster::revoke(&store.writer(), id)? {
        Removal::Removed
    } else {
        Removal::NotFound
    })
}
