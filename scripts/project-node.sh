#!/usr/bin/env bash
# Prints the path of a Node.js >= 24 binary for this project.
# The system Node is used when it is new enough; otherwise Node 24 is installed once from the npm
# registry (the node-linux-<arch> package carries the official binary) into .tools/node24.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
want_major=24
pinned=24.21.0

if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge "$want_major" ]; then command -v node; exit 0; fi
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64|arm64) arch=arm64 ;;
  *) echo "kingbus: no Node $want_major package for $(uname -m); install Node >= $want_major yourself" >&2; exit 1 ;;
esac
bin="$root/.tools/node$want_major/node_modules/node-linux-$arch/bin/node"
if [ ! -x "$bin" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    echo "kingbus: Node >= $want_major is needed and npm is missing to install it; install Node $want_major" >&2
    exit 1
  fi
  echo "kingbus: installing Node $pinned into .tools/node$want_major (system Node is older)" >&2
  npm install --silent --no-save --no-package-lock --no-audit --no-fund \
    --prefix "$root/.tools/node$want_major" "node-linux-$arch@$pinned" >&2
fi
echo "$bin"
