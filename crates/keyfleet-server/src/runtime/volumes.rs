//! Root volumes: one directory per volume under `<data dir>/volumes/<vol-id>/`.
//!
//! ```text
//! home/ec2-user/.ssh/authorized_keys   what the sandbox sees as /home
//! etc/ssh/ssh_host_{ecdsa,ed25519,rsa}_key  the instance's host keys, stable across stop/start
//! imds/imds.sock, imds/sudo.sock       without root: the metadata service and the `sudo` broker,
//!                                      /run/keyfleet/… inside
//! .first-boot-done                     the "per instance" marker cloud-init keeps
//! ```
//! Only `home/` and `imds/` are visible inside the instance. Everything in `home/` below
//! `home/` itself is the instance user's to change, links included, so host-side work
//! there goes through [`super::beneath`] only. `imds/` is root's and read-only to the
//! instance, and is made anew at every boot.
//!
//! Ownership, when keyfleet runs as root: the volume, `etc/`, `imds/` and `home/` are
//! root's; `home/ec2-user` and all below it belong to the instance's host uid.
//!
//! Where volumes are sized ([`super::disk`]), `home/` is a mount of the volume's `home.img`,
//! held by whoever works in it.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ssh_key::{LineEnding, PrivateKey};

use super::authorized_keys::MAX_FILE_BYTES;
use super::beneath::{BeneathError, Root};
use super::disk::{Disks, HomeMount};

/// The host key types an instance has: those cloud-init generates, so that every client
/// finds one it prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyType {
    /// `ssh_host_ecdsa_key`, NIST P-256.
    Ecdsa,
    /// `ssh_host_ed25519_key`.
    Ed25519,
    /// `ssh_host_rsa_key`, 3072 bits as `ssh-keygen` makes them.
    Rsa,
}

impl HostKeyType {
    /// In the order cloud-init lists them.
    pub const ALL: [HostKeyType; 3] = [HostKeyType::Ecdsa, HostKeyType::Ed25519, HostKeyType::Rsa];
    const RSA_BITS: usize = 3072;

    fn file_name(self) -> &'static str {
        match self {
            HostKeyType::Ecdsa => "ssh_host_ecdsa_key",
            HostKeyType::Ed25519 => "ssh_host_ed25519_key",
            HostKeyType::Rsa => "ssh_host_rsa_key",
        }
    }

    fn generate(self) -> std::io::Result<PrivateKey> {
        use ssh_key::private::{EcdsaKeypair, Ed25519Keypair, KeypairData, RsaKeypair};
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        let data = match self {
            HostKeyType::Ecdsa => KeypairData::Ecdsa(
                EcdsaKeypair::random(&mut rng, ssh_key::EcdsaCurve::NistP256).map_err(std::io::Error::other)?,
            ),
            HostKeyType::Ed25519 => {
                let mut seed = zeroize::Zeroizing::new([0u8; 32]);
                getrandom::fill(seed.as_mut()).map_err(std::io::Error::other)?;
                KeypairData::Ed25519(Ed25519Keypair::from_seed(&seed))
            }
            HostKeyType::Rsa => {
                KeypairData::Rsa(RsaKeypair::random(&mut rng, Self::RSA_BITS).map_err(std::io::Error::other)?)
            }
        };
        PrivateKey::new(data, "host").map_err(std::io::Error::other)
    }
}

/// Volume directories under the data dir.
#[derive(Debug, Clone)]
pub struct Volumes {
    root: PathBuf,
    /// `None`: `home/` is a plain directory, bounded only by the host's free space.
    disks: Option<Disks>,
}

impl Volumes {
    /// Volumes live in `root`, sized when `disks` is given.
    pub fn new(root: PathBuf, disks: Option<Disks>) -> Self {
        Volumes { root, disks }
    }

    /// Makes a new volume of `gib` GiB (RunInstances), before its first boot.
    pub fn create(&self, volume_id: &str, gib: u32) -> std::io::Result<()> {
        match &self.disks {
            Some(disks) => disks.create(&self.path(volume_id), gib),
            None => private_dir(&self.path(volume_id)),
        }
    }

    /// Keeps the volume's `home/` mounted while the guard lives (nothing to hold for a volume
    /// without an image). A volume with an image is never used unmounted: its `home/` would
    /// be the empty, unbounded directory beneath.
    pub fn hold(&self, volume_id: &str) -> std::io::Result<Option<HomeMount>> {
        let volume = self.path(volume_id);
        match &self.disks {
            Some(disks) if Disks::is_sized(&volume) => disks.hold(&volume).map(Some),
            Some(_) => {
                tracing::warn!(volume = volume_id, "volume predates sizes: its home is not bounded");
                Ok(None)
            }
            None if Disks::is_sized(&volume) => Err(std::io::Error::other(
                "the volume has a size, and this server cannot mount it (see the warning at start)",
            )),
            None => Ok(None),
        }
    }

    /// A volume's directory.
    pub fn path(&self, volume_id: &str) -> PathBuf {
        self.root.join(volume_id)
    }

    /// The volume's `home/`: the sandbox's `/home`.
    pub fn homes(&self, volume_id: &str) -> PathBuf {
        self.path(volume_id).join("home")
    }

    /// The metadata service's socket; its directory is `/run/keyfleet` in the sandbox.
    pub fn imds_socket(&self, volume_id: &str) -> PathBuf {
        self.path(volume_id).join("imds/imds.sock")
    }

    /// The socket `sudo` asks ([`super::sudo`]).
    pub fn sudo_socket(&self, volume_id: &str) -> PathBuf {
        self.path(volume_id).join("imds/sudo.sock")
    }

    /// Makes the volume bootable for an instance whose user runs as host uid `uid`. At first
    /// boot only, writes the launch key pair's public key into `authorized_keys`, as
    /// cloud-init's per-instance `cc_ssh` module does. The instance holds `home/` mounted
    /// through the returned guard.
    pub fn prepare(
        &self,
        volume_id: &str,
        launch_key: Option<&str>,
        uid: u32,
        gib: u32,
    ) -> std::io::Result<Option<HomeMount>> {
        let volume = self.path(volume_id);
        let as_root = rustix::process::geteuid().is_root();
        // The sandbox gets `home/` and `imds/` as open directories: it never walks these paths.
        private_dir(&volume.join("etc/ssh"))?;
        // An earlier instance user may have left anything in imds/: start it afresh.
        match std::fs::remove_dir_all(volume.join("imds")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::DirBuilder::new().mode(0o755).create(volume.join("imds"))?;
        let marker = volume.join(".first-boot-done");
        // Never booted and without an image (its launch could not make one, or the server
        // stopped before it did): made now, so that only volumes from before sizes go unsized.
        if let Some(disks) = self.disks.as_ref().filter(|_| !Disks::is_sized(&volume) && !marker.exists()) {
            disks.create(&volume, gib)?;
        }
        let mount = self.hold(volume_id)?;
        let owner = as_root.then_some(uid);
        let volume_root = Root::open(&volume)?;
        volume_root.ensure_dir("home", 0o755, as_root.then_some(0))?;
        let homes = volume_root.dir("home")?;
        adopt_home(&homes, uid, as_root)?;
        homes.ensure_dir(super::ssh::LOGIN_USER, 0o700, owner)?;
        if marker.exists() {
            return Ok(mount);
        }
        if let Some(line) = launch_key {
            let ssh_dir = format!("{}/.ssh", super::ssh::LOGIN_USER);
            homes.ensure_dir(&ssh_dir, 0o700, owner)?;
            let file = format!("{ssh_dir}/authorized_keys");
            let line = format!("{line}\n");
            match homes.create(&file, line.as_bytes(), 0o600, owner) {
                Err(BeneathError::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
                    homes.append(&file, line.as_bytes())?;
                }
                other => other?,
            }
        }
        std::fs::write(marker, b"")?;
        Ok(mount)
    }

    /// Appends `line` to every existing `/home/*/.ssh/authorized_keys` of the volume that
    /// does not hold it yet (never creating one, never through a link); how many it changed.
    pub fn add_authorized_key(&self, volume_id: &str, line: &str) -> std::io::Result<usize> {
        let _mount = self.hold(volume_id)?;
        let homes = Root::open(&self.homes(volume_id))?;
        let mut users = homes.list("")?;
        users.sort();
        let mut changed = 0;
        for user in users {
            let file = format!("{user}/.ssh/authorized_keys");
            let text = match homes.read(&file, MAX_FILE_BYTES) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(BeneathError::NotFound(_) | BeneathError::WrongType(_)) => continue,
                Err(e) => return Err(e.into()),
            };
            if text.lines().any(|l| l.trim() == line.trim()) {
                continue;
            }
            let separator = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
            homes.append(&file, format!("{separator}{line}\n").as_bytes())?;
            changed += 1;
        }
        Ok(changed)
    }

    /// The instance's host keys, RSA, ECDSA and Ed25519 as cloud-init makes them, each
    /// generated at first boot and kept across stop and start.
    pub fn host_keys(&self, volume_id: &str) -> std::io::Result<Vec<PrivateKey>> {
        HostKeyType::ALL.iter().map(|kind| self.host_key(volume_id, *kind)).collect()
    }

    /// The public halves of the volume's host keys, as far as they exist (for the console
    /// output of an instance that may not have booted here).
    pub fn host_public_keys(&self, volume_id: &str) -> Vec<ssh_key::PublicKey> {
        HostKeyType::ALL
            .iter()
            .filter_map(|kind| std::fs::read_to_string(self.host_key_path(volume_id, *kind)).ok())
            .filter_map(|text| PrivateKey::from_openssh(text).ok())
            .map(|key| key.public_key().clone())
            .collect()
    }

    fn host_key_path(&self, volume_id: &str, kind: HostKeyType) -> PathBuf {
        self.path(volume_id).join("etc/ssh").join(kind.file_name())
    }

    /// One host key, made at first boot and kept across stop and start.
    fn host_key(&self, volume_id: &str, kind: HostKeyType) -> std::io::Result<PrivateKey> {
        let path = self.host_key_path(volume_id, kind);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return PrivateKey::from_openssh(text).map_err(std::io::Error::other);
        }
        let key = kind.generate()?;
        let text = key.to_openssh(LineEnding::LF).map_err(std::io::Error::other)?;
        // Written aside and renamed into place, so that a crash never leaves half a key,
        // which would keep the instance from booting again.
        let partial = path.with_extension("partial");
        let _ = std::fs::remove_file(&partial);
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&partial, &path)?;
        Ok(key)
    }

    /// Deletes a volume (TerminateInstances).
    pub fn destroy(&self, volume_id: &str) -> std::io::Result<()> {
        if let Some(disks) = &self.disks {
            disks.forget(&self.path(volume_id));
        }
        match std::fs::remove_dir_all(self.path(volume_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

/// A volume made before instances had a uid of their own holds root's files: give ec2-user's
/// home to the instance's uid (which also clears any setuid bit left there).
fn adopt_home(homes: &Root, uid: u32, as_root: bool) -> std::io::Result<()> {
    if !as_root {
        return Ok(());
    }
    match homes.owner_of(super::ssh::LOGIN_USER) {
        Ok(owner) if owner.uid != uid => Ok(homes.dir(super::ssh::LOGIN_USER)?.chown_tree(uid)?),
        Ok(_) | Err(BeneathError::NotFound(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
