//! Envelope encryption for secrets at rest (SecureString parameters).
//!
//! Every value gets a fresh 256-bit data key. The value is sealed with it (AES-256-GCM,
//! with the parameter's ARN as associated data, so a ciphertext cannot be moved to another
//! parameter), and the data key is sealed with the master key. Only the sealed blob reaches
//! the database; the master key lives in a 0600 file outside it.
//!
//! Blob layout, base64-encoded for storage and for `WithDecryption=false` answers:
//! `[version 1][nonce 12][sealed data key 32+16][nonce 12][sealed value + tag 16]`.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_KEY_LEN: usize = KEY_LEN + TAG_LEN;
const DATA_KEY_AAD: &[u8] = b"keyfleet data key v1";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The master key file could not be read or written.
    #[error("master key {path}: {source}")]
    MasterKeyFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The master key file does not hold 32 bytes.
    #[error("master key {0} is not 32 bytes")]
    MasterKeySize(String),
    /// The blob is not ours, was altered, or belongs to another parameter.
    #[error("ciphertext cannot be opened")]
    Corrupt,
    /// The crypto library refused (never expected).
    #[error("crypto failure")]
    Crypto,
}

/// The key that wraps every data key. Never stored in the database, never logged.
pub struct MasterKey {
    key: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

impl MasterKey {
    /// Reads the key file, creating it (mode 0600, 32 random bytes) if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, EnvelopeError> {
        let file_error = |source| EnvelopeError::MasterKeyFile { path: path.display().to_string(), source };
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        match std::fs::read(path) {
            Ok(bytes) => {
                let bytes = Zeroizing::new(bytes);
                if bytes.len() != KEY_LEN {
                    return Err(EnvelopeError::MasterKeySize(path.display().to_string()));
                }
                key.copy_from_slice(&bytes);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                getrandom::fill(key.as_mut()).map_err(|_| EnvelopeError::Crypto)?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(file_error)?;
                file.write_all(key.as_ref()).and_then(|()| file.sync_all()).map_err(file_error)?;
            }
            Err(e) => return Err(file_error(e)),
        }
        Ok(MasterKey { key })
    }

    /// Seals `plaintext` bound to `context` (the parameter ARN); returns base64.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, EnvelopeError> {
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(data_key.as_mut()).map_err(|_| EnvelopeError::Crypto)?;
        let mut blob = Vec::with_capacity(1 + 2 * NONCE_LEN + WRAPPED_KEY_LEN + plaintext.len() + TAG_LEN);
        blob.push(VERSION);
        let mut wrapped = data_key.to_vec();
        seal_in_place(self.key.as_ref(), DATA_KEY_AAD, &mut wrapped, &mut blob)?;
        let mut value = plaintext.to_vec();
        seal_in_place(data_key.as_ref(), context.as_bytes(), &mut value, &mut blob)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob))
    }

    /// Opens a blob made by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, encoded: &str, context: &str) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
        let blob = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| EnvelopeError::Corrupt)?;
        let (&version, rest) = blob.split_first().ok_or(EnvelopeError::Corrupt)?;
        if version != VERSION || rest.len() < 2 * NONCE_LEN + WRAPPED_KEY_LEN + TAG_LEN {
            return Err(EnvelopeError::Corrupt);
        }
        let (key_part, value_part) = rest.split_at(NONCE_LEN + WRAPPED_KEY_LEN);
        let data_key = open_part(self.key.as_ref(), DATA_KEY_AAD, key_part)?;
        open_part(&data_key, context.as_bytes(), value_part)
    }
}

/// Appends `nonce || seal(in_out)` to `out`.
fn seal_in_place(key: &[u8], aad: &[u8], in_out: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<(), EnvelopeError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| EnvelopeError::Crypto)?);
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| EnvelopeError::Crypto)?;
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .map_err(|_| EnvelopeError::Crypto)?;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(in_out);
    zeroize::Zeroize::zeroize(in_out);
    Ok(())
}

/// Opens `nonce || sealed`.
fn open_part(key: &[u8], aad: &[u8], part: &[u8]) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| EnvelopeError::Crypto)?);
    let (nonce, sealed) = part.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| EnvelopeError::Corrupt)?;
    let mut buffer = Zeroizing::new(sealed.to_vec());
    let plain_len =
        key.open_in_place(nonce, Aad::from(aad), buffer.as_mut()).map_err(|_| EnvelopeError::Corrupt)?.len();
    buffer.truncate(plain_len);
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_bound_to_context_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let master = MasterKey::load_or_create(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = master.seal(b"hunter2", "arn:a").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_eq!(master.open(&sealed, "arn:a").unwrap().as_slice(), b"hunter2");
        assert!(master.open(&sealed, "arn:b").is_err(), "moved to another parameter");
        let again = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, "arn:a").unwrap().as_slice(), b"hunter2", "the key file persists");
        let other = MasterKey::load_or_create(&dir.path().join("other.key")).unwrap();
        assert!(other.open(&sealed, "arn:a").is_err());
        assert_ne!(master.seal(b"hunter2", "arn:a").unwrap(), sealed, "fresh data key and nonces");
        assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
    }
}
