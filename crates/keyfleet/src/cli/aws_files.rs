//! The aws CLI's shared files (`~/.aws/credentials`, `~/.aws/config`), honouring
//! `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE` as the CLI does. `configure`
//! writes a profile; the client commands read it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

/// `~/.aws/credentials` (or `$AWS_SHARED_CREDENTIALS_FILE`).
pub fn credentials_path() -> PathBuf {
    env_path("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

/// `~/.aws/config` (or `$AWS_CONFIG_FILE`).
pub fn config_path() -> PathBuf {
    env_path("AWS_CONFIG_FILE", "config")
}

fn env_path(var: &str, file: &str) -> PathBuf {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".aws").join(file),
    }
}

/// The `name = value` pairs of one `[section]`, empty if the file or section is absent.
pub fn read_section(path: &std::path::Path, section: &str) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeMap::new();
    };
    let header = format!("[{section}]");
    text.lines()
        .skip_while(|l| l.trim() != header)
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Replaces (or appends) one `[section]` of an INI file, leaving the others untouched.
/// The file is written with mode 0600 since it may hold a secret.
pub fn write_section(path: &std::path::Path, section: &str, entries: &[(&str, &str)]) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let header = format!("[{section}]");
    let mut out = String::new();
    let mut lines = existing.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() == header {
            while lines.peek().is_some_and(|l| !l.trim_start().starts_with('[')) {
                lines.next();
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push('\n');
    }
    out.push_str(&header);
    out.push('\n');
    for (k, v) in entries {
        out.push_str(&format!("{k} = {v}\n"));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(out.as_bytes()).with_context(|| format!("writing {}", path.display()))
}
