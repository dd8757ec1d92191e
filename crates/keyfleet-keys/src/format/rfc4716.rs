//! RFC 4716 "SSH2 public key" blocks, one of the formats `ImportKeyPair` accepts and
//! what `ssh-keygen -e` writes:
//!
//! ```text
//! ---- BEGIN SSH2 PUBLIC KEY ----
//! Comment: "2048-bit RSA, converted by me@host from OpenSSH"
//! AAAAB3NzaC1yc2EAAAADAQABAAABAQC4...
//! ---- END SSH2 PUBLIC KEY ----
//! ```
//!
//! Header lines are `Tag: value` and continue onto the next line when they end in `\`
//! (RFC 4716 §3.3); header tags are case-insensitive. Only the key blob matters to EC2.

use base64::Engine as _;

use crate::error::ImportError;

/// The first line of a block.
pub const BEGIN: &str = "---- BEGIN SSH2 PUBLIC KEY ----";
/// The last line of a block.
pub const END: &str = "---- END SSH2 PUBLIC KEY ----";

/// Returns the SSH wire blob inside an RFC 4716 block.
pub fn parse(text: &str) -> Result<Vec<u8>, ImportError> {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut lines = normalized.lines().map(str::trim);
    if lines.next() != Some(BEGIN) {
        return Err(ImportError::Malformed("missing RFC 4716 BEGIN line"));
    }
    let mut body = String::new();
    let mut in_header = true;
    let mut continued = false;
    let mut ended = false;
    for line in lines {
        if line == END {
            ended = true;
            break;
        }
        if continued {
            continued = line.ends_with('\\');
            continue;
        }
        if in_header && line.contains(':') {
            continued = line.ends_with('\\');
            continue;
        }
        in_header = false;
        body.push_str(line);
    }
    if !ended {
        return Err(ImportError::Malformed("missing RFC 4716 END line"));
    }
    crate::import::lenient_base64(&body)
}

/// Encodes a wire blob as an RFC 4716 block with an optional comment header.
pub fn encode(blob: &[u8], comment: Option<&str>) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(blob);
    let mut out = String::with_capacity(body.len() + 128);
    out.push_str(BEGIN);
    out.push('\n');
    if let Some(comment) = comment {
        out.push_str("Comment: \"");
        out.push_str(comment);
        out.push_str("\"\n");
    }
    // RFC 4716 §3: lines of at most 72 8-bit bytes.
    super::wrap_lines(&body, 70, &mut out);
    out.push_str(END);
    out.push('\n');
    out
}
