#!/bin/sh
# Secrets from files: every file named NUDGEFLOW_* in /run/secrets (where Docker and Compose
# mount secrets) becomes that environment variable, unless the variable is already set.
# Then runs `nudgeflow "$@"` (default: worker).
set -eu
if [ -d /run/secrets ]; then
  for file in /run/secrets/NUDGEFLOW_*; do
    [ -s "$file" ] || continue  # absent or empty: skip
    name=$(basename "$file")
    if [ -z "$(printenv "$name" || true)" ]; then
      value=$(cat "$file")
      export "$name=$value"
    fi
  done
fi
exec nudgeflow "$@"
