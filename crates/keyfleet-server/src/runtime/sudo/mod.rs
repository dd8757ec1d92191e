//! `sudo` inside an instance: on EC2, ec2-user may run anything as root without a password,
//! and tools depend on it (Ansible's `become: true`). Here root is uid 0 of a sandbox of its
//! own, made like every other: the same unprivileged host uid, limits, control group and
//! system call filter as the instance's user. It is root of the instance and of nothing else.
//!
//! No set-uid program can work in the sandbox (no new privileges), so `sudo` asks a broker:
//! the `sudo` on the instance's `PATH` is keyfleet's own executable, bound read-only at
//! [`SUDO_PATH`]. Run under that name it is [`client::main`]: it sends the command as one
//! shell line, then its standard input, and writes out what comes back. keyfleet runs the
//! line as root in a new sandbox of the instance and relays its output and exit status.
//!
//! The broker listens where only the instance reaches it: on `169.254.169.254`, port
//! [`BROKER_PORT`], in the instance's own network (a port below 1024, which no instance
//! process can take), or, where keyfleet cannot make networks, on `/run/keyfleet/sudo.sock`.
//! Only bytes cross: descriptors are never taken from an instance (a passed socket's close
//! could hold the server's thread for as long as the instance likes).
//!
//! A root sandbox has its own `/tmp` and `/root` (memory-backed, per command); `/home` is the
//! instance's.

pub mod client;

use std::os::unix::process::ExitStatusExt;

use axum::serve::Listener as _;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::sandbox::{Launch, SandboxUser};
use super::ssh::InstanceSsh;

/// Where the instance finds `sudo` (first on its `PATH`).
pub const SUDO_PATH: &str = "/opt/keyfleet/bin/sudo";
/// The broker's port on the metadata address, in an instance's own network.
pub const BROKER_PORT: u16 = 1023;
/// The broker's socket inside an instance without a network of its own.
const SOCKET: &str = "/run/keyfleet/sudo.sock";
/// The longest shell line: the kernel's limit on one argument (`MAX_ARG_STRLEN`).
const MAX_LINE_BYTES: usize = 128 * 1024 - 1;
/// The largest frame either side sends.
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Root commands of one instance running at once; more are refused, not queued. Each has
/// memory-backed `/tmp`, `/var/tmp` and `/root`.
const MAX_SESSIONS: usize = 8;
/// How long a client has to send its request once connected.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// How long a client has to take the last frame and close.
const FINAL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a frame carries. After its request (a 4-byte big-endian length and the line), the
/// client sends `Stdin` and `StdinClosed`; the broker answers `Stdout` and `Stderr`, then one
/// `Exit` or `Refused`. A frame is its kind, a 4-byte big-endian length, and the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Stdin = 0,
    StdinClosed = 1,
    Stdout = 2,
    Stderr = 3,
    /// A 4-byte big-endian exit status (128 + signal when killed).
    Exit = 4,
    /// Why the command did not run, as text.
    Refused = 5,
}

impl Frame {
    fn from_byte(byte: u8) -> Option<Frame> {
        [Frame::Stdin, Frame::StdinClosed, Frame::Stdout, Frame::Stderr, Frame::Exit, Frame::Refused]
            .into_iter()
            .find(|f| *f as u8 == byte)
    }
}

/// Runs root commands for the instance until this task is aborted, which also ends every
/// command it runs.
pub(super) async fn serve<L: axum::serve::Listener>(listener: L, instance: Arc<InstanceSsh>) {
    // Refused connections hold a slot too, until their answer is out.
    let mut listener = super::capped::Capped::new(listener, MAX_SESSIONS * 2);
    let sessions = Arc::new(tokio::sync::Semaphore::new(MAX_SESSIONS));
    let mut running = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            (stream, _) = listener.accept() => {
                let (instance, permit) = (instance.clone(), sessions.clone().try_acquire_owned());
                running.spawn(async move {
                    // The session's slot is held until its last frame is out.
                    let _permit = permit.as_ref().ok();
                    let (mut reader, mut writer) = tokio::io::split(stream);
                    let outcome = match &permit {
                        Ok(_) => run(&mut reader, &mut writer, &instance).await,
                        Err(_) => Err(format!("more than {MAX_SESSIONS} sudo commands are running")),
                    };
                    let last = match outcome {
                        Ok(Some(code)) => Some((Frame::Exit, code.to_be_bytes().to_vec())),
                        Ok(None) => None,
                        Err(why) => Some((Frame::Refused, why.into_bytes())),
                    };
                    if let Some((frame, bytes)) = last {
                        let _ = tokio::time::timeout(FINAL_TIMEOUT, finish(&mut reader, &mut writer, frame, &bytes)).await;
                    }
                });
            }
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

/// Writes the last frame, ends the stream, and reads what the client still sends until it
/// closes: closing with unread input would reset the connection and lose the frame.
async fn finish<R, W>(reader: &mut R, writer: &mut W, frame: Frame, bytes: &[u8])
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    if write_frame(writer, frame, bytes).await.is_ok() && writer.shutdown().await.is_ok() {
        let mut sink = vec![0u8; 16 * 1024];
        while reader.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    }
}

/// Runs one request: `Ok(Some(status))` when the command ended, `Ok(None)` when the client
/// went away first (and the command was ended), `Err` when it did not run.
async fn run<R, W>(reader: &mut R, writer: &mut W, instance: &InstanceSsh) -> Result<Option<i32>, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let sandbox = instance.sandbox.as_ref().ok_or("no sandbox on this host")?;
    let line = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(reader)).await {
        Ok(request) => request?,
        Err(_) => return Err("no request in time".into()),
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
    let mut child = sandbox.spawn_piped(&launch).map_err(|e| format!("could not start: {e}"))?;
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("the command has no output streams".into());
    };
    let input = relay_input(reader, child.stdin.take());
    tokio::pin!(input);
    let (mut out, mut err) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let (frame, read) = tokio::select! {
            read = stdout.read(&mut out), if out_open => (Frame::Stdout, read),
            read = stderr.read(&mut err), if err_open => (Frame::Stderr, read),
            () = &mut input => return Ok(None),
        };
        let bytes = match (frame, read) {
            (_, Ok(0) | Err(_)) => None,
            (Frame::Stdout, Ok(n)) => out.get(..n),
            (_, Ok(n)) => err.get(..n),
        };
        match bytes {
            Some(bytes) => write_frame(writer, frame, bytes).await.map_err(|e| e.to_string())?,
            None if frame == Frame::Stdout => out_open = false,
            None => err_open = false,
        }
    }
    let status = tokio::select! {
        status = child.wait() => status.map_err(|e| format!("lost the command: {e}"))?,
        () = &mut input => return Ok(None),
    };
    Ok(Some(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))))
}

/// The request: a 4-byte big-endian length, then that many bytes of UTF-8 shell line.
async fn read_request<R: AsyncRead + Unpin>(reader: &mut R) -> Result<String, String> {
    let length = reader.read_u32().await.map_err(|e| e.to_string())?;
    let length = usize::try_from(length).map_err(|e| e.to_string())?;
    if length > MAX_LINE_BYTES {
        return Err(format!("command longer than {MAX_LINE_BYTES} bytes"));
    }
    let mut line = vec![0u8; length];
    reader.read_exact(&mut line).await.map_err(|e| e.to_string())?;
    let line = String::from_utf8(line).map_err(|_| "command is not UTF-8".to_owned())?;
    if line.contains('\0') {
        return Err("command holds a NUL".into());
    }
    Ok(line)
}

/// Copies the client's input frames to the command's stdin until the client goes away (or
/// breaks the protocol): then this returns, and the command is ended.
async fn relay_input<R: AsyncRead + Unpin>(reader: &mut R, mut stdin: Option<tokio::process::ChildStdin>) {
    while let Ok(Some((frame, bytes))) = read_frame(reader).await {
        match (frame, stdin.as_mut()) {
            (Frame::Stdin, Some(pipe)) => {
                // A command that stops reading stops only its own input.
                if pipe.write_all(&bytes).await.is_err() {
                    stdin = None;
                }
            }
            (Frame::Stdin, None) => {}
            (Frame::StdinClosed, _) => stdin = None,
            _ => return,
        }
    }
}

/// One frame, or `None` at a clean end of stream.
async fn read_frame<R: AsyncRead + Unpin>(reader: &mut R) -> std::io::Result<Option<(Frame, Vec<u8>)>> {
    let kind = match reader.read_u8().await {
        Ok(kind) => kind,
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    };
    let frame = Frame::from_byte(kind).ok_or_else(|| std::io::Error::other("unknown frame"))?;
    let length = usize::try_from(reader.read_u32().await?).map_err(std::io::Error::other)?;
    if length > MAX_FRAME_BYTES {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut bytes = vec![0u8; length];
    reader.read_exact(&mut bytes).await?;
    Ok(Some((frame, bytes)))
}

async fn write_frame<W: AsyncWrite + Unpin>(writer: &mut W, frame: Frame, bytes: &[u8]) -> std::io::Result<()> {
    let length = u32::try_from(bytes.len()).map_err(std::io::Error::other)?;
    let mut framed = Vec::with_capacity(bytes.len() + 5);
    framed.push(frame as u8);
    framed.extend_from_slice(&length.to_be_bytes());
    framed.extend_from_slice(bytes);
    writer.write_all(&framed).await?;
    writer.flush().await
}
