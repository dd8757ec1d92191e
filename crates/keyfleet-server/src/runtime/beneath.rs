//! Every host-side read, write, chmod, chown and mkdir inside the part of a volume that an
//! instance can change goes through here. An instance user controls every name under its
//! `/home`, so a path there may be a link to anywhere on the host, a FIFO that blocks its
//! reader forever, or a sparse file of any size.
//!
//! Paths are resolved with `openat2(2)` from a directory handle, with `RESOLVE_BENEATH`
//! (nothing above that directory), `RESOLVE_NO_SYMLINKS` (no link at any component, not
//! only the last) and `RESOLVE_NO_MAGICLINKS`. Files are opened `O_NONBLOCK` so that a FIFO
//! or a device never blocks the open, then refused unless they are regular files, and read
//! up to a cap. There is no fallback to path-based calls: a kernel without `openat2`
//! (before Linux 5.6) fails these operations.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};

/// Why a file inside a volume was not used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BeneathError {
    /// Nothing there.
    #[error("{0}: not found")]
    NotFound(String),
    /// A link, a FIFO, a device, or a directory where a file was wanted (or the reverse).
    #[error("{0}: not a regular file or directory")]
    WrongType(String),
    /// Larger than the caller's cap.
    #[error("{0}: larger than {1} bytes")]
    TooLarge(String, u64),
    /// Any other failure of the system call.
    #[error("{path}: {source}")]
    Io {
        /// The path below the root.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<BeneathError> for std::io::Error {
    fn from(e: BeneathError) -> Self {
        let kind = match &e {
            BeneathError::NotFound(_) => std::io::ErrorKind::NotFound,
            BeneathError::WrongType(_) | BeneathError::TooLarge(..) => std::io::ErrorKind::InvalidData,
            BeneathError::Io { source, .. } => source.kind(),
        };
        std::io::Error::new(kind, e)
    }
}

/// The owner and mode of an entry, as `lstat` would tell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The owning uid.
    pub uid: u32,
    /// The permission bits.
    pub mode: u32,
}

/// A directory that paths are resolved beneath.
#[derive(Debug)]
pub struct Root {
    dir: OwnedFd,
}

/// How deep [`Root::chown_tree`] goes.
const MAX_DEPTH: usize = 128;

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_MAGICLINKS);

impl Root {
    /// Opens `path` as the root. `path` itself is the server's own (under the data dir) and
    /// is opened normally, but must be a directory and not a link.
    pub fn open(path: &Path) -> Result<Self, BeneathError> {
        let name = path.display().to_string();
        let dir = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| classify(&name, e))?;
        Ok(Root { dir })
    }

    /// Opens a directory beneath the root as a root of its own.
    pub fn dir(&self, path: &str) -> Result<Root, BeneathError> {
        Ok(Root { dir: self.open_at(path, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())? })
    }

    /// The root's own owner and mode.
    pub fn owner(&self) -> Result<Owner, BeneathError> {
        owner_of(&File::from(self.dir.try_clone().map_err(|e| io(".", e))?), ".")
    }

    /// The owner and mode of a file or directory beneath the root (a link is refused).
    pub fn owner_of(&self, path: &str) -> Result<Owner, BeneathError> {
        // With O_PATH | O_NOFOLLOW a trailing link opens as the link itself.
        let file = File::from(self.open_at(path, OFlags::PATH, Mode::empty())?);
        if file.metadata().map_err(|e| io(path, e))?.file_type().is_symlink() {
            return Err(BeneathError::WrongType(path.to_owned()));
        }
        owner_of(&file, path)
    }

    /// Reads a regular file of at most `cap` bytes.
    pub fn read(&self, path: &str, cap: u64) -> Result<Vec<u8>, BeneathError> {
        let file = self.regular(path, OFlags::RDONLY)?;
        let size = file.metadata().map_err(|e| io(path, e))?.len();
        if size > cap {
            return Err(BeneathError::TooLarge(path.to_owned(), cap));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // The file may grow after the check: read one byte past the cap to notice.
        file.take(cap + 1).read_to_end(&mut bytes).map_err(|e| io(path, e))?;
        if bytes.len() as u64 > cap {
            return Err(BeneathError::TooLarge(path.to_owned(), cap));
        }
        Ok(bytes)
    }

    /// Appends to an existing regular file.
    pub fn append(&self, path: &str, bytes: &[u8]) -> Result<(), BeneathError> {
        let mut file = self.regular(path, OFlags::WRONLY | OFlags::APPEND)?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io(path, e))
    }

    /// Creates a regular file that must not exist yet, with `mode`, owned by `owner`.
    pub fn create(&self, path: &str, bytes: &[u8], mode: u32, owner: Option<u32>) -> Result<(), BeneathError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL;
        let mut file = File::from(self.open_at(path, flags, Mode::from_raw_mode(mode))?);
        if let Some(uid) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(uid)).map_err(|e| io(path, e))?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| io(path, e))?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| io(path, e))
    }

    /// Makes a directory (the parent must exist) unless it is there; either way it ends up a
    /// directory, not a link, with `mode` and, if given, owned by `owner`.
    pub fn ensure_dir(&self, path: &str, mode: u32, owner: Option<u32>) -> Result<(), BeneathError> {
        let (parent, name) = split_parent(path);
        let parent = match parent {
            Some(p) => self.dir(p)?,
            None => Root { dir: self.dir.try_clone().map_err(|e| io(path, e))? },
        };
        match rustix::fs::mkdirat(&parent.dir, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(classify(path, e)),
        }
        let dir = File::from(parent.open_at(name, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty())?);
        if let Some(uid) = owner {
            std::os::unix::fs::fchown(&dir, Some(uid), Some(uid)).map_err(|e| io(path, e))?;
        }
        dir.set_permissions(std::fs::Permissions::from_mode(mode)).map_err(|e| io(path, e))
    }

    /// The names in a directory beneath the root (`""` for the root itself).
    pub fn list(&self, path: &str) -> Result<Vec<String>, BeneathError> {
        let dir = if path.is_empty() { self.dir.try_clone().map_err(|e| io(path, e))? } else { self.dir(path)?.dir };
        let entries = rustix::fs::Dir::read_from(&dir).map_err(|e| classify(path, e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| classify(path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name != "." && name != ".." {
                names.push(name);
            }
        }
        Ok(names)
    }

    /// Gives everything beneath the root, and the root, to `uid` (owner and group), without
    /// following any link: links themselves are left as they are. Taking a file from root
    /// also clears its setuid and setgid bits, as chown(2) does.
    pub fn chown_tree(&self, uid: u32) -> Result<(), BeneathError> {
        self.chown_below(uid, 0)
    }

    /// [`Root::chown_tree`] at `depth`: deeper trees are refused rather than walked (each
    /// level holds a descriptor and a stack frame).
    fn chown_below(&self, uid: u32, depth: usize) -> Result<(), BeneathError> {
        if depth > MAX_DEPTH {
            return Err(BeneathError::TooLarge(format!("a tree deeper than {MAX_DEPTH} levels"), 0));
        }
        std::os::unix::fs::fchown(File::from(self.dir.try_clone().map_err(|e| io(".", e))?), Some(uid), Some(uid))
            .map_err(|e| io(".", e))?;
        for name in self.list("")? {
            match self.dir(&name) {
                Ok(sub) => sub.chown_below(uid, depth + 1)?,
                Err(BeneathError::WrongType(_) | BeneathError::Io { .. }) => {
                    let flags = rustix::fs::AtFlags::SYMLINK_NOFOLLOW;
                    let ids = (Some(rustix::fs::Uid::from_raw(uid)), Some(rustix::fs::Gid::from_raw(uid)));
                    match rustix::fs::chownat(&self.dir, name.as_str(), ids.0, ids.1, flags) {
                        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
                        Err(e) => return Err(classify(&name, e)),
                    }
                }
                Err(BeneathError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn regular(&self, path: &str, flags: OFlags) -> Result<File, BeneathError> {
        let file = File::from(self.open_at(path, flags | OFlags::NONBLOCK | OFlags::NOCTTY, Mode::empty())?);
        if !file.metadata().map_err(|e| io(path, e))?.file_type().is_file() {
            return Err(BeneathError::WrongType(path.to_owned()));
        }
        Ok(file)
    }

    fn open_at(&self, path: &str, flags: OFlags, mode: Mode) -> Result<OwnedFd, BeneathError> {
        let flags = flags | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        loop {
            match rustix::fs::openat2(&self.dir, path, flags, mode, RESOLVE) {
                // openat2 asks to be retried when a rename raced the lookup.
                Err(rustix::io::Errno::AGAIN) => continue,
                other => return other.map_err(|e| classify(path, e)),
            }
        }
    }
}

fn owner_of(file: &File, path: &str) -> Result<Owner, BeneathError> {
    let meta = file.metadata().map_err(|e| io(path, e))?;
    Ok(Owner { uid: meta.uid(), mode: meta.mode() & 0o7777 })
}

fn split_parent(path: &str) -> (Option<&str>, &str) {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some((parent, name)) => (Some(parent), name),
        None => (None, path),
    }
}

fn classify(path: &str, errno: rustix::io::Errno) -> BeneathError {
    match errno {
        rustix::io::Errno::NOENT => BeneathError::NotFound(path.to_owned()),
        // ELOOP: a link at some component; EXDEV: resolution would leave the root;
        // ENOTDIR: a file where a directory was wanted.
        rustix::io::Errno::LOOP | rustix::io::Errno::XDEV | rustix::io::Errno::NOTDIR => {
            BeneathError::WrongType(path.to_owned())
        }
        other => io(path, other.into()),
    }
}

fn io(path: &str, source: std::io::Error) -> BeneathError {
    BeneathError::Io { path: path.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("home")).unwrap();
        let root = Root::open(&dir.path().join("home")).unwrap();
        (dir, root)
    }

    #[test]
    fn links_anywhere_on_the_path_are_refused() {
        let (dir, root) = root();
        std::fs::write(dir.path().join("outside"), b"secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), dir.path().join("home/file")).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("home/up")).unwrap();
        assert!(matches!(root.read("file", 100), Err(BeneathError::WrongType(_))));
        assert!(matches!(root.read("up/outside", 100), Err(BeneathError::WrongType(_))));
        assert!(matches!(root.read("../outside", 100), Err(BeneathError::WrongType(_))));
        assert!(matches!(root.append("file", b"x"), Err(BeneathError::WrongType(_))));
        assert!(root.ensure_dir("up/new", 0o700, None).is_err());
        assert!(!dir.path().join("new").exists());
        assert_eq!(std::fs::read(dir.path().join("outside")).unwrap(), b"secret");
    }

    #[test]
    fn fifos_are_refused_without_blocking_and_sizes_are_capped() {
        let (dir, root) = root();
        let status = std::process::Command::new("mkfifo").arg(dir.path().join("home/fifo")).status().unwrap();
        assert!(status.success());
        assert!(matches!(root.read("fifo", 100), Err(BeneathError::WrongType(_))));
        std::fs::write(dir.path().join("home/big"), vec![b'a'; 101]).unwrap();
        assert!(matches!(root.read("big", 100), Err(BeneathError::TooLarge(..))));
        assert_eq!(root.read("big", 101).unwrap().len(), 101);
    }

    #[test]
    fn dirs_and_files_are_made_with_modes() {
        let (dir, root) = root();
        root.ensure_dir("u", 0o700, None).unwrap();
        root.ensure_dir("u/.ssh", 0o700, None).unwrap();
        root.create("u/.ssh/k", b"line\n", 0o600, None).unwrap();
        root.append("u/.ssh/k", b"more\n").unwrap();
        assert_eq!(std::fs::read(dir.path().join("home/u/.ssh/k")).unwrap(), b"line\nmore\n");
        assert_eq!(root.owner_of("u/.ssh").unwrap().mode, 0o700);
        assert_eq!(root.list("").unwrap(), vec!["u".to_owned()]);
    }
}
