#!/usr/bin/env bash
# Runs the Python SDK's tests against a real `ward serve`.
#
# The packages are installed by this script into a venv under the
# repository's target/ (target/py-venv), from sdk/python/pyproject.toml's
# extras with every version pinned by sdk/python/constraints.txt. They are
# reinstalled only when either file (or the Python) changes. Arguments go to
# pytest. WARD_BIN names the ward binary (default: target/debug/ward);
# PYTHON the interpreter that makes the venv (default: python3).
set -euo pipefail
sdk="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$sdk/../.." && pwd)"
venv="$repo/target/py-venv"
python="${PYTHON:-python3}"
mkdir -p "$repo/target"

stamp_of() {
  {
    cat "$sdk/pyproject.toml" "$sdk/constraints.txt"
    "$python" -c 'import sys; print(sys.version)'
  } | sha256sum | cut -d' ' -f1
}

# One installer at a time; a second run waits, then finds the venv fresh.
exec 9>"$repo/target/py-venv.lock"
flock 9
want="$(stamp_of)"
if [[ ! -f "$venv/.ward-stamp" || "$(cat "$venv/.ward-stamp")" != "$want" ]]; then
  echo "== python sdk: installing test packages into $venv" >&2
  log="$repo/target/py-venv-install.log"
  rm -f "$venv/.ward-stamp"
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  if ! {
    "$venv/bin/python" -m pip install --disable-pip-version-check -q \
        -c "$sdk/constraints.txt" -e "$sdk[langchain,openai-agents,crewai,test]"
  } >"$log" 2>&1; then
    echo "pip install failed; see $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  echo "$want" >"$venv/.ward-stamp"
fi
flock -u 9

# Keep the source tree clean: bytecode goes under target/, no pytest cache.
export PYTHONPYCACHEPREFIX="$repo/target/py-cache"
export PYTHONUNBUFFERED=1
cd "$sdk"
exec "$venv/bin/python" -m pytest -p no:cacheprovider "$@"
