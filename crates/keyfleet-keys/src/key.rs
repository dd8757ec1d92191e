//! The key types the rest of the system passes around.

use std::fmt;

use ssh_key::private::{Ed25519Keypair, KeypairData, RsaKeypair};
use ssh_key::public::KeyData;
use zeroize::Zeroizing;

use crate::error::EncodeError;

/// The two key types EC2 generates and imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// RSA (2048 bits when generated; 1024–4096 when imported).
    Rsa,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// The wire name (`rsa`, `ed25519`), as in `KeyType` and `keyType`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "rsa",
            KeyType::Ed25519 => "ed25519",
        }
    }

    /// Parses a wire name; `None` for anything else (case-sensitive, as AWS enums are).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa" => Some(KeyType::Rsa),
            "ed25519" => Some(KeyType::Ed25519),
            _ => None,
        }
    }
}

/// The file format of the private key returned by `CreateKeyPair`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFormat {
    /// PKCS#1 PEM for RSA, OpenSSH for Ed25519.
    Pem,
    /// PuTTY private key file, version 2.
    Ppk,
}

impl KeyFormat {
    /// The wire name (`pem`, `ppk`).
    pub fn as_str(self) -> &'static str {
        match self {
            KeyFormat::Pem => "pem",
            KeyFormat::Ppk => "ppk",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pem" => Some(KeyFormat::Pem),
            "ppk" => Some(KeyFormat::Ppk),
            _ => None,
        }
    }
}

/// A private key generated for `CreateKeyPair`. It exists only while a response is
/// built: the key types zeroize themselves on drop and `Debug` prints no secret.
pub struct PrivateKey {
    pub(crate) inner: PrivateInner,
}

pub(crate) enum PrivateInner {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<Ed25519Keypair>),
}

impl PrivateKey {
    /// Wraps an RSA key (used by the generator and by tests with fixed vectors).
    pub fn from_rsa(key: rsa::RsaPrivateKey) -> Self {
        PrivateKey { inner: PrivateInner::Rsa(Box::new(key)) }
    }

    /// Builds an Ed25519 key from its 32-byte seed.
    pub fn from_ed25519_seed(seed: &[u8; 32]) -> Self {
        PrivateKey { inner: PrivateInner::Ed25519(Box::new(Ed25519Keypair::from_seed(seed))) }
    }

    /// Parses an unencrypted private key file as `ssh-keygen` and AWS write them:
    /// PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`) or OpenSSH (`BEGIN OPENSSH PRIVATE KEY`).
    pub fn from_pem(text: &str) -> Option<Self> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        let text = text.trim();
        if let Some(body) = text
            .strip_prefix("-----BEGIN RSA PRIVATE KEY-----")
            .and_then(|rest| rest.strip_suffix("-----END RSA PRIVATE KEY-----"))
        {
            // Decoded by hand: the pem crate insists on 64-column lines, and AWS writes 76.
            let der = Zeroizing::new(crate::import::lenient_base64(body).ok()?);
            return rsa::RsaPrivateKey::from_pkcs1_der(&der).ok().map(Self::from_rsa);
        }
        let key = ssh_key::PrivateKey::from_openssh(text).ok()?;
        match key.key_data() {
            KeypairData::Ed25519(pair) => Some(PrivateKey { inner: PrivateInner::Ed25519(Box::new(pair.clone())) }),
            KeypairData::Rsa(pair) => rsa::RsaPrivateKey::try_from(pair).ok().map(Self::from_rsa),
            _ => None,
        }
    }

    /// RSA or Ed25519.
    pub fn key_type(&self) -> KeyType {
        match self.inner {
            PrivateInner::Rsa(_) => KeyType::Rsa,
            PrivateInner::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<PublicKey, EncodeError> {
        let data = match &self.inner {
            PrivateInner::Rsa(key) => {
                let public = ssh_key::public::RsaPublicKey::try_from(key.to_public_key())?;
                KeyData::Rsa(public)
            }
            PrivateInner::Ed25519(pair) => KeyData::Ed25519(pair.public),
        };
        Ok(PublicKey { data })
    }

    /// The key as ssh-key's keypair, for the OpenSSH and PPK encoders.
    pub(crate) fn ssh_keypair(&self) -> Result<KeypairData, EncodeError> {
        Ok(match &self.inner {
            PrivateInner::Rsa(key) => KeypairData::Rsa(RsaKeypair::try_from(key.as_ref())?),
            PrivateInner::Ed25519(pair) => KeypairData::Ed25519(pair.as_ref().clone()),
        })
    }

    /// The private key in OpenSSH format whatever its type, as `ssh-keygen` writes it.
    pub fn to_openssh(&self, comment: &str) -> Result<Zeroizing<String>, EncodeError> {
        crate::format::openssh::private_key(self, comment)
    }

    /// The private key text returned once by `CreateKeyPair`.
    pub fn to_material(&self, format: KeyFormat, comment: &str) -> Result<Zeroizing<String>, EncodeError> {
        match format {
            KeyFormat::Pem => match &self.inner {
                PrivateInner::Rsa(key) => crate::format::pem::rsa_pkcs1(key),
                PrivateInner::Ed25519(_) => crate::format::openssh::private_key(self, comment),
            },
            KeyFormat::Ppk => crate::format::ppk::private_key(self, comment),
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({}, <redacted>)", self.key_type().as_str())
    }
}

/// A public key of a supported type, as stored for a key pair.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub(crate) data: KeyData,
}

impl PublicKey {
    /// RSA or Ed25519.
    pub fn key_type(&self) -> KeyType {
        if self.data.is_rsa() { KeyType::Rsa } else { KeyType::Ed25519 }
    }

    /// The SSH wire blob (RFC 4253 §6.6).
    pub fn wire_blob(&self) -> Result<Vec<u8>, EncodeError> {
        Ok(ssh_key::PublicKey::from(self.data.clone()).to_bytes()?)
    }

    /// The `authorized_keys` line `<alg> <base64> <comment>`, as AWS shows it with the key
    /// pair name as the comment.
    pub fn to_openssh_line(&self, comment: &str) -> Result<String, EncodeError> {
        Ok(ssh_key::PublicKey::new(self.data.clone(), comment).to_openssh()?)
    }

    /// Parses an `authorized_keys`-style line (`<alg> <base64> [comment]`) strictly.
    pub fn from_openssh_line(line: &str) -> Option<Self> {
        let key = ssh_key::PublicKey::from_openssh(line.trim()).ok()?;
        crate::import::supported(key.key_data().clone()).ok()
    }

    /// The modulus size for RSA keys, in bits.
    pub fn rsa_bits(&self) -> Option<u32> {
        self.data.rsa().map(|k| k.key_size())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_openssh_line("") {
            Ok(line) => write!(f, "PublicKey({})", line.trim_end()),
            Err(_) => write!(f, "PublicKey({})", self.key_type().as_str()),
        }
    }
}
