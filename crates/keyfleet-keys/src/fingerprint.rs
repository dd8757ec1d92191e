//! AWS's key pair fingerprints (docs/aws-facts.md, "Key pair fingerprints"). They depend on where the key came from:
//!
//! | key | created by EC2 | imported |
//! |---|---|---|
//! | RSA | SHA-1 of the PKCS#8 private key DER, hex with `:` | MD5 of the SubjectPublicKeyInfo DER, hex with `:` |
//! | Ed25519 | base64 SHA-256 of the SSH wire blob, with `=` padding | the same |
//!
//! None of these is what `ssh-keygen -l` prints by default, which is why this module exists.

use base64::Engine as _;
use md5::Md5;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::EncodeError;
use crate::key::{PrivateInner, PrivateKey, PublicKey};

/// The fingerprint EC2 shows for a key pair it created.
pub fn of_created(key: &PrivateKey) -> Result<String, EncodeError> {
    match &key.inner {
        PrivateInner::Rsa(rsa_key) => {
            let der = rsa_key.to_pkcs8_der().map_err(|e| EncodeError::Der(e.to_string()))?;
            Ok(hex_colons(&Sha1::digest(der.as_bytes())))
        }
        PrivateInner::Ed25519(_) => of_ed25519(&key.public_key()?),
    }
}

/// The fingerprint EC2 shows for an imported public key (or any public key when the
/// origin is unknown, as for a local `.pub` file).
pub fn of_imported(key: &PublicKey) -> Result<String, EncodeError> {
    match key.data.rsa() {
        Some(ssh_rsa) => {
            let public = rsa::RsaPublicKey::try_from(ssh_rsa)?;
            let der = public.to_public_key_der().map_err(|e| EncodeError::Der(e.to_string()))?;
            Ok(hex_colons(&Md5::digest(der.as_bytes())))
        }
        None => of_ed25519(key),
    }
}

fn of_ed25519(key: &PublicKey) -> Result<String, EncodeError> {
    let digest = Sha256::digest(key.wire_blob()?);
    Ok(base64::engine::general_purpose::STANDARD.encode(digest))
}

fn hex_colons(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0xf));
    }
    out
}

/// A nibble (0–15) as a lowercase hex digit.
fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}
