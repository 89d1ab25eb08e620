#!/usr/bin/env bash
# Runs every benchmark (about 45 minutes on 2 cores, 30 of them the soak) and rewrites docs/benchmarks.md.
# Arguments go to `python -m bench` (--help lists them; --quick for a smoke run of under 3 minutes; --only PHASES to re-run some phases into bench/last-run.json).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m bench "$@"
