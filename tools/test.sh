#!/usr/bin/env bash
# Runs all of chemomech's tests: Rust unit, integration and doc tests, then
# the Python interop tests that read chemomech's outputs with zarr-python,
# tifffile and h5py and compare against the field's reference tools, then
# the Python package (crates/py, built with maturin) in a fresh venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
py=$(bash tools/pyenv.sh)
cargo build --release --locked -p chemomech-cli
# chemomech-py (the Python module) is tested through its installed wheel below.
cargo test --release --locked --workspace --exclude chemomech-py
# The CLI the Python tests compare against (CARGO_TARGET_DIR when set).
export CHEMOMECH_BIN="${CARGO_TARGET_DIR:-$root/target}/release/chemomech"
"$py" -m pytest -q tests/python
bash tools/pytest-pkg.sh
