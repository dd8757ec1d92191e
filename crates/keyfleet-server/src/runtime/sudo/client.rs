//! The `sudo` an instance runs: sudo 1.9's common options, parsed into one shell line for
//! the broker ([`super`]), then the line, standard input and the answer relayed.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

use super::{BROKER_PORT, Frame, MAX_FRAME_BYTES, SOCKET};

/// What the caller's shell gives `sudo`.
pub struct Caller {
    /// The working directory.
    pub cwd: String,
    /// The environment (variables whose name and value are UTF-8).
    pub env: Vec<(String, String)>,
    /// Whether standard input is a terminal (an interactive `sudo -i` or `-s`).
    pub tty: bool,
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
pub fn parse(args: &[String], caller: &Caller) -> Result<Invocation, String> {
    let mut flags = std::collections::BTreeSet::new();
    let mut kept: Option<Vec<String>> = None;
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
            match (short, inline) {
                // `--preserve-env=A,B` keeps only those.
                ('E', Some(list)) => {
                    kept = Some(list.split(',').map(str::to_owned).collect());
                    vec![('E', None)]
                }
                (flag, Some(_)) if FLAGS.iter().any(|(s, _)| *s == flag) => {
                    return Err(format!("sudo: option '--{name}' doesn't allow an argument\n{USAGE}"));
                }
                (short, inline) => vec![(short, inline)],
            }
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
    if wants('K') && !command.is_empty() {
        return Err(format!("sudo: you may not specify both the -K option and a command\n{USAGE}"));
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
    let kept: Vec<&(String, String)> = match (&kept, wants('E')) {
        (Some(names), _) => caller.env.iter().filter(|(n, _)| names.contains(n)).collect(),
        (None, true) => caller.env.iter().collect(),
        (None, false) => Vec::new(),
    };
    let shell = match (login, wants('s')) {
        (true, _) => Some(Shell::Login),
        (false, true) => Some(Shell::Plain),
        (false, false) => None,
    };
    root_line(&command, caller, &kept, shell).map(Invocation::AsRoot)
}

/// `-i` and `-s`: the command runs in a shell.
#[derive(Clone, Copy, PartialEq)]
enum Shell {
    /// `-i`: root's login shell, in `/root`.
    Login,
    /// `-s`: a shell, where the caller is.
    Plain,
}

/// The shell line a root sandbox runs: sudo's environment, the caller's directory, and the
/// command; leading `NAME=value` arguments set variables, as sudo's do.
fn root_line(
    command: &[String],
    caller: &Caller,
    kept: &[&(String, String)],
    shell: Option<Shell>,
) -> Result<String, String> {
    let assignments = command.iter().take_while(|a| a.split_once('=').is_some_and(|(n, _)| is_shell_name(n))).count();
    let (assigned, command) = command.split_at(assignments);
    let mut line = String::new();
    let mut export = |name: &str, value: &str| line.push_str(&format!("export {name}={}; ", quote(value)));
    for (name, value) in kept.iter().filter(|(n, _)| is_shell_name(n) && !KEPT_BY_ROOT.contains(&n.as_str())) {
        export(name, value);
    }
    for (name, value) in caller.env.iter().filter(|(n, _)| n == "TERM") {
        export(name, value);
    }
    for (name, value) in assigned.iter().filter_map(|a| a.split_once('=')) {
        export(name, value);
    }
    export("SUDO_COMMAND", &command.join(" "));
    line.push_str("export SUDO_USER=ec2-user SUDO_UID=1000 SUDO_GID=1000; ");
    match shell {
        Some(Shell::Login) => line.push_str("cd /root; "),
        // Root's /tmp is its own: a directory there does not exist for it.
        _ if !visible_to_root(&caller.cwd) => {
            return Err(format!(
                "sudo: {} is not visible to root: each sudo command has its own /tmp and /root; run it from /home",
                caller.cwd
            ));
        }
        _ => line.push_str(&format!("cd -- {}; ", quote(&caller.cwd))),
    }
    let login = if shell == Some(Shell::Login) { " -l" } else { "" };
    let tail = match (shell, command.is_empty()) {
        (Some(_), true) if caller.tty => format!("exec /bin/bash{login} -i"),
        (Some(_), true) => format!("exec /bin/bash{login}"),
        (Some(_), false) => format!("exec /bin/bash{login} -c {}", quote(&escaped_for_shell(command))),
        (None, _) => format!("exec {}", command.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")),
    };
    line.push_str(&tail);
    Ok(line)
}

/// Where the caller's directory is the same directory for root: under `/home`, or `/`.
fn visible_to_root(cwd: &str) -> bool {
    cwd == "/" || cwd == "/home" || cwd.starts_with("/home/")
}

/// `-s`/`-i` with a command: sudo 1.9 joins the arguments with spaces, each character but
/// letters, digits, `_`, `-` and `$` escaped with a backslash.
fn escaped_for_shell(command: &[String]) -> String {
    let escape = |arg: &String| {
        arg.chars().fold(String::new(), |mut out, c| {
            if !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$')) {
                out.push('\\');
            }
            out.push(c);
            out
        })
    };
    command.iter().map(escape).collect::<Vec<_>>().join(" ")
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
pub fn main(args: Vec<OsString>) -> ExitCode {
    use std::io::IsTerminal as _;
    let args: Vec<String> = match args.into_iter().map(OsString::into_string).collect() {
        Ok(args) => args,
        Err(_) => return fail("sudo: arguments must be UTF-8 here"),
    };
    let Some(cwd) = std::env::current_dir().ok().and_then(|d| d.to_str().map(str::to_owned)) else {
        return fail("sudo: the working directory must be UTF-8 here");
    };
    let env = std::env::vars_os().filter_map(|(n, v)| Some((n.into_string().ok()?, v.into_string().ok()?))).collect();
    let caller = Caller { cwd, env, tty: std::io::stdin().is_terminal() };
    match parse(&args, &caller) {
        Ok(Invocation::Print(text)) => {
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Ok(Invocation::AsSelf(command)) => run_as_self(&command),
        Ok(Invocation::AsRoot(line)) => match ask(&line) {
            Ok(Answer::Exited(code)) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
            Ok(Answer::Refused(why)) => fail(&format!("sudo: {why}")),
            Err(e) => fail(&format!("sudo: the instance's sudo service did not answer: {e}")),
        },
        Err(message) => fail(message.trim_end()),
    }
}

fn fail(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "{message}");
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

/// How a request ended.
#[derive(Debug, PartialEq)]
enum Answer {
    Exited(i32),
    Refused(String),
}

/// The broker: on the metadata address in the instance's own network, else (keyfleet not
/// root) on the socket.
fn connect() -> std::io::Result<(Box<dyn Read>, Box<dyn Write + Send>)> {
    if std::path::Path::new(SOCKET).exists() {
        let stream = UnixStream::connect(SOCKET)?;
        return Ok((Box::new(stream.try_clone()?), Box::new(stream)));
    }
    let address = SocketAddr::from((crate::runtime::netns::METADATA_ADDRESS, BROKER_PORT));
    let stream = TcpStream::connect_timeout(&address, std::time::Duration::from_secs(5))?;
    Ok((Box::new(stream.try_clone()?), Box::new(stream)))
}

/// Sends the line, relays standard input on a thread of its own, and writes out the
/// command's output until its status comes.
fn ask(line: &str) -> std::io::Result<Answer> {
    let (mut from_broker, mut to_broker) = connect()?;
    let length = u32::try_from(line.len()).map_err(std::io::Error::other)?;
    let mut request = length.to_be_bytes().to_vec();
    request.extend_from_slice(line.as_bytes());
    // A refused request is answered even if the broker stops reading it part way.
    if to_broker.write_all(&request).is_ok() {
        relay_stdin(to_broker);
    }
    loop {
        let mut header = [0u8; 5];
        from_broker.read_exact(&mut header)?;
        let [kind, length @ ..] = header;
        let length = usize::try_from(u32::from_be_bytes(length)).map_err(std::io::Error::other)?;
        if length > MAX_FRAME_BYTES {
            return Err(std::io::Error::other("frame too large"));
        }
        let mut bytes = vec![0u8; length];
        from_broker.read_exact(&mut bytes)?;
        let written = match Frame::from_byte(kind) {
            Some(Frame::Stdout) => write_through(&mut std::io::stdout(), &bytes),
            Some(Frame::Stderr) => write_through(&mut std::io::stderr(), &bytes),
            Some(Frame::Exit) => {
                let code: [u8; 4] = bytes.try_into().map_err(|_| std::io::Error::other("bad status"))?;
                return Ok(Answer::Exited(i32::from_be_bytes(code)));
            }
            Some(Frame::Refused) => return Ok(Answer::Refused(String::from_utf8_lossy(&bytes).into_owned())),
            _ => return Err(std::io::Error::other("unexpected frame")),
        };
        // Nobody reads the output any more (`sudo yes | head -1`): as the command would be,
        // sudo is ended by SIGPIPE's status, and its going ends the command.
        if written.is_err() {
            return Ok(Answer::Exited(128 + 13));
        }
    }
}

/// Sends standard input, as it comes, on a thread of its own; then that it ended. Like ssh
/// without `-n`, sudo reads its input whether or not the command does.
fn relay_stdin(mut to_broker: Box<dyn Write + Send>) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = vec![0u8; MAX_FRAME_BYTES];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if send(&mut *to_broker, Frame::Stdin, buffer.get(..n).unwrap_or_default()).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = send(&mut *to_broker, Frame::StdinClosed, &[]);
    });
}

/// The command's output, as it comes.
fn write_through(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(bytes).and_then(|()| out.flush())
}

fn send(to: &mut (dyn Write + Send), frame: Frame, bytes: &[u8]) -> std::io::Result<()> {
    let length = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    let mut framed = Vec::with_capacity(bytes.len() + 5);
    framed.push(frame as u8);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(bytes);
    to.write_all(&framed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Invocation, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let caller = Caller {
            cwd: "/home/ec2-user".into(),
            env: vec![("TERM".into(), "xterm".into()), ("FOO".into(), "a'b".into()), ("BAR".into(), "b".into())],
            tty: false,
        };
        parse(&args, &caller)
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
    fn sudos_own_forms_of_environment_and_shell_commands() {
        let line = root_line_of(&["LANG=C", "X_1=a b", "env"]);
        assert!(line.contains("export LANG='C'; export X_1='a b'; ") && line.ends_with("exec 'env'"), "{line}");
        let kept = root_line_of(&["--preserve-env=FOO", "env"]);
        assert!(kept.contains("export FOO=") && !kept.contains("BAR"), "{kept}");
        assert!(parsed(&["--login=yes"]).is_err());
        assert!(parsed(&["-K", "id"]).is_err());
        assert!(root_line_of(&["-s", "echo", "a b", "$HOME"]).ends_with(r"exec /bin/bash -c 'echo a\ b $HOME'"));
    }

    #[test]
    fn a_directory_root_cannot_see_is_refused_not_swapped() {
        let caller = Caller { cwd: "/tmp/build".into(), env: Vec::new(), tty: false };
        let refused = parse(&["make".to_owned()], &caller);
        assert!(refused.is_err_and(|e| e.contains("/tmp/build is not visible to root")));
        assert!(matches!(parse(&["-i".to_owned()], &caller), Ok(Invocation::AsRoot(_))));
    }
}
