//! The small secrets this computer keeps (its device key, the clinic's backup passphrase): in
//! the OS keyring (the Secret Service on Linux, Keychain on macOS, Credential Manager on
//! Windows) when one answers, otherwise in a file in the data folder that only this user can
//! read (mode 0600). [`KeyStorage`] says where a secret went, and why, for the UI and the log.

use std::path::{Path, PathBuf};

/// Where a secret is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStorage {
    /// The OS keyring.
    Keyring,
    /// A file readable only by this user, and why the keyring is not used.
    File { path: PathBuf, why: String },
}

impl std::fmt::Display for KeyStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyStorage::Keyring => write!(f, "in the system keyring"),
            KeyStorage::File { path, why } => write!(
                f,
                "in the file {} (readable only by you; {why})",
                path.display()
            ),
        }
    }
}

/// Whether to use the OS keyring for a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyring {
    /// Use it when a keyring service answers (what the app does).
    Use,
    /// Keep secrets in files (tests, and people who ask for it).
    Off,
}

/// Why a secret could not be read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read or write {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("the file {0} can be read by other users; fix with: chmod 600 {0}")]
    Exposed(PathBuf),
}

/// How long a keyring service may take to answer before the file is used instead.
const KEYRING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// One secret: its keyring entry (service and user) and its fallback file.
pub(crate) struct Secret {
    pub service: &'static str,
    pub user: String,
    pub file: PathBuf,
}

/// What reading a secret found.
pub(crate) enum Found {
    Here(Vec<u8>, KeyStorage),
    /// In neither place.
    Nowhere,
    /// Not in the file, and the keyring could not be asked (why).
    KeyringFailed(String),
}

impl Secret {
    /// Runs a keyring call on its own thread (the Secret Service client runs its own async
    /// runtime, which must not nest in the caller's), giving up after [`KEYRING_WAIT`].
    fn keyring<R: Send + 'static>(
        &self,
        f: impl FnOnce(keyring::Entry) -> keyring::Result<R> + Send + 'static,
    ) -> Result<R, String> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (service, user) = (self.service, self.user.clone());
        std::thread::spawn(move || {
            let r = keyring::Entry::new(service, &user).and_then(f);
            let _ = tx.send(r.map_err(|e| e.to_string()));
        });
        rx.recv_timeout(KEYRING_WAIT)
            .unwrap_or_else(|_| Err("the keyring service did not answer".into()))
    }

    /// The secret: from its file when there is one (refused if others can read it), else
    /// from the keyring.
    pub fn read(&self) -> Result<Found, SecretError> {
        match std::fs::read(&self.file) {
            Ok(_) if exposed(&self.file) => Err(SecretError::Exposed(self.file.clone())),
            Ok(bytes) => Ok(Found::Here(
                bytes,
                KeyStorage::File {
                    path: self.file.clone(),
                    why: "the keyring was not used when it was saved".into(),
                },
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match self.keyring(|e| match e.get_secret() {
                    Ok(s) => Ok(Some(s)),
                    Err(keyring::Error::NoEntry) => Ok(None),
                    Err(e) => Err(e),
                }) {
                    Ok(Some(bytes)) => Ok(Found::Here(bytes, KeyStorage::Keyring)),
                    Ok(None) => Ok(Found::Nowhere),
                    Err(why) => Ok(Found::KeyringFailed(why)),
                }
            }
            Err(e) => Err(SecretError::Io(self.file.clone(), e)),
        }
    }

    /// Keeps `bytes` (replacing what was kept): in the keyring when `place` allows and it
    /// keeps them (read back to check), else in the private file.
    pub fn write(&self, bytes: &[u8], place: Keyring) -> Result<KeyStorage, SecretError> {
        let stored = match place {
            Keyring::Off => Err("the keyring is turned off for this data folder".to_string()),
            Keyring::Use => {
                let k = bytes.to_vec();
                // Read back: some keyrings accept a write they cannot keep.
                self.keyring(move |e| {
                    e.set_secret(&k)?;
                    e.get_secret()
                })
                .and_then(|back| {
                    (back == bytes)
                        .then_some(())
                        .ok_or_else(|| "the keyring did not keep it".to_string())
                })
            }
        };
        match stored {
            Ok(()) => {
                // An older copy in a file would be read first: it goes.
                match std::fs::remove_file(&self.file) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(SecretError::Io(self.file.clone(), e))
                    }
                    _ => {}
                }
                Ok(KeyStorage::Keyring)
            }
            Err(why) => {
                write_private(&self.file, bytes)
                    .map_err(|e| SecretError::Io(self.file.clone(), e))?;
                Ok(KeyStorage::File {
                    path: self.file.clone(),
                    why: format!("no keyring: {why}"),
                })
            }
        }
    }
}

/// Writes a file only this user can read, whole or not at all: into a temporary file in the
/// same folder, flushed to disk, then renamed over `path` (and the folder flushed too, so the
/// rename survives a power cut). An old file at `path` is replaced only once the new one is
/// complete.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // tempfile makes its files 0600 on Unix.
    let mut tmp = tempfile::Builder::new()
        .prefix(".secret-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(unix)]
fn exposed(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

#[cfg(not(unix))]
fn exposed(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_in_a_file_is_private_replaced_whole_and_refused_once_exposed() {
        let dir = tempfile::tempdir().unwrap();
        let s = Secret {
            service: "Carebook test",
            user: "t".into(),
            file: dir.path().join("s"),
        };
        let at = s.write(b"one", Keyring::Off).unwrap();
        assert!(matches!(at, KeyStorage::File { .. }));
        s.write(b"two", Keyring::Off).unwrap();
        assert!(matches!(s.read().unwrap(), Found::Here(b, _) if b == b"two"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&s.file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&s.file, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(s.read(), Err(SecretError::Exposed(_))));
        }
    }
}
