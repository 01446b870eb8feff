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
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# pip builds the wheel with maturin (pyproject.toml); it is checked, then
# installed with its [test] extra.
"$venv/bin/python" -m pip wheel --disable-pip-version-check --quiet --no-deps -w "$work/wheel" "$root"
whl=$(ls "$work"/wheel/chemomech-*.whl)
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet auditwheel abi3audit
# manylinux: the module links only the system libraries manylinux allows.
"$venv/bin/auditwheel" show "$whl" | tee "$work/auditwheel.txt"
grep -q '"manylinux_' "$work/auditwheel.txt" || { echo "error: $whl is not a manylinux wheel" >&2; exit 1; }
# abi3: only the stable ABI of CPython 3.10+ (strict: any violation fails).
"$venv/bin/abi3audit" --strict --summary "$whl"
# napari with a Qt binding, for the plugin's widget test (headless, offscreen).
"$venv/bin/python" -m pip install --disable-pip-version-check --quiet "$whl[test,napari,dask]" pyqt6
cd "$work"
"$venv/bin/python" -c 'import chemomech, sys; print("chemomech", chemomech.__version__, "from", chemomech.__file__, file=sys.stderr)'
"$venv/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib "$root/tests/python_pkg" "$@"
