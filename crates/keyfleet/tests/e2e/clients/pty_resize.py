"""Runs the real `ssh -tt` inside a pseudo-terminal, resizes that terminal mid-session, and
prints what `stty size` said inside the instance before and after.

usage: pty_resize.py SSH-ARGS...   (everything after the script name is passed to ssh)
"""
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


pid, fd = pty.fork()
if pid == 0:
    os.execvp("ssh", ["ssh", "-tt", *sys.argv[1:], "stty size; sleep 2; stty size"])

set_size(fd, 30, 100)
output = b""
deadline = time.time() + 20
resized = False
while time.time() < deadline:
    if not resized and b"30 100" in output:
        set_size(fd, 40, 120)
        os.kill(pid, signal.SIGWINCH)
        resized = True
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
os.waitpid(pid, 0)
print(output.decode(errors="replace").replace("\r", ""))
