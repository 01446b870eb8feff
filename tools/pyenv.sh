#!/usr/bin/env bash
# Creates .venv with the Python packages the tests compare against (once;
# again when a requirements file changes). Prints the venv's python path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv"
reqs=("$root"/tests/python/requirements*.txt)
stamp="$venv/.requirements.sha256"
want=$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  for r in "${reqs[@]}"; do
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$r" >&2
  done
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
