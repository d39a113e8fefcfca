//! Joining from a pairing link: which of the link's addresses answers as the link's device?
//! Each is tried in turn with a TLS handshake pinned to the link's ID, and nothing is trusted
//! (no roster entry is made) until one agrees; the caller then pairs with that address exactly
//! as with a typed address and ID.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

use crate::identity::Identity;
use crate::net::tls;
use crate::pairing::pairing_link::PairingLink;

/// How long one address may take to connect and finish the handshake.
const PER_ADDRESS: Duration = Duration::from_secs(5);

/// Why no address of a link could be used.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(
        "the computer at {0} is not the one in the code (it presented another device ID); nothing was trusted"
    )]
    WrongComputer(SocketAddr),
    #[error("could not reach computer {id} at any address in the code ({tried})")]
    Unreachable { id: String, tried: String },
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
}

/// How one address went.
enum Attempt {
    Agreed,
    OtherId,
    Failed(String),
}

async fn try_address(connector: &TlsConnector, address: SocketAddr) -> Result<(), std::io::Error> {
    let tcp = TcpStream::connect(address).await?;
    let name = rustls::pki_types::ServerName::try_from("carebook.device").expect("a valid name");
    let mut stream = connector.connect(name, tcp).await?;
    // The handshake agreed; this connection carries nothing, so close it politely.
    let _ = stream.shutdown().await;
    Ok(())
}

async fn attempt(connector: &TlsConnector, address: SocketAddr) -> Attempt {
    match timeout(PER_ADDRESS, try_address(connector, address)).await {
        Err(_) => Attempt::Failed(format!("{address}: no answer within 5 s")),
        Ok(Ok(())) => Attempt::Agreed,
        Ok(Err(e)) => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            // Our pinned verifier refused the certificate the other end presented.
            Some(rustls::Error::General(_) | rustls::Error::InvalidCertificate(_)) => {
                Attempt::OtherId
            }
            _ => Attempt::Failed(format!("{address}: {e}")),
        },
    }
}

/// The first of the link's addresses where the computer presents the link's device ID.
pub async fn reach(identity: &Identity, link: &PairingLink) -> Result<SocketAddr, JoinError> {
    let connector = TlsConnector::from(tls::client(identity, link.id)?);
    let (mut wrong, mut tried) = (None, Vec::new());
    for &address in &link.addresses {
        match attempt(&connector, address).await {
            Attempt::Agreed => return Ok(address),
            Attempt::OtherId => {
                tracing::warn!(%address, expected = %link.id.short(), "another device answered there");
                wrong.get_or_insert(address);
            }
            Attempt::Failed(why) => tried.push(why),
        }
    }
    match wrong {
        Some(address) => Err(JoinError::WrongComputer(address)),
        None => Err(JoinError::Unreachable {
            id: link.id.short(),
            tried: tried.join("; "),
        }),
    }
}
