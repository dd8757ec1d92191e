//! `~/.ssh/authorized_keys` as sshd reads it (sshd(8), "AUTHORIZED_KEYS FILE FORMAT"):
//! one key per line, optionally preceded by comma-separated options. The file is read at
//! every authentication attempt, so edits made from inside the instance apply at once.
//!
//! Options are honoured or the line is skipped, as sshd skips lines with bad options:
//! `from=` (IP patterns with `*`, `?`, `!` and CIDR), `expiry-time=` (UTC), `restrict`,
//! `no-pty`/`pty`, `command=`, and the no-op forwarding restrictions (keyfleet forwards
//! nothing). `cert-authority`, `environment=`, `permitopen=` and anything unknown make the
//! line unusable rather than silently weaker.

use std::net::IpAddr;
use std::path::Path;

use ssh_key::public::KeyData;
use time::OffsetDateTime;

/// What a matching line grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// A pty may be allocated.
    pub pty: bool,
    /// `command=`: runs instead of whatever the client asked for.
    pub forced_command: Option<String>,
}

/// The most of an `authorized_keys` file that is read. sshd has no cap; no real file comes
/// near this, and a larger one (a sparse file, say) is refused rather than loaded.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Why a file was not consulted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    /// The file, `~/.ssh` or the home directory is group- or world-writable, or owned by
    /// someone other than the user or root (StrictModes).
    #[error("bad ownership or modes for {0}")]
    BadModes(String),
    /// There is no file.
    #[error("no authorized_keys file")]
    Missing,
    /// A link, a FIFO or a device on the way, or a file over [`MAX_FILE_BYTES`].
    #[error("unusable authorized_keys: {0}")]
    Unusable(String),
}

impl FileError {
    /// The reason an SSH login is refused with, for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            FileError::BadModes(_) => "authorized_keys has unsafe permissions",
            FileError::Missing => "no authorized_keys",
            FileError::Unusable(_) => "authorized_keys is not a regular file of a usable size",
        }
    }
}

/// Reads `<homes>/<user>/.ssh/authorized_keys` without following links out of `homes`,
/// refusing it as sshd's StrictModes does: the home directory, `.ssh` and the file must be
/// owned by the user (`owner`, the host uid the instance's user runs as) or root, and
/// writable by no one else. Blocks on disk I/O only: run it off the async threads.
pub fn read(homes: &Path, user: &str, owner: u32) -> Result<String, FileError> {
    use super::beneath::{BeneathError, Root};
    let unusable = |e: BeneathError| match e {
        BeneathError::NotFound(_) => FileError::Missing,
        other => FileError::Unusable(other.to_string()),
    };
    let root = Root::open(homes).map_err(unusable)?;
    let file = format!("{user}/.ssh/authorized_keys");
    for path in [user.to_owned(), format!("{user}/.ssh"), file.clone()] {
        let entry = root.owner_of(&path).map_err(unusable)?;
        if entry.mode & 0o022 != 0 || (entry.uid != owner && entry.uid != 0) {
            return Err(FileError::BadModes(path));
        }
    }
    let bytes = root.read(&file, MAX_FILE_BYTES).map_err(unusable)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The grant of the first line that holds `key` and whose options admit this client now.
pub fn find(text: &str, key: &KeyData, client: IpAddr, now: OffsetDateTime) -> Option<Grant> {
    text.lines().filter_map(parse_line).find(|line| &line.key == key).and_then(|line| line.admit(client, now))
}

/// An option's name and its value (`None` for flags such as `restrict`).
type KeyOption = (String, Option<String>);

struct Line {
    key: KeyData,
    options: Vec<KeyOption>,
}

impl Line {
    fn admit(&self, client: IpAddr, now: OffsetDateTime) -> Option<Grant> {
        let mut grant = Grant { pty: true, forced_command: None };
        for (name, value) in &self.options {
            match (name.to_ascii_lowercase().as_str(), value.as_deref()) {
                ("from", Some(patterns)) if !from_matches(patterns, client) => return None,
                ("expiry-time", Some(t)) if parse_expiry(t).is_none_or(|expiry| now >= expiry) => return None,
                ("from" | "expiry-time", Some(_)) => {}
                ("restrict" | "no-pty", None) => grant.pty = false,
                ("pty", None) => grant.pty = true,
                ("command", Some(c)) => grant.forced_command = Some(c.to_owned()),
                (
                    "no-port-forwarding"
                    | "no-agent-forwarding"
                    | "no-x11-forwarding"
                    | "no-user-rc"
                    | "port-forwarding"
                    | "agent-forwarding"
                    | "x11-forwarding"
                    | "user-rc",
                    None,
                ) => {}
                _ => return None,
            }
        }
        Some(grant)
    }
}

fn parse_line(line: &str) -> Option<Line> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    if let Some(key) = parse_key(line) {
        return Some(Line { key, options: Vec::new() });
    }
    let (options, rest) = split_options(line)?;
    Some(Line { key: parse_key(rest.trim_start())?, options })
}

fn parse_key(text: &str) -> Option<KeyData> {
    let mut parts = text.split_whitespace();
    let (alg, blob) = (parts.next()?, parts.next()?);
    ssh_key::PublicKey::from_openssh(&format!("{alg} {blob}")).ok().map(|k| k.key_data().clone())
}

/// Splits `opt1,opt2="a,b" ssh-ed25519 …` into options and the rest, honouring quotes.
fn split_options(line: &str) -> Option<(Vec<KeyOption>, &str)> {
    let mut options = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => {}
            ',' if !in_quotes => options.push(option(&std::mem::take(&mut current))),
            c if c.is_whitespace() && !in_quotes => {
                options.push(option(&current));
                return Some((options, &line[i..]));
            }
            c => current.push(c),
        }
    }
    None
}

fn option(text: &str) -> KeyOption {
    match text.split_once('=') {
        Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
        None => (text.to_owned(), None),
    }
}

/// `from="10.0.0.*,!10.0.0.5,192.168.0.0/16"`: a negated match refuses outright; otherwise
/// some positive pattern must match. Host names are never resolved, so they never match.
fn from_matches(patterns: &str, client: IpAddr) -> bool {
    let mut allowed = false;
    for pattern in patterns.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pattern),
        };
        if address_matches(pattern, client) {
            if negated {
                return false;
            }
            allowed = true;
        }
    }
    allowed
}

fn address_matches(pattern: &str, client: IpAddr) -> bool {
    if pattern.contains('/') {
        return crate::common::cidr::contains(pattern, client);
    }
    crate::common::glob::ec2_match(pattern, &client.to_string())
}

/// `YYYYMMDD[HHMM[SS]]`, taken as UTC (sshd uses the system time zone; instances run in UTC).
fn parse_expiry(text: &str) -> Option<OffsetDateTime> {
    if !text.bytes().all(|b| b.is_ascii_digit()) || !matches!(text.len(), 8 | 12 | 14) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u32>().ok());
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(num(4..6)?).ok()?).ok()?,
        u8::try_from(num(6..8)?).ok()?,
    )
    .ok()?;
    let hms = |r: std::ops::Range<usize>| num(r).map_or(Some(0), |v| u8::try_from(v).ok());
    let time = time::Time::from_hms(hms(8..10)?, hms(10..12)?, hms(12..14)?).ok()?;
    Some(time::PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILR+zNQbYY5ORuhYXGMTSnjRLzS9C5dUdWRKdlqi20q2";

    fn key() -> KeyData {
        parse_key(KEY).unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap() // 2027-01-15
    }

    #[test]
    fn plain_line_with_comment_matches() {
        let grant = find(&format!("# c\n\n{KEY} demo\n"), &key(), ip("127.0.0.1"), now()).unwrap();
        assert_eq!(grant, Grant { pty: true, forced_command: None });
    }

    #[test]
    fn from_patterns_cidr_and_negation() {
        let text = |from: &str| format!("from=\"{from}\" {KEY}");
        assert!(find(&text("127.0.0.*"), &key(), ip("127.0.0.9"), now()).is_some());
        assert!(find(&text("10.0.0.0/8,127.0.0.0/8"), &key(), ip("127.1.2.3"), now()).is_some());
        assert!(find(&text("127.0.0.0/8,!127.0.0.5"), &key(), ip("127.0.0.5"), now()).is_none());
        assert!(find(&text("192.168.*"), &key(), ip("127.0.0.1"), now()).is_none());
    }

    #[test]
    fn expiry_restrict_and_forced_command() {
        assert!(find(&format!("expiry-time=\"20261231\" {KEY}"), &key(), ip("127.0.0.1"), now()).is_none());
        assert!(find(&format!("expiry-time=\"20270201\" {KEY}"), &key(), ip("127.0.0.1"), now()).is_some());
        let g = find(&format!("restrict,command=\"echo a, b\" {KEY}"), &key(), ip("127.0.0.1"), now()).unwrap();
        assert_eq!(g, Grant { pty: false, forced_command: Some("echo a, b".into()) });
        assert!(find(&format!("restrict,pty {KEY}"), &key(), ip("127.0.0.1"), now()).unwrap().pty);
    }

    #[test]
    fn unknown_options_and_other_keys_do_not_match() {
        assert!(find(&format!("environment=\"A=b\" {KEY}"), &key(), ip("127.0.0.1"), now()).is_none());
        assert!(find(&format!("cert-authority {KEY}"), &key(), ip("127.0.0.1"), now()).is_none());
        let other = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID5NbKt+BPWP8SMUE9NeUomWbpxmjWhFlSUoEBRdyER3";
        assert!(find(other, &key(), ip("127.0.0.1"), now()).is_none());
        assert!(find("garbage line\n", &key(), ip("127.0.0.1"), now()).is_none());
    }

    #[test]
    fn strict_modes_refuse_group_or_world_writable_and_foreign_owners() {
        use std::os::unix::fs::PermissionsExt;
        let homes = tempfile::tempdir().unwrap();
        let home = homes.path().join("ec2-user");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/authorized_keys"), KEY).unwrap();
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(home.join(".ssh"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let file = home.join(".ssh/authorized_keys");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let me = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&file).unwrap());
        assert!(read(homes.path(), "ec2-user", me).is_ok());
        if me != 0 {
            assert!(matches!(read(homes.path(), "ec2-user", me + 1), Err(FileError::BadModes(_))));
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(read(homes.path(), "ec2-user", me), Err(FileError::BadModes(_))));
    }

    #[test]
    fn links_out_of_the_volume_are_not_followed() {
        let homes = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join(".ssh")).unwrap();
        std::fs::write(outside.path().join(".ssh/authorized_keys"), KEY).unwrap();
        std::os::unix::fs::symlink(outside.path(), homes.path().join("ec2-user")).unwrap();
        assert!(matches!(read(homes.path(), "ec2-user", 0), Err(FileError::Unusable(_))));
    }
}
