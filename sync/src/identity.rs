//! This computer's identity: a key pair and a self-signed certificate, made once, and the
//! device ID other computers pin: the SHA-256 of the certificate, written as 56 base-32
//! symbols in 8 groups with 4 check symbols, so people can read it aloud and typos are caught.
//!
//! The certificate lives in the data folder. The private key is kept in the OS keyring (the
//! Secret Service on Linux, Keychain on macOS, Credential Manager on Windows) under the device
//! ID. Where no keyring service answers (a headless box, CI), it goes to a file only this user
//! can read (mode 0600), and [`KeyStorage`] says so and why, for the UI and the log.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::pairing::base32;

/// A device ID: the SHA-256 of a device's certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub [u8; 32]);

/// Why a typed or scanned device ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("a device ID has 56 letters and digits (8 groups of 7); this has {0}")]
    Length(usize),
    #[error("group {0} of the device ID does not check out; look for a typo there")]
    Check(usize),
    #[error("a device ID holds only letters and digits")]
    Symbol,
}

impl DeviceId {
    pub fn of_certificate(der: &[u8]) -> DeviceId {
        DeviceId(Sha256::digest(der).into())
    }

    /// The readable form: `ABCDEFG-HIJKLMN-...`, 8 groups of 7.
    pub fn to_text(&self) -> String {
        let body = base32::encode(&self.0); // 52 symbols
        let mut symbols = String::with_capacity(56);
        for chunk in body.as_bytes().chunks(13) {
            let chunk = std::str::from_utf8(chunk).expect("base32 is ASCII");
            symbols.push_str(chunk);
            symbols.push(base32::check_symbol(chunk).expect("base32 symbols"));
        }
        symbols
            .as_bytes()
            .chunks(7)
            .map(|g| std::str::from_utf8(g).expect("ASCII"))
            .collect::<Vec<_>>()
            .join("-")
    }

    /// The first group, for short mentions ("computer ABCDEFG").
    pub fn short(&self) -> String {
        self.to_text()[..7].to_string()
    }

    /// Parses a typed or scanned ID: case, spaces and dashes do not matter; each of the four
    /// check symbols is verified.
    pub fn parse(text: &str) -> Result<DeviceId, IdError> {
        let symbols: String = text.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        let n = symbols.chars().count();
        if n != 56 {
            return Err(IdError::Length(n));
        }
        if !symbols.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(IdError::Symbol);
        }
        let mut body = String::with_capacity(52);
        for (i, chunk) in symbols.as_bytes().chunks(14).enumerate() {
            let chunk = std::str::from_utf8(chunk).map_err(|_| IdError::Symbol)?;
            let (data, check) = chunk.split_at(13);
            let want = base32::check_symbol(data).ok_or(IdError::Symbol)?;
            let got = check.chars().next().and_then(base32::value);
            if got != base32::value(want) {
                return Err(IdError::Check(i * 2 + 1));
            }
            body.push_str(data);
        }
        let bytes = base32::decode(&body, 32).ok_or(IdError::Symbol)?;
        Ok(DeviceId(bytes.try_into().map_err(|_| IdError::Symbol)?))
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl std::fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceId({})", self.short())
    }
}

use crate::secret::{Found, Secret, SecretError};
pub use crate::secret::{KeyStorage, Keyring};

/// The certificate's file in the data folder.
const CERTIFICATE: &str = "device-certificate.der";

const KEYRING_SERVICE: &str = "Carebook device key";

/// Where the key of the identity `id` kept in `dir` is stored.
fn key_secret(dir: &Path, id: DeviceId) -> Secret {
    Secret {
        service: KEYRING_SERVICE,
        user: id.to_text(),
        file: dir.join("device-key.der"),
    }
}

/// What can go wrong making or reading the identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("could not read or write {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("could not make a certificate: {0}")]
    Certificate(String),
    #[error("this computer's private key: {0}")]
    Key(#[from] SecretError),
    #[error("this computer's private key is neither in a key file nor in the keyring ({0}); unlock the keyring and try again")]
    KeyMissing(String),
}

/// This computer's identity.
pub struct Identity {
    pub certificate: Vec<u8>,
    /// PKCS#8 DER.
    key: Vec<u8>,
    pub id: DeviceId,
    pub storage: KeyStorage,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("id", &self.id)
            .field("storage", &self.storage)
            .finish()
    }
}

fn read(path: &Path) -> Result<Option<Vec<u8>>, IdentityError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IdentityError::Io(path.to_path_buf(), e)),
    }
}

/// Writes the certificate whole or not at all (a temporary file flushed and renamed), so a
/// power cut while it is written cannot leave a cut certificate that no key matches.
fn save_certificate(path: &Path, certificate: &[u8]) -> Result<(), IdentityError> {
    crate::secret::write_private(path, certificate)
        .map_err(|e| IdentityError::Io(path.to_path_buf(), e))
}

impl Identity {
    /// The device ID of the identity kept in `dir`, if one was made (reads no key).
    pub fn existing_id(dir: &Path) -> Result<Option<DeviceId>, IdentityError> {
        Ok(read(&dir.join(CERTIFICATE))?.map(|c| DeviceId::of_certificate(&c)))
    }

    /// The identity kept in `dir`, made on first use, its key in the OS keyring if one answers.
    pub fn load_or_create(dir: &Path) -> Result<Identity, IdentityError> {
        Identity::load_or_create_with(dir, Keyring::Use)
    }

    /// The identity kept in `dir`, made on first use with its key where `place` says.
    pub fn load_or_create_with(dir: &Path, place: Keyring) -> Result<Identity, IdentityError> {
        std::fs::create_dir_all(dir).map_err(|e| IdentityError::Io(dir.to_path_buf(), e))?;
        let cert_path = dir.join(CERTIFICATE);
        if let Some(certificate) = read(&cert_path)? {
            let id = DeviceId::of_certificate(&certificate);
            let (key, storage) = match key_secret(dir, id).read()? {
                Found::Here(key, storage) => (key, storage),
                Found::Nowhere => {
                    return Err(IdentityError::KeyMissing(
                        "the keyring has no entry for it".into(),
                    ))
                }
                Found::KeyringFailed(why) => return Err(IdentityError::KeyMissing(why)),
            };
            return Ok(Identity {
                id,
                certificate,
                key,
                storage,
            });
        }
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let mut params = rcgen::CertificateParams::new(vec!["carebook.device".to_string()])
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2124, 1, 1);
        let cert = params
            .self_signed(&pair)
            .map_err(|e| IdentityError::Certificate(e.to_string()))?;
        let certificate = cert.der().to_vec();
        let id = DeviceId::of_certificate(&certificate);
        let key = pair.serialize_der();
        // The key first: a certificate without its key would be an identity we cannot use.
        let storage = key_secret(dir, id).write(&key, place)?;
        save_certificate(&cert_path, &certificate)?;
        Ok(Identity {
            id,
            certificate,
            key,
            storage,
        })
    }

    pub fn certificate_chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        vec![rustls::pki_types::CertificateDer::from(
            self.certificate.clone(),
        )]
    }

    pub fn private_key(&self) -> rustls::pki_types::PrivateKeyDer<'static> {
        rustls::pki_types::PrivateKeyDer::Pkcs8(self.key.clone().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_aloud_parse_back_and_catch_typos() {
        let id = DeviceId::of_certificate(b"some certificate");
        let text = id.to_text();
        assert_eq!(text.len(), 63);
        assert_eq!(text.split('-').count(), 8);
        assert_eq!(DeviceId::parse(&text).unwrap(), id);
        assert_eq!(
            DeviceId::parse(&text.to_lowercase().replace('-', " ")).unwrap(),
            id
        );
        let mut typo: Vec<char> = text.chars().collect();
        typo[3] = if typo[3] == 'A' { 'B' } else { 'A' };
        let typo: String = typo.into_iter().collect();
        assert_eq!(DeviceId::parse(&typo), Err(IdError::Check(1)));
        assert!(matches!(DeviceId::parse("ABC"), Err(IdError::Length(3))));
    }

    #[test]
    fn the_certificate_is_written_by_a_rename_never_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CERTIFICATE);
        std::fs::write(&path, b"an older certificate").unwrap();
        // A second name for the old file: written in place, it would change too (a half
        // written file is what a power cut would leave); replaced by a rename, it keeps the
        // old bytes whole.
        let old = dir.path().join("old");
        std::fs::hard_link(&path, &old).unwrap();
        save_certificate(&path, b"the new certificate").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"the new certificate");
        assert_eq!(std::fs::read(&old).unwrap(), b"an older certificate");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 2, "no temporary file is left behind");
    }

    #[test]
    fn an_identity_is_made_once_and_its_key_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create_with(dir.path(), Keyring::Off).unwrap();
        let b = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!(a.id, b.id, "the same identity on every start");
        let (KeyStorage::File { path: key, why }, KeyStorage::File { path: found, .. }) =
            (&a.storage, &b.storage)
        else {
            panic!("the key was to go to a file");
        };
        assert_eq!(key, found, "found where it was put");
        assert!(why.contains("turned off"), "{why}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "readable by this user only");
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                Identity::load_or_create(dir.path()),
                Err(IdentityError::Key(SecretError::Exposed(_)))
            ));
        }
    }
}
