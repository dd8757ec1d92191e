//! `sudo` inside an instance: on EC2, ec2-user may run anything as root without a password,
//! and tools depend on it (Ansible's `become: true`). Here root is uid 0 of a sandbox of its
//! own, made like every other: the same unprivileged host uid, limits, control group and
//! system call filter as the instance's user. It is root of the instance and of nothing else.
//!
//! No set-uid program can work in the sandbox (no new privileges), so `sudo` asks: the
//! `sudo` on the instance's `PATH` is keyfleet's own executable, bound read-only at
//! [`SUDO_PATH`]. Run under that name it is [`client_main`]: it sends its three standard
//! streams (`SCM_RIGHTS`) and the command, as one shell line, to `/run/keyfleet/sudo.sock`.
//! keyfleet runs the line as root in a new sandbox of the instance on those streams, and
//! answers with its exit status. A root sandbox has its own `/tmp` and `/root` (memory-backed,
//! per command); `/home` is the instance's.

use std::ffi::OsString;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitCode;
use std::sync::Arc;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::sandbox::{Launch, SandboxUser};
use super::ssh::InstanceSsh;

/// Where the instance finds `sudo` (first on its `PATH`).
pub const SUDO_PATH: &str = "/opt/keyfleet/bin/sudo";
/// The broker's socket inside the instance.
const SOCKET: &str = "/run/keyfleet/sudo.sock";
/// The longest shell line: the kernel's limit on one argument (`MAX_ARG_STRLEN`).
const MAX_LINE_BYTES: usize = 128 * 1024 - 1;
/// Root commands of one instance running at once; more are refused, not queued.
const MAX_SESSIONS: usize = 64;
/// How long a client has to send its request once connected.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs root commands for the instance until the listener's task is aborted.
pub(super) async fn serve(listener: UnixListener, instance: Arc<InstanceSsh>) {
    let sessions = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    loop {
        let conn = match listener.accept().await {
            Ok((conn, _)) => conn,
            Err(e) => {
                // Out of descriptors: let some close before accepting again.
                tracing::warn!(instance = %instance.instance_id, error = %e, "sudo socket accept failed");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let (instance, permit) = (instance.clone(), sessions.clone().try_acquire_owned());
        tokio::spawn(async move {
            let mut conn = conn;
            let reply = match permit {
                Ok(_permit) => run(&mut conn, &instance).await,
                Err(_) => Reply::Refused(format!("more than {MAX_SESSIONS} sudo commands are running")),
            };
            let _ = conn.write_all(reply.to_line().as_bytes()).await;
        });
    }
}

/// The broker's answer: one line.
#[derive(Debug, PartialEq)]
enum Reply {
    /// The command ended with this status (128 + signal when killed).
    Exited(i32),
    /// It did not run.
    Refused(String),
    /// The client went away first; the command was ended.
    Abandoned,
}

impl Reply {
    fn to_line(&self) -> String {
        match self {
            Reply::Exited(code) => format!("exit {code}\n"),
            Reply::Refused(why) => format!("refused {}\n", why.replace('\n', " ")),
            Reply::Abandoned => String::new(),
        }
    }

    fn parse(line: &str) -> Option<Reply> {
        let line = line.strip_suffix('\n')?;
        if let Some(code) = line.strip_prefix("exit ") {
            return code.parse().ok().map(Reply::Exited);
        }
        line.strip_prefix("refused ").map(|why| Reply::Refused(why.to_owned()))
    }
}

async fn run(conn: &mut UnixStream, instance: &InstanceSsh) -> Reply {
    let Some(sandbox) = instance.sandbox.as_ref() else {
        return Reply::Refused("no sandbox on this host".into());
    };
    let (line, stdio) = match tokio::time::timeout(REQUEST_TIMEOUT, receive(conn)).await {
        Ok(Ok(request)) => request,
        Ok(Err(why)) => return Reply::Refused(why),
        Err(_) => return Reply::Refused("no request in time".into()),
    };
    let launch = Launch {
        volume: &instance.volume,
        hostname: &instance.hostname,
        uid: instance.uid,
        user: SandboxUser::Root,
        command: Some(&line),
        term: None,
        cgroup: instance.cgroup.as_ref(),
        network: instance.network.as_deref(),
    };
    let mut child = match sandbox.spawn_on(&launch, stdio) {
        Ok(child) => child,
        Err(e) => return Reply::Refused(format!("could not start: {e}")),
    };
    let mut hangup = [0u8; 1];
    tokio::select! {
        status = child.wait() => match status {
            Ok(status) => Reply::Exited(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))),
            Err(e) => Reply::Refused(format!("lost the command: {e}")),
        },
        // The client reads nothing until the end: readable means it closed (or broke the
        // protocol); either way nobody waits for this command any more.
        _ = conn.read(&mut hangup) => {
            let _ = child.kill().await;
            Reply::Abandoned
        }
    }
}

/// Reads a request: a 4-byte big-endian length, carrying the client's stdin, stdout and
/// stderr, then that many bytes of shell line.
async fn receive(conn: &mut UnixStream) -> Result<(String, [OwnedFd; 3]), String> {
    let mut header = [0u8; 4];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = loop {
        conn.readable().await.map_err(|e| e.to_string())?;
        let attempt = conn.try_io(tokio::io::Interest::READABLE, || {
            rustix::net::recvmsg(
                conn.as_fd(),
                &mut [IoSliceMut::new(&mut header)],
                &mut control,
                RecvFlags::CMSG_CLOEXEC,
            )
            .map_err(std::io::Error::from)
        });
        match attempt {
            Ok(received) => break received,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e.to_string()),
        }
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(passed) = message {
            fds.extend(passed);
        }
    }
    let stdio: [OwnedFd; 3] = fds
        .try_into()
        .ok()
        .filter(|_| !received.flags.contains(ReturnFlags::CTRUNC))
        .ok_or_else(|| "expected exactly stdin, stdout and stderr".to_owned())?;
    if let Some(rest) = header.get_mut(received.bytes..).filter(|rest| !rest.is_empty()) {
        conn.read_exact(rest).await.map_err(|e| e.to_string())?;
    }
    let length = usize::try_from(u32::from_be_bytes(header)).map_err(|e| e.to_string())?;
    if length > MAX_LINE_BYTES {
        return Err(format!("command longer than {MAX_LINE_BYTES} bytes"));
    }
    let mut line = vec![0u8; length];
    conn.read_exact(&mut line).await.map_err(|e| e.to_string())?;
    let line = String::from_utf8(line).map_err(|_| "command is not UTF-8".to_owned())?;
    if line.contains('\0') {
        return Err("command holds a NUL".into());
    }
    Ok((line, stdio))
}

/// What a `sudo` command line asks for.
#[derive(Debug, PartialEq)]
pub enum Invocation {
    /// Run this shell line as root.
    AsRoot(String),
    /// Run these arguments as ec2-user (`-u ec2-user`): no change of user at all.
    AsSelf(Vec<String>),
    /// Print this and exit 0 (`-l`, `-V`, `-h`; `-v` and `-k` print nothing).
    Print(String),
}

/// Options that take a value, short and long.
const WITH_VALUE: [(char, &str); 3] = [('u', "user"), ('p', "prompt"), ('g', "group")];
/// Options without one: short, long.
const FLAGS: [(char, &str); 12] = [
    ('H', "set-home"),
    ('S', "stdin"),
    ('n', "non-interactive"),
    ('E', "preserve-env"),
    ('k', "reset-timestamp"),
    ('K', "remove-timestamp"),
    ('i', "login"),
    ('s', "shell"),
    ('l', "list"),
    ('v', "validate"),
    ('V', "version"),
    ('h', "help"),
];

const USAGE: &str =
    "usage: sudo [-EHiknSs] [-p prompt] [-u user] [command [arg ...]]\n       sudo -l | -v | -k | -V | -h\n";

/// Parses sudo's arguments (the common subset of sudo 1.9's): what to run, or sudo's own
/// message for a refusal.
pub fn parse(args: &[String], cwd: &str, env: &[(String, String)]) -> Result<Invocation, String> {
    let mut flags = std::collections::BTreeSet::new();
    let mut user = "root".to_owned();
    let mut rest = args.iter();
    let mut command = Vec::new();
    while let Some(arg) = rest.next() {
        let options: Vec<(char, Option<String>)> = if arg == "--" {
            command.extend(rest.by_ref().cloned());
            break;
        } else if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (long, None),
            };
            let short = WITH_VALUE
                .iter()
                .chain(FLAGS.iter())
                .find(|(_, l)| *l == name)
                .map(|(s, _)| *s)
                .ok_or_else(|| format!("sudo: unrecognized option '--{name}'\n{USAGE}"))?;
            vec![(short, inline)]
        } else if let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) {
            let mut parsed = Vec::new();
            for (at, c) in cluster.char_indices() {
                if WITH_VALUE.iter().any(|(s, _)| *s == c) {
                    let inline = &cluster[at + c.len_utf8()..];
                    parsed.push((c, (!inline.is_empty()).then(|| inline.to_owned())));
                    break;
                }
                parsed.push((c, None));
            }
            parsed
        } else {
            command.push(arg.clone());
            command.extend(rest.by_ref().cloned());
            break;
        };
        for (option, inline) in options {
            if let Some((_, name)) = WITH_VALUE.iter().find(|(s, _)| *s == option) {
                let value = match inline {
                    Some(v) => v,
                    None => rest
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("sudo: option requires an argument -- '{option}'\n{USAGE}"))?,
                };
                match *name {
                    "user" => user = value,
                    "group" => return Err(format!("sudo: unknown group {value}")),
                    _ => {}
                }
            } else if FLAGS.iter().any(|(s, _)| *s == option) {
                flags.insert(option);
            } else {
                return Err(format!("sudo: invalid option -- '{option}'\n{USAGE}"));
            }
        }
    }
    let wants = |c: char| flags.contains(&c);
    if wants('h') {
        return Ok(Invocation::Print(USAGE.to_owned()));
    }
    if wants('V') {
        return Ok(Invocation::Print("Sudo version 1.9 (keyfleet)\n".to_owned()));
    }
    if wants('l') {
        return Ok(Invocation::Print(
            "User ec2-user may run the following commands on this host:\n    (ALL) NOPASSWD: ALL\n".to_owned(),
        ));
    }
    if (wants('v') || wants('k') || wants('K')) && command.is_empty() {
        return Ok(Invocation::Print(String::new()));
    }
    let login = wants('i');
    if login && wants('s') {
        return Err(format!("sudo: you may not specify both the -i and -s options\n{USAGE}"));
    }
    match user.as_str() {
        "root" | "0" | "#0" => {}
        "ec2-user" | "1000" | "#1000" if !login && !wants('s') && !command.is_empty() => {
            return Ok(Invocation::AsSelf(command));
        }
        "ec2-user" | "1000" | "#1000" => return Err("sudo: -u ec2-user takes a command here".into()),
        other => return Err(format!("sudo: unknown user {other}")),
    }
    if command.is_empty() && !login && !wants('s') {
        return Err(USAGE.to_owned());
    }
    Ok(Invocation::AsRoot(root_line(&command, cwd, env, login, wants('s'), wants('E'))))
}

/// The shell line a root sandbox runs: sudo's environment, the caller's directory (where
/// root can see it), and the command.
fn root_line(
    command: &[String],
    cwd: &str,
    env: &[(String, String)],
    login: bool,
    shell: bool,
    keep_env: bool,
) -> String {
    let joined = command.join(" ");
    let mut line = String::new();
    if keep_env {
        for (name, value) in env.iter().filter(|(n, _)| is_shell_name(n) && !KEPT_BY_ROOT.contains(&n.as_str())) {
            line.push_str(&format!("export {name}={}; ", quote(value)));
        }
    }
    for (name, value) in env.iter().filter(|(n, _)| n == "TERM") {
        line.push_str(&format!("export {name}={}; ", quote(value)));
    }
    line.push_str(&format!("export SUDO_USER=ec2-user SUDO_UID=1000 SUDO_GID=1000 SUDO_COMMAND={}; ", quote(&joined)));
    if login {
        line.push_str("cd /root; ");
    } else {
        line.push_str(&format!(
            "cd -- {0} 2>/dev/null || {{ echo \"sudo: {1} is not visible to root (each sandbox has its own /tmp); running in /\" >&2; cd /; }}; ",
            quote(cwd),
            cwd.replace(['"', '\\', '$', '`'], "?"),
        ));
    }
    let tail = match (login || shell, command.is_empty()) {
        (true, true) => format!("exec /bin/bash{}", if login { " -l" } else { "" }),
        (true, false) => format!("exec /bin/bash{} -c {}", if login { " -l" } else { "" }, quote(&joined)),
        (false, _) => format!("exec {}", command.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")),
    };
    line.push_str(&tail);
    line
}

/// What a root sandbox sets itself, whatever `-E` keeps.
const KEPT_BY_ROOT: [&str; 5] = ["HOME", "USER", "LOGNAME", "SHELL", "PWD"];

fn is_shell_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Single-quotes for the shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `sudo` inside the instance: parse, ask the broker, exit with the command's status.
pub fn client_main(args: Vec<OsString>) -> ExitCode {
    let args: Vec<String> = args.into_iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let cwd = std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_else(|_| "/".into());
    let env: Vec<(String, String)> = std::env::vars().collect();
    match parse(&args, &cwd, &env) {
        Ok(Invocation::Print(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Invocation::AsSelf(command)) => run_as_self(&command),
        Ok(Invocation::AsRoot(line)) => match ask(&line) {
            Ok(Reply::Exited(code)) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
            Ok(Reply::Refused(why)) => fail(&format!("sudo: {why}")),
            Ok(Reply::Abandoned) | Err(_) => fail("sudo: the instance's sudo service did not answer"),
        },
        Err(message) => fail(message.trim_end()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::FAILURE
}

fn run_as_self(command: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let Some((program, args)) = command.split_first() else {
        return fail(USAGE);
    };
    let error = std::process::Command::new(program).args(args).exec();
    fail(&format!("sudo: {program}: {error}"))
}

/// Sends the line with this process's standard streams, and waits for the answer.
fn ask(line: &str) -> std::io::Result<Reply> {
    let mut conn = StdUnixStream::connect(SOCKET)?;
    let length = u32::try_from(line.len()).map_err(std::io::Error::other)?;
    let mut request = length.to_be_bytes().to_vec();
    request.extend_from_slice(line.as_bytes());
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let fds = [stdin.as_fd(), stdout.as_fd(), stderr.as_fd()];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(3))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
        return Err(std::io::Error::other("descriptors do not fit"));
    }
    let sent = rustix::net::sendmsg(&conn, &[IoSlice::new(&request)], &mut control, SendFlags::empty())?;
    conn.write_all(request.get(sent..).unwrap_or_default())?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer)?;
    Reply::parse(&answer).ok_or_else(|| std::io::Error::other("no answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Invocation, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, "/home/ec2-user", &[("TERM".into(), "xterm".into()), ("FOO".into(), "a'b".into())])
    }

    fn root_line_of(args: &[&str]) -> String {
        match parsed(args) {
            Ok(Invocation::AsRoot(line)) => line,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn ansibles_become_line_runs_its_shell_as_root() {
        let line = root_line_of(&["-H", "-S", "-n", "-u", "root", "/bin/sh", "-c", "echo BECOME-SUCCESS-x ; python3"]);
        assert!(line.ends_with("exec '/bin/sh' '-c' 'echo BECOME-SUCCESS-x ; python3'"), "{line}");
        assert!(line.contains("cd -- '/home/ec2-user'"), "{line}");
        assert!(line.contains("export TERM='xterm'"), "{line}");
        assert!(!line.contains("FOO"), "{line}");
        assert_eq!(root_line_of(&["-HSnuroot", "id"]), root_line_of(&["--user=root", "id"]));
    }

    #[test]
    fn login_and_shell_forms() {
        assert!(root_line_of(&["-i"]).ends_with("cd /root; exec /bin/bash -l"));
        assert!(root_line_of(&["-i", "id", "-u"]).ends_with("exec /bin/bash -l -c 'id -u'"));
        assert!(root_line_of(&["-s"]).ends_with("exec /bin/bash"));
        assert!(root_line_of(&["-E", "env"]).contains("export FOO='a'\\''b'; "));
        assert!(parsed(&["-i", "-s"]).is_err());
    }

    #[test]
    fn other_users_options_and_bare_sudo_are_refused() {
        assert_eq!(parsed(&["-u", "ec2-user", "id"]), Ok(Invocation::AsSelf(vec!["id".into()])));
        assert_eq!(parsed(&["-u", "nobody", "id"]), Err("sudo: unknown user nobody".into()));
        assert!(parsed(&["-x", "id"]).is_err_and(|e| e.starts_with("sudo: invalid option -- 'x'")));
        assert!(parsed(&["--frobnicate"]).is_err());
        assert!(parsed(&["-u"]).is_err());
        assert_eq!(parsed(&[]), Err(USAGE.to_owned()));
        assert!(matches!(parsed(&["-n", "true"]), Ok(Invocation::AsRoot(_))));
        assert!(matches!(parsed(&["-l"]), Ok(Invocation::Print(t)) if t.contains("NOPASSWD: ALL")));
        assert_eq!(parsed(&["-v"]), Ok(Invocation::Print(String::new())));
        // Options end at the command: its own options are its own.
        assert!(root_line_of(&["ls", "-u", "x"]).ends_with("exec 'ls' '-u' 'x'"));
    }

    #[test]
    fn replies_round_trip() {
        for reply in [Reply::Exited(0), Reply::Exited(137), Reply::Refused("too many".into())] {
            assert_eq!(Reply::parse(&reply.to_line()), Some(reply));
        }
        assert_eq!(Reply::parse(""), None);
    }
}
