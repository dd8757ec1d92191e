//! Fresh keys for `CreateKeyPair`: RSA-2048 with e = 65537, or Ed25519, from the OS RNG.
//!
//! RSA generation costs tens of milliseconds (rust-deps.md §2), so callers run it on a
//! blocking thread; Ed25519 costs microseconds.

use rand_core::UnwrapErr;

use crate::error::EncodeError;
use crate::key::{KeyType, PrivateKey};

/// The RSA modulus size EC2 generates.
pub const RSA_BITS: usize = 2048;

/// Generates an RSA key of `bits` bits (EC2 Rescue's recovery keys are 4096).
pub fn rsa(bits: usize) -> Result<PrivateKey, EncodeError> {
    let mut rng = UnwrapErr(getrandom::SysRng);
    rsa::RsaPrivateKey::new(&mut rng, bits).map(PrivateKey::from_rsa).map_err(|e| EncodeError::Der(e.to_string()))
}

/// Generates a new key of the given type.
pub fn generate(key_type: KeyType) -> Result<PrivateKey, EncodeError> {
    // The OS RNG failing is not a recoverable condition for a key service; UnwrapErr
    // turns it into the same abort every crypto library performs.
    let mut rng = UnwrapErr(getrandom::SysRng);
    match key_type {
        KeyType::Rsa => rsa::RsaPrivateKey::new(&mut rng, RSA_BITS)
            .map(PrivateKey::from_rsa)
            .map_err(|e| EncodeError::Der(e.to_string())),
        KeyType::Ed25519 => {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|e| EncodeError::Der(e.to_string()))?;
            Ok(PrivateKey::from_ed25519_seed(&seed))
        }
    }
}
