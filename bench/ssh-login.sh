#!/usr/bin/env bash
# SSH login time: `ssh -i k HOST true` against a keyfleet instance and against a stock
# OpenSSH sshd on the same machine, interleaved in the same run (ROUNDS each, default 20).
# Prints both medians and the keyfleet/sshd ratio. Loopback only; bounded loops.
# Needs: a release build (cargo build --release), openssh-server, bubblewrap, aws CLI. Run as root
# (keyfleet's instances then serve SSH on port 22, sshd here on a free high port; a throwaway
# user is created for sshd and removed at exit).
set -euo pipefail
ROUNDS=${ROUNDS:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/target/release/keyfleet"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d)
# sshd logs into a throwaway user with a clean home: root's own shell start-up files (here,
# pyenv in ~/.bashrc, which Debian's bash reads even for `ssh host true`) would dominate.
BENCH_USER="kfbench$$"
cleanup() {
  kill "${KF_PID:-}" "${SSHD_PID:-}" 2>/dev/null || true
  userdel -r "$BENCH_USER" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port); SSHD_PORT=$(free_port)
"$BIN" serve --dev --listen "127.0.0.1:$API_PORT" --data-dir "$WORK/data" --instance-network 127.199.0.0 \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
KF_PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
AWS="aws --endpoint-url http://127.0.0.1:$API_PORT"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/k"
$AWS ec2 import-key-pair --key-name bench --public-key-material "fileb://$WORK/k.pub" >/dev/null
# As on EC2, the default security group admits no one until SSH is opened.
$AWS ec2 authorize-security-group-ingress --group-name default --protocol tcp --port 22 --cidr 0.0.0.0/0 >/dev/null
IP=$($AWS ec2 run-instances --image-id ami-0f5e8a2b9c3d71e46 --key-name bench --query 'Instances[0].PublicIpAddress' --output text)

# A stock sshd with its own host key, accepting the same key for the bench user.
useradd --create-home --shell /bin/bash "$BENCH_USER"
usermod -p "*" "$BENCH_USER"   # "!" (locked) would make sshd refuse it without PAM
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host"
mkdir -p /run/sshd
BENCH_HOME=$(getent passwd "$BENCH_USER" | cut -d: -f6)
install -d -m 700 -o "$BENCH_USER" "$BENCH_HOME/.ssh"
install -m 600 -o "$BENCH_USER" "$WORK/k.pub" "$BENCH_HOME/.ssh/authorized_keys"
cat >"$WORK/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $WORK/host
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
GSSAPIAuthentication no
PidFile $WORK/sshd.pid
CFG
/usr/sbin/sshd -D -f "$WORK/sshd_config" -E "$WORK/sshd.log" &
SSHD_PID=$!
sleep 0.5

OPTS=(-i "$WORK/k" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o GSSAPIAuthentication=no ${SSH_EXTRA:-})
time_ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
: >"$WORK/kf.ms"; : >"$WORK/sshd.ms"
for _ in $(seq "$ROUNDS"); do
  time_ms ssh "${OPTS[@]}" "ec2-user@$IP" true >>"$WORK/kf.ms"
  time_ms ssh "${OPTS[@]}" -p "$SSHD_PORT" "$BENCH_USER@127.0.0.1" true >>"$WORK/sshd.ms"
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
KF=$(median "$WORK/kf.ms"); SS=$(median "$WORK/sshd.ms")
echo "ssh login + true, median of $ROUNDS: keyfleet instance ${KF} ms, stock sshd ${SS} ms, ratio keyfleet/sshd $(python3 -c "print(round($KF/$SS, 2))")"
