//! Root volumes: one directory per volume under `<data dir>/volumes/<vol-id>/`.
//!
//! ```text
//! home/ec2-user/.ssh/authorized_keys   what the sandbox sees as /home
//! etc/passwd, etc/group                the sandbox's user database (ec2-user = 1000)
//! etc/ssh/ssh_host_ed25519_key         the instance's host key, stable across stop/start
//! imds/imds.sock                       the metadata service, /run/keyfleet/imds.sock inside
//! .first-boot-done                     the "per instance" marker cloud-init keeps
//! ```
//! Only `home/` is visible inside the instance.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ssh_key::{LineEnding, PrivateKey};

/// Volume directories under the data dir.
#[derive(Debug, Clone)]
pub struct Volumes {
    root: PathBuf,
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nec2-user:x:1000:1000:EC2 Default User:/home/ec2-user:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nec2-user:x:1000:\nnogroup:x:65534:\n";

impl Volumes {
    /// Volumes live in `root`.
    pub fn new(root: PathBuf) -> Self {
        Volumes { root }
    }

    /// A volume's directory.
    pub fn path(&self, volume_id: &str) -> PathBuf {
        self.root.join(volume_id)
    }

    /// The home directory of ec2-user on a volume.
    pub fn home(&self, volume_id: &str) -> PathBuf {
        self.path(volume_id).join("home/ec2-user")
    }

    /// The metadata service's socket; its directory is `/run/keyfleet` in the sandbox.
    pub fn imds_socket(&self, volume_id: &str) -> PathBuf {
        self.path(volume_id).join("imds/imds.sock")
    }

    /// Makes the volume bootable. At first boot only, writes the launch key pair's public
    /// key into `authorized_keys`, as cloud-init's per-instance `cc_ssh` module does.
    pub fn prepare(&self, volume_id: &str, launch_key: Option<&str>) -> std::io::Result<()> {
        let volume = self.path(volume_id);
        let home = self.home(volume_id);
        private_dir(&volume.join("etc/ssh"))?;
        private_dir(&volume.join("imds"))?;
        private_dir(&home.join(".ssh"))?;
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700))?;
        std::fs::write(volume.join("etc/passwd"), PASSWD)?;
        std::fs::write(volume.join("etc/group"), GROUP)?;
        let marker = volume.join(".first-boot-done");
        if marker.exists() {
            return Ok(());
        }
        if let Some(line) = launch_key {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(home.join(".ssh/authorized_keys"))?;
            writeln!(file, "{line}")?;
            file.sync_all()?;
        }
        std::fs::write(marker, b"")
    }

    /// The volume's SSH host key, created on first use.
    pub fn host_key(&self, volume_id: &str) -> std::io::Result<PrivateKey> {
        let path = self.path(volume_id).join("etc/ssh/ssh_host_ed25519_key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return PrivateKey::from_openssh(text).map_err(std::io::Error::other);
        }
        let seed = {
            let mut seed = zeroize::Zeroizing::new([0u8; 32]);
            getrandom::fill(seed.as_mut()).map_err(std::io::Error::other)?;
            seed
        };
        let pair = ssh_key::private::Ed25519Keypair::from_seed(&seed);
        let key =
            PrivateKey::new(ssh_key::private::KeypairData::Ed25519(pair), "host").map_err(std::io::Error::other)?;
        let text = key.to_openssh(LineEnding::LF).map_err(std::io::Error::other)?;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(key)
    }

    /// Deletes a volume (TerminateInstances).
    pub fn destroy(&self, volume_id: &str) -> std::io::Result<()> {
        match std::fs::remove_dir_all(self.path(volume_id)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}
