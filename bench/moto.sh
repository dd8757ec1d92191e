#!/usr/bin/env bash
# keyfleet against moto's server, side by side: see bench/README.md. Needs moto_server
# (pip install 'moto[server]').
set -euo pipefail
cd "$(dirname "$0")/.."
command -v moto_server >/dev/null || { echo "moto_server not found: pip install 'moto[server]'" >&2; exit 1; }
cargo build --release --quiet -p keyfleet -p keyfleet-bench
exec target/release/keyfleet-bench moto
