#!/usr/bin/env bash
# SQLite against PostgreSQL, side by side: see bench/README.md. Extra arguments go to
# `keyfleet-bench backends` (--requests N, --database-url URL).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p keyfleet -p keyfleet-bench
exec target/release/keyfleet-bench backends "$@"
