//! PuTTY private key files, version 2 (`KeyFormat=ppk`).
//!
//! AWS's PPK version is unverified (docs/aws-facts.md, "Generated key material"). Version 2 is readable by every
//! PuTTY since 0.52 and by version 3 readers, so that is what we write. Unencrypted
//! layout, checked byte for byte against `puttygen --ppk-param version=2`:
//!
//! ```text
//! PuTTY-User-Key-File-2: <algorithm>
//! Encryption: none
//! Comment: <comment>
//! Public-Lines: <n>        base64 of the public wire blob, 64 columns
//! Private-Lines: <m>       base64 of the private blob, 64 columns
//! Private-MAC: <hex>       HMAC-SHA1 keyed by SHA1("putty-private-key-file-mac-key")
//! ```
//!
//! The private blob is `mpint d, mpint p, mpint q, mpint iqmp` for RSA and
//! `string seed` for Ed25519. The MAC covers algorithm, encryption, comment and both blobs,
//! each as an SSH `string`.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use rsa::pkcs1::EncodeRsaPrivateKey;
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

use crate::error::EncodeError;
use crate::key::{PrivateInner, PrivateKey};

const LINE_WIDTH: usize = 64;
const MAC_KEY_LABEL: &[u8] = b"putty-private-key-file-mac-key";

/// Encodes a private key as an unencrypted PPK v2 file.
pub fn private_key(key: &PrivateKey, comment: &str) -> Result<Zeroizing<String>, EncodeError> {
    let public_blob = key.public_key()?.wire_blob()?;
    let private_blob = private_blob(key)?;
    let algorithm = match key.key_type() {
        crate::KeyType::Rsa => "ssh-rsa",
        crate::KeyType::Ed25519 => "ssh-ed25519",
    };
    let mac = mac(algorithm, comment, &public_blob, &private_blob);

    let b64 = base64::engine::general_purpose::STANDARD;
    let public_b64 = b64.encode(&public_blob);
    let private_b64 = Zeroizing::new(b64.encode(private_blob.as_slice()));
    let mut out = Zeroizing::new(String::with_capacity(public_b64.len() + private_b64.len() + 256));
    out.push_str("PuTTY-User-Key-File-2: ");
    out.push_str(algorithm);
    out.push_str("\nEncryption: none\nComment: ");
    out.push_str(comment);
    out.push_str(&format!("\nPublic-Lines: {}\n", public_b64.len().div_ceil(LINE_WIDTH)));
    super::wrap_lines(&public_b64, LINE_WIDTH, &mut out);
    out.push_str(&format!("Private-Lines: {}\n", private_b64.len().div_ceil(LINE_WIDTH)));
    super::wrap_lines(&private_b64, LINE_WIDTH, &mut out);
    out.push_str("Private-MAC: ");
    out.push_str(&mac);
    out.push('\n');
    Ok(out)
}

fn private_blob(key: &PrivateKey) -> Result<Zeroizing<Vec<u8>>, EncodeError> {
    let mut blob = Zeroizing::new(Vec::with_capacity(1024));
    match &key.inner {
        PrivateInner::Rsa(rsa_key) => {
            let der = rsa_key.to_pkcs1_der().map_err(|e| EncodeError::Der(e.to_string()))?;
            let fields = pkcs1::RsaPrivateKey::try_from(der.as_bytes()).map_err(|e| EncodeError::Der(e.to_string()))?;
            // PKCS#1's coefficient is q⁻¹ mod p, exactly PuTTY's iqmp.
            for field in [fields.private_exponent, fields.prime1, fields.prime2, fields.coefficient] {
                put_mpint(&mut blob, field.as_bytes());
            }
        }
        PrivateInner::Ed25519(pair) => put_string(&mut blob, pair.private.as_ref()),
    }
    Ok(blob)
}

fn mac(algorithm: &str, comment: &str, public_blob: &[u8], private_blob: &[u8]) -> String {
    let mut data = Zeroizing::new(Vec::with_capacity(private_blob.len() + public_blob.len() + 64));
    for part in [algorithm.as_bytes(), b"none", comment.as_bytes(), public_blob, private_blob] {
        put_string(&mut data, part);
    }
    let key = Sha1::digest(MAC_KEY_LABEL);
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut hmac) = hmac::Hmac::<Sha1>::new_from_slice(&key) else {
        return String::new();
    };
    hmac.update(&data);
    hmac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn put_string(out: &mut Vec<u8>, bytes: &[u8]) {
    // Every input here is a key component or a short label, far below 4 GiB.
    out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// An SSH `mpint` (RFC 4251 §5) of a non-negative big-endian integer.
fn put_mpint(out: &mut Vec<u8>, magnitude: &[u8]) {
    let first = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
    let trimmed = magnitude.get(first..).unwrap_or_default();
    if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
        let len = u32::try_from(trimmed.len() + 1).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.push(0);
        out.extend_from_slice(trimmed);
    } else {
        put_string(out, trimmed);
    }
}
