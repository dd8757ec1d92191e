//! PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`), the text `CreateKeyPair` returns for RSA.
//!
//! Every AWS sample of a generated RSA key wraps the base64 at 76 columns and has no
//! newline after the END line (docs/aws-facts.md, "Generated key material"); OpenSSL would wrap at 64.
//! Both parse everywhere, so we follow AWS.

use base64::Engine as _;
use rsa::pkcs1::EncodeRsaPrivateKey;
use zeroize::Zeroizing;

use crate::error::EncodeError;

/// The base64 line width in AWS's RSA key material.
pub const LINE_WIDTH: usize = 76;

const BEGIN: &str = "-----BEGIN RSA PRIVATE KEY-----\n";
const END: &str = "-----END RSA PRIVATE KEY-----";

/// Encodes an RSA private key as AWS's PKCS#1 PEM.
pub fn rsa_pkcs1(key: &rsa::RsaPrivateKey) -> Result<Zeroizing<String>, EncodeError> {
    let der = key.to_pkcs1_der().map_err(|e| EncodeError::Der(e.to_string()))?;
    let body = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der.as_bytes()));
    let mut out = Zeroizing::new(String::with_capacity(BEGIN.len() + END.len() + body.len() * 78 / 76 + 2));
    out.push_str(BEGIN);
    super::wrap_lines(&body, LINE_WIDTH, &mut out);
    out.push_str(END);
    Ok(out)
}
