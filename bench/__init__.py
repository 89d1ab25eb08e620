"""Nudgeflow benchmarks: `python -m bench` (or bench/run.sh) writes docs/benchmarks.md."""
