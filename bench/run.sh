#!/usr/bin/env bash
# Builds chemomech, puts the peers (bench/requirements.txt) into bench/.venv
# and runs one benchmark script: bash bench/run.sh xanes [--size 1024]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
name=${1:?usage: bench/run.sh NAME [ARGS...] (NAME = a bench/NAME.py)}; shift
venv="$root/bench/.venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/bench/requirements.txt"
cargo build --release --locked -p chemomech-cli --manifest-path "$root/Cargo.toml"
exec "$venv/bin/python" "$root/bench/$name.py" "$@"
