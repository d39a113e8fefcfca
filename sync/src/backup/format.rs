//! The inside of a backup file, as it reads once age has decrypted it: a magic line, the format
//! version, then length-prefixed sections (the manifest, the signer's certificate, the change
//! batches, an empty section ending them) and last the signature. The signature is ECDSA
//! P-256 with SHA-256 (ring) by the device's certificate key, over a fixed context string and
//! the SHA-256 of every byte before it, so nothing can be changed, added or cut unnoticed.

use std::io::{self, Read, Write};

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use super::BackupError;
use crate::identity::Identity;

/// The first bytes of every backup's plaintext.
pub const MAGIC: &[u8; 16] = b"CAREBOOK BACKUP\n";
/// This program writes format 1, and reads formats up to it.
pub const FORMAT: u32 = 1;
/// What is signed: this context, then the SHA-256 of the content.
const CONTEXT: &[u8] = b"carebook backup signature v1\0";
/// The largest section accepted (a batch never splits one transaction, so it can be large).
const MAX_SECTION: u32 = 1 << 30;

fn message(digest: &[u8]) -> Vec<u8> {
    [CONTEXT, digest].concat()
}

/// Writes the sections and hashes what it writes.
pub struct Writer<W: Write> {
    out: W,
    hash: Sha256,
}

impl<W: Write> Writer<W> {
    /// Starts a backup: magic, format, manifest and certificate.
    pub fn start(out: W, manifest: &[u8], certificate: &[u8]) -> io::Result<Writer<W>> {
        let mut w = Writer {
            out,
            hash: Sha256::new(),
        };
        w.raw(MAGIC)?;
        w.raw(&FORMAT.to_le_bytes())?;
        w.section(manifest)?;
        w.section(certificate)?;
        Ok(w)
    }

    fn raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hash.update(bytes);
        self.out.write_all(bytes)
    }

    /// One non-empty section (an empty one ends the batches).
    pub fn section(&mut self, bytes: &[u8]) -> io::Result<()> {
        let len = u32::try_from(bytes.len())
            .ok()
            .filter(|n| *n <= MAX_SECTION && *n > 0)
            .ok_or_else(|| io::Error::other("a backup section must be 1 byte to 1 GiB"))?;
        self.raw(&len.to_le_bytes())?;
        self.raw(bytes)
    }

    /// Ends the batches and signs everything written; returns the inner writer.
    pub fn finish(mut self, identity: &Identity) -> Result<W, BackupError> {
        self.raw(&0u32.to_le_bytes())?;
        let digest = self.hash.finalize_reset();
        let signature = sign(identity, &digest)?;
        self.out
            .write_all(&(signature.len() as u32).to_le_bytes())?;
        self.out.write_all(&signature)?;
        Ok(self.out)
    }
}

fn sign(identity: &Identity, digest: &[u8]) -> Result<Vec<u8>, BackupError> {
    let PrivateKeyDer::Pkcs8(key) = identity.private_key() else {
        return Err(BackupError::Signing("the device key is not PKCS#8".into()));
    };
    let rng = SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        key.secret_pkcs8_der(),
        &rng,
    )
    .map_err(|e| BackupError::Signing(format!("the device key is not ECDSA P-256: {e}")))?;
    let sig = pair
        .sign(&rng, &message(digest))
        .map_err(|_| BackupError::Signing("signing failed".into()))?;
    Ok(sig.as_ref().to_vec())
}

/// Whether `signature` is the certificate's key signing `digest`.
fn verify(certificate: &[u8], digest: &[u8], signature: &[u8]) -> bool {
    let der = CertificateDer::from(certificate);
    let Ok(cert) = webpki::EndEntityCert::try_from(&der) else {
        return false;
    };
    cert.verify_signature(webpki::ring::ECDSA_P256_SHA256, &message(digest), signature)
        .is_ok()
}

/// Reads the sections, hashing them, and checks the signature at the end.
pub struct Reader<R: Read> {
    inp: R,
    hash: Sha256,
    /// The manifest's bytes (postcard).
    pub manifest: Vec<u8>,
    pub certificate: Vec<u8>,
}

/// A stream error while reading: age reports a cut file as an early end and anything else
/// (a changed byte) as bad data.
pub fn stream_error(e: io::Error) -> BackupError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => BackupError::Truncated,
        io::ErrorKind::InvalidData => BackupError::Damaged,
        _ => BackupError::Io(e),
    }
}

impl<R: Read> Reader<R> {
    /// Reads the magic, format, manifest and certificate.
    pub fn start(mut inp: R) -> Result<Reader<R>, BackupError> {
        let mut magic = [0u8; 16];
        let mut got = 0;
        while got < magic.len() {
            match inp.read(&mut magic[got..]) {
                // A whole age file too short for the magic is another one, not ours.
                Ok(0) => return Err(BackupError::NotABackup),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(stream_error(e)),
            }
        }
        if &magic != MAGIC {
            return Err(BackupError::NotABackup);
        }
        let mut r = Reader {
            inp,
            hash: Sha256::new(),
            manifest: Vec::new(),
            certificate: Vec::new(),
        };
        r.hash.update(magic);
        let format = r.u32()?;
        if format > FORMAT {
            return Err(BackupError::NewerFormat(format));
        }
        r.manifest = r.section()?.ok_or(BackupError::Damaged)?;
        r.certificate = r.section()?.ok_or(BackupError::Damaged)?;
        Ok(r)
    }

    fn u32(&mut self) -> Result<u32, BackupError> {
        let mut b = [0u8; 4];
        self.inp.read_exact(&mut b).map_err(stream_error)?;
        self.hash.update(b);
        Ok(u32::from_le_bytes(b))
    }

    /// The next section; `None` at the empty section that ends the batches.
    fn section(&mut self) -> Result<Option<Vec<u8>>, BackupError> {
        let len = self.u32()?;
        if len == 0 {
            return Ok(None);
        }
        if len > MAX_SECTION {
            return Err(BackupError::Damaged);
        }
        // Grown as bytes arrive, so a false length cannot make us allocate a gigabyte.
        let mut buf = Vec::new();
        (&mut self.inp)
            .take(u64::from(len))
            .read_to_end(&mut buf)
            .map_err(stream_error)?;
        if buf.len() != len as usize {
            // age vouches for where the file ends: the length itself is wrong.
            return Err(BackupError::Damaged);
        }
        self.hash.update(&buf);
        Ok(Some(buf))
    }

    /// The next batch of changes; `None` after the last one.
    pub fn batch(&mut self) -> Result<Option<Vec<u8>>, BackupError> {
        self.section()
    }

    /// After the last batch: reads the signature and checks it against the certificate; the
    /// file must end right after it.
    pub fn finish(mut self) -> Result<(), BackupError> {
        let digest = self.hash.finalize_reset();
        let mut len = [0u8; 4];
        self.inp.read_exact(&mut len).map_err(stream_error)?;
        let len = u32::from_le_bytes(len);
        if len > 1024 {
            return Err(BackupError::BadSignature);
        }
        let mut signature = vec![0u8; len as usize];
        self.inp.read_exact(&mut signature).map_err(stream_error)?;
        let mut rest = [0u8; 1];
        match self.inp.read(&mut rest).map_err(stream_error)? {
            0 => {}
            _ => return Err(BackupError::Damaged),
        }
        if verify(&self.certificate, &digest, &signature) {
            Ok(())
        } else {
            Err(BackupError::BadSignature)
        }
    }
}
