//! The admin credentials file in the data dir: created (mode 0600) on first start, read
//! by the server at every start and by `keyfleet configure`.
//!
//! The format is `name = value` lines, like the aws CLI's own credentials file, so a
//! person can read it and copy values by hand.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::api::auth::{AccessKey, SecretKey};
use crate::common::ids;

/// The file's name inside the data dir.
pub const FILE_NAME: &str = "admin-credentials";

/// Errors reading or writing the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A required line is missing.
    #[error("{path}: missing {field}")]
    Missing {
        /// The file.
        path: PathBuf,
        /// The missing field.
        field: &'static str,
    },
}

/// Reads the admin key, creating it first if the file does not exist.
/// Returns the key and whether it was created now.
pub fn load_or_create(data_dir: &Path) -> Result<(AccessKey, bool), CredentialsFileError> {
    let path = data_dir.join(FILE_NAME);
    if path.exists() {
        return read(&path).map(|k| (k, false));
    }
    let key = AccessKey {
        id: ids::access_key_id(),
        secret: SecretKey::new(ids::secret_access_key().to_string()),
        account: ids::account_id(),
    };
    let io = |source| CredentialsFileError::Io { path: path.clone(), source };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    let text = format!(
        "# keyfleet admin credentials: full access. Keep this file private.\naccount_id = {}\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        key.account,
        key.id,
        key.secret.expose()
    );
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
    Ok((key, true))
}

/// Reads an existing credentials file.
pub fn read(path: &Path) -> Result<AccessKey, CredentialsFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| CredentialsFileError::Io { path: path.to_owned(), source })?;
    let field = |name: &'static str| {
        text.lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, _)| k.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
            .ok_or(CredentialsFileError::Missing { path: path.to_owned(), field: name })
    };
    Ok(AccessKey {
        id: field("aws_access_key_id")?,
        secret: SecretKey::new(field("aws_secret_access_key")?),
        account: field("account_id")?,
    })
}
