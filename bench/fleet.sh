#!/usr/bin/env bash
# Fleet scale-out: the time from SetDesiredCapacity +10 on an Auto Scaling group to 10
# instances accepting ssh, against the same 10 launched by one RunInstances (MinCount=10)
# in the same run, interleaved ROUNDS times (default 3). Prints both medians and the
# group/RunInstances ratio: what the group's reconciler adds over a plain launch. (On AWS the
# same scale-out takes minutes.) Loopback only; every wait is bounded.
# Needs: a release build (cargo build --release), bubblewrap, openssh-client, aws CLI. Run
# as root (instances then serve SSH on port 22 of their own addresses).
set -euo pipefail
ROUNDS=${ROUNDS:-3}
COUNT=10
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="${KEYFLEET_BIN:-$ROOT/target/release/keyfleet}"
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d)
cleanup() { kill "${KF_PID:-}" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
API_PORT=$(free_port)
"$BIN" serve --dev --listen "127.0.0.1:$API_PORT" --data-dir "$WORK/data" --instance-network 127.198.0.0 \
  >"$WORK/serve.out" 2>"$WORK/serve.err" &
KF_PID=$!
for _ in $(seq 100); do grep -q listening "$WORK/serve.out" 2>/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
AWS="aws --endpoint-url http://127.0.0.1:$API_PORT"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/k"
$AWS ec2 import-key-pair --key-name bench --public-key-material "fileb://$WORK/k.pub" >/dev/null
$AWS ec2 authorize-security-group-ingress --group-name default --protocol tcp --port 22 --cidr 0.0.0.0/0 >/dev/null
$AWS ec2 create-launch-template --launch-template-name bench \
  --launch-template-data ImageId=ami-keyfleet-linux,InstanceType=t3.micro,KeyName=bench >/dev/null
$AWS autoscaling create-auto-scaling-group --auto-scaling-group-name bench --launch-template LaunchTemplateName=bench \
  --min-size 0 --max-size $COUNT --desired-capacity 0 --availability-zones us-east-1a us-east-1b >/dev/null

OPTS=(-i "$WORK/k" -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
      -o LogLevel=ERROR -o ConnectTimeout=2)
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Waits (at most 120 s) until every address given accepts `ssh true`.
all_accept() {
  local deadline=$(( $(now_ms) + 120000 )) ip
  for ip in "$@"; do
    until ssh "${OPTS[@]}" "ec2-user@$ip" true 2>/dev/null; do
      [ "$(now_ms)" -lt "$deadline" ] || { echo "$ip never accepted ssh" >&2; exit 1; }
      sleep 0.05
    done
  done
}
group_ips() {
  local ids
  ids=$($AWS autoscaling describe-auto-scaling-groups --auto-scaling-group-names bench \
    --query 'AutoScalingGroups[0].Instances[].InstanceId' --output text)
  [ -n "$ids" ] || return 0
  # shellcheck disable=SC2086
  $AWS ec2 describe-instances --instance-ids $ids --query 'Reservations[].Instances[].PublicIpAddress' --output text
}
wait_group_size() {
  local want=$1 deadline=$(( $(now_ms) + 120000 )) n
  while :; do
    n=$($AWS autoscaling describe-auto-scaling-groups --auto-scaling-group-names bench \
      --query "length(AutoScalingGroups[0].Instances)" --output text)
    [ "$n" = "$want" ] && return 0
    [ "$(now_ms)" -lt "$deadline" ] || { echo "the group never had $want instances" >&2; exit 1; }
    sleep 0.1
  done
}

: >"$WORK/run.ms"; : >"$WORK/group.ms"
for _ in $(seq "$ROUNDS"); do
  start=$(now_ms)
  out=$($AWS ec2 run-instances --image-id ami-keyfleet-linux --key-name bench --count $COUNT \
    --query 'Instances[].[InstanceId,PublicIpAddress]' --output text)
  # shellcheck disable=SC2046
  all_accept $(awk '{print $2}' <<<"$out")
  echo $(( $(now_ms) - start )) >>"$WORK/run.ms"
  # shellcheck disable=SC2046
  $AWS ec2 terminate-instances --instance-ids $(awk '{print $1}' <<<"$out") >/dev/null

  start=$(now_ms)
  $AWS autoscaling set-desired-capacity --auto-scaling-group-name bench --desired-capacity $COUNT
  wait_group_size $COUNT
  # shellcheck disable=SC2046
  all_accept $(group_ips)
  echo $(( $(now_ms) - start )) >>"$WORK/group.ms"
  $AWS autoscaling set-desired-capacity --auto-scaling-group-name bench --desired-capacity 0
  wait_group_size 0
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
RUN=$(median "$WORK/run.ms"); GROUP=$(median "$WORK/group.ms")
echo "$COUNT instances accepting ssh, median of $ROUNDS: SetDesiredCapacity +$COUNT ${GROUP} ms," \
  "RunInstances --count $COUNT ${RUN} ms, ratio group/RunInstances $(python3 -c "print(round($GROUP/$RUN, 2))")"
