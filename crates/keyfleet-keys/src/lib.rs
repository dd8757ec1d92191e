//! Key material exactly as Amazon EC2 produces and accepts it.
//!
//! This crate is pure: no I/O, no async, no clock. It answers four questions for the
//! service layer:
//!
//! * **generate** ([`generate`]): a fresh RSA-2048 or Ed25519 key, as `CreateKeyPair` does;
//! * **encode** ([`format`]): the private key in the text AWS returns (PKCS#1 PEM for RSA,
//!   OpenSSH for Ed25519, PuTTY PPK v2 on request) and the public key as an OpenSSH line;
//! * **import** ([`import`]): the three public-key formats `ImportKeyPair` accepts;
//! * **fingerprint** ([`fingerprint`]): AWS's fingerprints, which depend on where a key
//!   came from (see docs/aws-facts.md, "Key pair fingerprints").
//!
//! Private key bytes live in [`zeroize::Zeroizing`] buffers and never appear in `Debug`.

pub mod error;
pub mod fingerprint;
pub mod format;
pub mod generate;
pub mod import;
mod key;

pub use error::{EncodeError, ImportError};
pub use key::{KeyFormat, KeyType, PrivateKey, PublicKey};
