#!/usr/bin/env bash
# The fuzz harness at CI size: 20,000 generated calls of every routine of schema insight from 4
# sessions, seed 1 (scripts/fuzz; a longer run's result is in the README, "Security notes").
set -euo pipefail
cd "$(dirname "$0")/../.."
FUZZ_NO_INSTALL=1 scripts/fuzz 20000 1
