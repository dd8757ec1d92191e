//! Per-instance control groups: an instance's processes share one memory limit, one CPU
//! quota (its vCPUs) and one process limit, whatever uid or session they run in. Both
//! hierarchies are handled: cgroup v2 (`/sys/fs/cgroup` is `cgroup2`) and the v1 controllers
//! `memory`, `cpu` and `pids` each mounted under `/sys/fs/cgroup/<name>`. Groups are made
//! beneath keyfleet's own group, as `keyfleet/<instance id>`, so they nest inside whatever
//! limits keyfleet itself runs under. Only root can do this; elsewhere there are none.

use std::path::{Path, PathBuf};

/// What an instance may use in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resources {
    /// CPUs' worth of time per period.
    pub vcpus: u32,
    /// Memory, page cache included.
    pub memory_bytes: u64,
}

/// The CFS period the quota is a multiple of (the kernel's default).
const CPU_PERIOD_MICROS: u64 = 100_000;
/// The directory under keyfleet's own group that holds the instances' groups.
const PARENT: &str = "keyfleet";

/// Where instance groups are made, found once at start-up.
#[derive(Debug, Clone)]
pub enum Cgroups {
    /// cgroup v2: the parent directory, its controllers enabled for children.
    Unified(PathBuf),
    /// cgroup v1: the parent directory in each of the memory, cpu and pids hierarchies.
    Legacy { memory: PathBuf, cpu: PathBuf, pids: PathBuf },
}

/// One instance's group: the `cgroup.procs` files its sandboxes join.
#[derive(Debug, Clone)]
pub struct Group {
    dirs: Vec<PathBuf>,
}

impl Cgroups {
    /// The hierarchy this host has, with keyfleet's parent group made; `Err` says why there
    /// is none.
    pub fn detect() -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("/proc/self/cgroup: {e}"))?;
        let root = Path::new("/sys/fs/cgroup");
        if root.join("cgroup.controllers").exists() {
            let path = own.lines().find_map(|l| l.strip_prefix("0::")).ok_or("no cgroup v2 entry")?;
            return unified(&root.join(path.trim_start_matches('/'))).map(Cgroups::Unified);
        }
        let legacy = |controller: &str| -> Result<PathBuf, String> {
            let path = own
                .lines()
                .filter_map(|l| l.split_once(':').and_then(|(_, rest)| rest.split_once(':')))
                .find(|(names, _)| names.split(',').any(|n| n == controller))
                .map(|(_, path)| path)
                .ok_or_else(|| format!("no {controller} controller"))?;
            let mount = std::fs::read_dir(root)
                .map_err(|e| e.to_string())?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().split(',').any(|n| n == controller)))
                .ok_or_else(|| format!("the {controller} hierarchy is not mounted"))?;
            let parent = mount.join(path.trim_start_matches('/')).join(PARENT);
            std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            Ok(parent)
        };
        Ok(Cgroups::Legacy { memory: legacy("memory")?, cpu: legacy("cpu")?, pids: legacy("pids")? })
    }

    /// Makes (or reuses) the group of `name` with these limits.
    pub fn create(&self, name: &str, resources: Resources, max_processes: u32) -> std::io::Result<Group> {
        let quota = CPU_PERIOD_MICROS * u64::from(resources.vcpus.max(1));
        let memory = resources.memory_bytes.to_string();
        let processes = max_processes.to_string();
        match self {
            Cgroups::Unified(parent) => {
                let dir = make(parent, name)?;
                write(&dir, "memory.max", &memory)?;
                // Past the limit the instance's processes are killed, not pushed to swap.
                write_optional(&dir, "memory.swap.max", "0");
                write(&dir, "cpu.max", &format!("{quota} {CPU_PERIOD_MICROS}"))?;
                write(&dir, "pids.max", &processes)?;
                Ok(Group { dirs: vec![dir] })
            }
            Cgroups::Legacy { memory: memory_parent, cpu, pids } => {
                let memory_dir = make(memory_parent, name)?;
                write(&memory_dir, "memory.limit_in_bytes", &memory)?;
                write_optional(&memory_dir, "memory.memsw.limit_in_bytes", &memory);
                let cpu_dir = make(cpu, name)?;
                write(&cpu_dir, "cpu.cfs_period_us", &CPU_PERIOD_MICROS.to_string())?;
                write(&cpu_dir, "cpu.cfs_quota_us", &quota.to_string())?;
                let pids_dir = make(pids, name)?;
                write(&pids_dir, "pids.max", &processes)?;
                Ok(Group { dirs: vec![memory_dir, cpu_dir, pids_dir] })
            }
        }
    }
}

impl Group {
    /// The files a process writes its pid to, to join the group.
    pub fn procs_files(&self) -> impl Iterator<Item = PathBuf> + '_ {
        self.dirs.iter().map(|d| d.join("cgroup.procs"))
    }

    /// Kills what is left in the group and removes it (the instance stopped). Blocks until
    /// the killed have left, for a second at most; a group still busy after that is kept and
    /// reused at the instance's next boot.
    pub fn remove(&self) {
        for dir in &self.dirs {
            for _ in 0..100 {
                let pids = members(dir);
                if pids.is_empty() {
                    break;
                }
                for pid in pids {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if let Err(e) = std::fs::remove_dir(dir) {
                tracing::warn!(group = %dir.display(), error = %e, "cgroup not removed");
            }
        }
    }
}

fn members(dir: &Path) -> Vec<rustix::process::Pid> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    procs.lines().filter_map(|l| rustix::process::Pid::from_raw(l.trim().parse().ok()?)).collect()
}

/// cgroup v2 lets a group hand controllers to children only while it holds no process
/// itself: keyfleet moves into a leaf of its own group first, then enables them.
fn unified(own: &Path) -> Result<PathBuf, String> {
    let io = |what: &Path, e: std::io::Error| format!("{}: {e}", what.display());
    let controllers = ["memory", "cpu", "pids"];
    let available = std::fs::read_to_string(own.join("cgroup.controllers")).map_err(|e| io(own, e))?;
    if let Some(missing) = controllers.iter().find(|c| !available.split_whitespace().any(|a| a == **c)) {
        return Err(format!("the {missing} controller is not available in {}", own.display()));
    }
    let enable = controllers.map(|c| format!("+{c}")).join(" ");
    let parent = own.join(PARENT);
    if std::fs::write(own.join("cgroup.subtree_control"), &enable).is_err() {
        let server = own.join("server");
        std::fs::create_dir_all(&server).map_err(|e| io(&server, e))?;
        std::fs::write(server.join("cgroup.procs"), "0").map_err(|e| io(&server, e))?;
        std::fs::write(own.join("cgroup.subtree_control"), &enable).map_err(|e| io(own, e))?;
    }
    std::fs::create_dir_all(&parent).map_err(|e| io(&parent, e))?;
    std::fs::write(parent.join("cgroup.subtree_control"), &enable).map_err(|e| io(&parent, e))?;
    Ok(parent)
}

fn make(parent: &Path, name: &str) -> std::io::Result<PathBuf> {
    let dir = parent.join(name);
    match std::fs::create_dir(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(dir),
    }
}

fn write(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(file), value)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.join(file).display())))
}

/// For files that exist only with swap accounting.
fn write_optional(dir: &Path, file: &str, value: &str) {
    let _ = std::fs::write(dir.join(file), value);
}
