#!/usr/bin/env bash
# Builds the Python package chemomech (maturin, through pip), installs it
# with its [test] extra into a FRESH venv outside the source tree and runs
# tests/python_pkg from a directory outside the repository, so that the
# tests exercise the installed package, not python/ in the checkout.
#   bash tools/pytest-pkg.sh [PYTEST ARGS…]
# The venv goes to $CHEMOMECH_PYVENV (default: target/pyvenv, recreated each
# run). CARGO_TARGET_DIR, when set, is passed through to maturin's cargo
# build, so the Rust build is shared with cargo's.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${CHEMOMECH_PYVENV:-"$root/target/pyvenv"}
py=${PYTHON:-python3}
rm -rf "$venv"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
# pip builds the wheel with maturin (pyproject.toml) and installs it.
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$root[test]"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$venv/bin/python" -c 'import chemomech, sys; print("chemomech", chemomech.__version__, "from", chemomech.__file__, file=sys.stderr)'
"$venv/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib "$root/tests/python_pkg" "$@"
