//! OpenSSH's `openssh-key-v1` private key format, which `CreateKeyPair` returns for
//! Ed25519 (unencrypted, 70-column lines as `ssh-keygen` writes them).

use ssh_key::LineEnding;
use zeroize::Zeroizing;

use crate::error::EncodeError;
use crate::key::PrivateKey;

/// Encodes a private key in OpenSSH format, with `comment` embedded.
pub fn private_key(key: &PrivateKey, comment: &str) -> Result<Zeroizing<String>, EncodeError> {
    let key = ssh_key::PrivateKey::new(key.ssh_keypair()?, comment)?;
    Ok(key.to_openssh(LineEnding::LF)?)
}
