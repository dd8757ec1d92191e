//! The two ways key handling can fail: a caller's public key we won't accept, and an
//! encoding step that should never fail for keys we generated ourselves.

/// Why an imported public key was refused. Each variant maps to one AWS error at the
/// protocol edge; the split mirrors AWS's own checks (docs/aws-facts.md, "ImportKeyPair formats and checks").
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportError {
    /// No material at all.
    #[error("public key material is empty")]
    Empty,
    /// More than [`crate::import::MAX_MATERIAL_LEN`] bytes.
    #[error("public key material exceeds {max} bytes")]
    TooLong {
        /// The limit that was exceeded.
        max: usize,
    },
    /// A byte above 0x7F: AWS checks this before it looks at the format.
    #[error("public key material is not ASCII")]
    NotAscii,
    /// Not an OpenSSH line, an RFC 4716 block or base64 DER that we could decode.
    #[error("not a valid OpenSSH public key: {0}")]
    Malformed(&'static str),
    /// A well-formed key of a type EC2 refuses (DSA, ECDSA, security keys, certificates).
    #[error("unsupported key type {0}")]
    UnsupportedType(String),
    /// An RSA key whose modulus size EC2 refuses.
    #[error("unsupported RSA key size {0} bits")]
    UnsupportedSize(u32),
}

/// An encoding step failed. For keys this crate generated it indicates a bug, so callers
/// treat it as an internal error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// ssh-key refused to encode.
    #[error("ssh encoding: {0}")]
    Ssh(#[from] ssh_key::Error),
    /// DER encoding of an RSA key failed.
    #[error("DER encoding: {0}")]
    Der(String),
}
