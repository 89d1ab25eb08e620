#!/usr/bin/env bash
# Runs every benchmark (about 5-10 minutes on 2 cores) and rewrites docs/benchmarks.md.
# Arguments go to `python -m bench` (--help lists them; --quick for a one-minute smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench "$@"
