#!/usr/bin/env bash
# An empty store against a million key pairs: see bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p keyfleet -p keyfleet-bench
exec target/release/keyfleet-bench scale "$@"
