//! TLS 1.3 only, both sides authenticated, and no certificate authorities: a client accepts
//! exactly the one device ID it dials; a server accepts the IDs its roster trusts, refuses
//! removed ones, and lets an unknown one finish the handshake only so that it can ask to pair
//! (the node then records the request and carries no records). Handshake signatures are
//! always checked against the presented certificate.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, Error, ServerConfig, SignatureScheme,
};

use super::roster::{Roster, Verdict};
use crate::identity::{DeviceId, Identity};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The handshake-signature methods both verifiers share: TLS 1.2 signatures are refused, TLS
/// 1.3 ones are checked against the presented certificate with the provider's algorithms.
macro_rules! tls13_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            _: &[u8],
            _: &CertificateDer<'_>,
            _: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            Err(Error::General("TLS 1.2 is not accepted".into()))
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            verify_tls13_signature(
                message,
                cert,
                dss,
                &provider().signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            provider()
                .signature_verification_algorithms
                .supported_schemes()
        }
    };
}

/// Accepts clients the roster trusts, and unknown ones (for a pairing request only).
#[derive(Debug)]
struct RosterClients(Arc<Roster>);

impl ClientCertVerifier for RosterClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let id = DeviceId::of_certificate(end_entity);
        match self.0.verdict(&id) {
            // An unknown device may only ask to pair; the node gives it nothing else.
            Verdict::Trusted | Verdict::Unknown => Ok(ClientCertVerified::assertion()),
            Verdict::Revoked => Err(Error::General(format!(
                "device {} was removed from this clinic",
                id.short()
            ))),
        }
    }

    tls13_signatures!();
}

/// Accepts exactly one server: the device ID being dialled.
#[derive(Debug)]
struct PinnedServer(DeviceId);

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let got = DeviceId::of_certificate(end_entity);
        if got == self.0 {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(Error::General(format!(
                "expected device {} but {} answered",
                self.0.short(),
                got.short()
            )))
        }
    }

    tls13_signatures!();
}

/// The listening side's configuration.
pub fn server(identity: &Identity, roster: Arc<Roster>) -> Result<Arc<ServerConfig>, Error> {
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(RosterClients(roster)))
        .with_single_cert(identity.certificate_chain(), identity.private_key())?;
    Ok(Arc::new(config))
}

/// The dialling side's configuration, pinned to the device it expects.
pub fn client(identity: &Identity, expect: DeviceId) -> Result<Arc<ClientConfig>, Error> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(expect)))
        .with_client_auth_cert(identity.certificate_chain(), identity.private_key())?;
    Ok(Arc::new(config))
}

/// The device ID of the other end of an established connection.
pub fn peer_id(certs: Option<&[CertificateDer<'_>]>) -> Option<DeviceId> {
    certs
        .and_then(|c| c.first())
        .map(|c| DeviceId::of_certificate(c))
}
