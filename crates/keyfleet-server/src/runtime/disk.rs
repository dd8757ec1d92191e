//! Root volume size. An instance can write only below its volume's `home/` (its `/home`),
//! so that is what the size bounds: `home/` is an ext4 file system kept in the volume's
//! `home.img`, a sparse file as large as the root volume, loop-mounted on `home/` while the
//! instance runs or the host edits it. A full volume answers ENOSPC inside the instance, as
//! a full EBS volume does, and the host's disk is untouched.
//!
//! Mounts live in the server's own mount namespace ([`isolate_mounts`]), so they end with the
//! process however it ends: a killed server leaves no mount behind, and nothing outside the
//! server sees instance data through one. The file systems carry ext4's multiple-mount
//! protection (MMP): with a data dir on shared storage, a second host's mount of a volume
//! that is still mounted elsewhere fails instead of corrupting it. Two mounts on one host
//! share the loop device, and so the file system, which is safe.
//!
//! Images are thin: the sizes of all volumes together may exceed the host's free space, as
//! with any thin provisioning; what one instance can take is bounded, what all take is not.
//!
//! Volumes made before sizes (or by a server that could not make images) keep their plain
//! `home/`: copying an instance user's tree into an image as root would walk links and
//! FIFOs the user planted.

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};

/// A root volume's size when RunInstances does not say (the built-in image's snapshot), GiB.
pub const DEFAULT_ROOT_GIB: u32 = 8;
/// The largest root volume (EBS gp2 and gp3), GiB.
pub const MAX_ROOT_GIB: u32 = 16_384;

const IMAGE: &str = "home.img";
const HOME: &str = "home";
const MKFS_OPTIONS: [&str; 8] =
    ["-q", "-F", "-m", "0", "-O", "mmp", "-E", "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0"];

/// Proof that this process has a mount namespace of its own, so its mounts die with it.
#[derive(Debug, Clone, Copy)]
pub struct PrivateMounts(());

/// Gives the process a mount namespace of its own whose mounts do not propagate to the
/// host's. Call it before any thread starts: a namespace belongs to the thread that
/// unshares it and to the threads and children it makes afterwards.
pub fn isolate_mounts() -> std::io::Result<PrivateMounts> {
    // unshare(2) does not fail when other threads exist: it would silently move this one.
    let threads = std::fs::read_dir("/proc/self/task")?.count();
    if threads != 1 {
        return Err(std::io::Error::other(format!("{threads} threads run already")));
    }
    // `unshare` is deprecated in favour of an unsafe variant because unsharing the file
    // descriptor table can break other threads; only the mount namespace (and with it the
    // file system attributes) is unshared here, before there are other threads.
    #[allow(deprecated)]
    rustix::thread::unshare(rustix::thread::UnshareFlags::NEWNS)?;
    rustix::mount::mount_change(
        "/",
        rustix::mount::MountPropagationFlags::PRIVATE | rustix::mount::MountPropagationFlags::REC,
    )?;
    Ok(PrivateMounts(()))
}

/// Volume images and their mounts, shared by every user of a volume in this process.
#[derive(Debug, Clone)]
pub struct Disks {
    mkfs: PathBuf,
    mount: PathBuf,
    /// Holders of each mounted `home/`; the last one to let go unmounts it. Each volume has
    /// its own count and lock, so that one slow unmount (flushing what an instance wrote)
    /// holds up no other volume.
    holders: Arc<Mutex<HashMap<PathBuf, Holders>>>,
}

type Holders = Arc<Mutex<usize>>;

impl Disks {
    /// Sized volumes, where this process may mount (root, in its own namespace) and the
    /// tools are installed; otherwise why not.
    pub fn detect(_: PrivateMounts) -> Result<Self, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("keyfleet is not running as root".into());
        }
        let find = |name: &str| {
            ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .map(|dir| Path::new(dir).join(name))
                .find(|path| path.is_file())
                .ok_or_else(|| format!("{name} is not installed (Debian: e2fsprogs, mount)"))
        };
        Ok(Disks { mkfs: find("mkfs.ext4")?, mount: find("mount")?, holders: Arc::default() })
    }

    /// Makes the volume directory and its empty file system of `gib` GiB, unless it has one.
    pub fn create(&self, volume: &Path, gib: u32) -> std::io::Result<()> {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(volume)?;
        if volume.join(IMAGE).exists() {
            return Ok(());
        }
        self.make_image(volume, gib)
    }

    /// True if the volume has its image (volumes from before sizes, or made by a server that
    /// could not size them, have a plain `home/`).
    pub fn is_sized(volume: &Path) -> bool {
        volume.join(IMAGE).exists()
    }

    /// Mounts the volume's `home/` for as long as the returned guard lives.
    pub fn hold(&self, volume: &Path) -> std::io::Result<HomeMount> {
        let holders = self.holders_of(volume);
        let mut count = holders.lock().unwrap_or_else(PoisonError::into_inner);
        if *count == 0 {
            self.mount_home(volume)?;
        }
        *count += 1;
        drop(count);
        Ok(HomeMount { holders, volume: volume.to_owned() })
    }

    /// Unmounts the volume's `home/` whoever holds it (the volume is being deleted).
    pub fn forget(&self, volume: &Path) {
        let holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner).remove(volume);
        let mut count = holders.as_ref().map(|h| h.lock().unwrap_or_else(PoisonError::into_inner));
        if let Some(count) = count.as_deref_mut() {
            *count = 0;
        }
        unmount(&volume.join(HOME));
    }

    fn holders_of(&self, volume: &Path) -> Holders {
        self.holders.lock().unwrap_or_else(PoisonError::into_inner).entry(volume.to_owned()).or_default().clone()
    }

    fn mount_home(&self, volume: &Path) -> std::io::Result<()> {
        let home = volume.join(HOME);
        // Never recursive: a volume deleted meanwhile (TerminateInstances) stays deleted.
        match std::fs::DirBuilder::new().mode(0o755).create(&home) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        if is_mount_point(volume, &home)? {
            return Ok(());
        }
        // `-n`: the mount is this process's, so the host's mount table (utab) does not list it.
        run(Command::new(&self.mount)
            .args(["-n", "-t", "ext4", "-o", "loop,nosuid,nodev,noatime,noinit_itable"])
            .arg(volume.join(IMAGE))
            .arg(&home))
    }

    /// `mkfs.ext4` into a new sparse image, written under a temporary name so that a crash
    /// never leaves a half-made one.
    fn make_image(&self, volume: &Path, gib: u32) -> std::io::Result<()> {
        let partial = volume.join("home.img.partial");
        let made = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .and_then(|file| file.set_len(u64::from(gib) << 30))
            .and_then(|()| {
                // No reserved blocks (nothing runs as root inside), MMP for shared data dirs,
                // and lazy initialisation so that an 8 GiB volume costs a few MiB of host disk
                // until used.
                run(Command::new(&self.mkfs).args(MKFS_OPTIONS).arg(&partial))
            });
        if let Err(e) = made {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
        std::fs::rename(&partial, volume.join(IMAGE))
    }
}

/// A held mount of a volume's `home/`; dropping the last one unmounts it (blocking).
#[derive(Debug)]
pub struct HomeMount {
    holders: Holders,
    volume: PathBuf,
}

impl Drop for HomeMount {
    fn drop(&mut self) {
        let mut count = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        *count = count.saturating_sub(1);
        if *count == 0 {
            unmount(&self.volume.join(HOME));
        }
    }
}

/// Unmounts `home`; while a process still has files open there, detaches it instead, so the
/// file system goes when they do.
fn unmount(home: &Path) {
    use rustix::mount::UnmountFlags;
    match rustix::mount::unmount(home, UnmountFlags::NOFOLLOW) {
        Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => {}
        Err(rustix::io::Errno::BUSY) => {
            if let Err(e) = rustix::mount::unmount(home, UnmountFlags::NOFOLLOW | UnmountFlags::DETACH) {
                tracing::warn!(path = %home.display(), error = %e, "volume not unmounted");
            }
        }
        Err(e) => tracing::warn!(path = %home.display(), error = %e, "volume not unmounted"),
    }
}

fn is_mount_point(volume: &Path, home: &Path) -> std::io::Result<bool> {
    Ok(std::fs::symlink_metadata(home)?.dev() != std::fs::symlink_metadata(volume)?.dev())
}

fn run(command: &mut Command) -> std::io::Result<()> {
    let output = command.stdin(std::process::Stdio::null()).output()?;
    if output.status.success() {
        return Ok(());
    }
    let program = command.get_program().to_string_lossy().into_owned();
    let said = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    Err(std::io::Error::other(format!("{program}: {} {said}", output.status)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Images are sparse and made once: a volume keeps its file system across creates.
    #[test]
    fn an_image_has_its_size_and_costs_little_host_disk() {
        let Ok(disks) = Disks::detect(PrivateMounts(())) else {
            assert!(std::env::var_os("CI").is_none(), "CI runs as root with e2fsprogs installed");
            eprintln!("SKIPPED: not root, or no mkfs.ext4");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let volume = dir.path().join("vol-1");
        disks.create(&volume, 3).unwrap();
        let image = std::fs::metadata(volume.join(IMAGE)).unwrap();
        assert_eq!(image.len(), 3 << 30);
        assert!(image.blocks() * 512 < 64 << 20, "{} bytes allocated", image.blocks() * 512);
        assert!(Disks::is_sized(&volume));
        assert!(!volume.join("home.img.partial").exists());
        let made = image.modified().unwrap();
        disks.create(&volume, 5).unwrap();
        assert_eq!(std::fs::metadata(volume.join(IMAGE)).unwrap().modified().unwrap(), made, "made again");
    }
}
