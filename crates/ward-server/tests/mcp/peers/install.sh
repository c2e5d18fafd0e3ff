#!/usr/bin/env bash
# Installs the real MCP peers the gateway tests run against into DEST (the
# tests pass <target>/mcp-peers): the reference servers from npm, and a
# Python venv with the official MCP SDK and the OpenAI Agents SDK from PyPI.
# Runs once per change of this folder (a stamp records it); concurrent
# callers wait for the first.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dest="${1:?usage: install.sh DEST}"
mkdir -p "$dest"
exec 9>"$dest/.lock"
flock 9
stamp="$(cat "$here/package.json" "$here/package-lock.json" "$here/requirements.txt" "$0" | sha256sum | cut -c1-16)"
if [ "$(cat "$dest/.stamp" 2>/dev/null || true)" = "$stamp" ]; then
  exit 0
fi
rm -f "$dest/.stamp"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
if [ ! -x "$dest/venv/bin/python" ]; then
  python3 -m venv "$dest/venv"
fi
"$dest/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt" >&2
echo "$stamp" > "$dest/.stamp"
