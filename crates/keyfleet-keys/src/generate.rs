//! Fresh keys for `CreateKeyPair`: RSA-2048 with e = 65537, or Ed25519, from the OS RNG.
//!
//! RSA generation costs tens of milliseconds (measured by `cargo bench -p keyfleet-keys`), so callers run it on a
//! blocking thread; Ed25519 costs microseconds.

use rand_core::UnwrapErr;

use crate::error::EncodeError;
use crate::key::{KeyType, PrivateKey};

/// The RSA modulus size EC2 generates.
pub const RSA_BITS: usize = 2048;

/// Generates an RSA key of `bits` bits (EC2 Rescue's recovery keys are 4096).
pub fn rsa(bits: usize) -> Result<PrivateKey, EncodeError> {
    let mut rng = UnwrapErr(getrandom::SysRng);
    let key = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|e| EncodeError::Der(e.to_string()))?;
    larger_prime_first(key).map(PrivateKey::from_rsa)
}

/// OpenSSL (and so EC2) always stores the larger prime as `p`; half of the keys the `rsa`
/// crate makes have `p < q`. Tools that rebuild the PKCS#8 form from the primes (PuTTY's
/// conversion does) would then get other bytes, and another SHA-1 than EC2's fingerprint.
fn larger_prime_first(key: rsa::RsaPrivateKey) -> Result<rsa::RsaPrivateKey, EncodeError> {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let [p, q] = key.primes() else { return Ok(key) };
    if p >= q {
        return Ok(key);
    }
    let (n, e, d) = (key.n().as_ref().clone(), key.e().clone(), key.d().clone());
    rsa::RsaPrivateKey::from_components(n, e, d, vec![q.clone(), p.clone()])
        .map_err(|e| EncodeError::Der(e.to_string()))
}

/// Generates a new key of the given type.
pub fn generate(key_type: KeyType) -> Result<PrivateKey, EncodeError> {
    match key_type {
        KeyType::Rsa => rsa(RSA_BITS),
        KeyType::Ed25519 => {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(|e| EncodeError::Der(e.to_string()))?;
            Ok(PrivateKey::from_ed25519_seed(&seed))
        }
    }
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::traits::PrivateKeyParts;

    use crate::key::KeyFormat;

    /// Each key has a 1-in-2 chance of p < q from the generator: 12 keys all p > q means the
    /// swap works (a missing swap passes with odds of 1 in 4096).
    #[test]
    fn rsa_keys_store_the_larger_prime_first() {
        for _ in 0..12 {
            let pem = super::rsa(1024).unwrap().to_material(KeyFormat::Pem, "").unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, body).unwrap();
            let key = rsa::RsaPrivateKey::from_pkcs1_der(&der).unwrap();
            assert!(key.primes()[0] > key.primes()[1]);
        }
    }
}
