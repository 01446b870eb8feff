"""Shared fixtures: the chemomech binary and the shared real-data folder."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _shared():
    env = os.environ.get("CHEMOMECH_SHARED_DATA")
    if env:
        return pathlib.Path(env)
    for a in [ROOT, *ROOT.parents]:
        c = a / "shared" / "data"
        if (c / "README.md").is_file():
            return c
    raise RuntimeError("shared data folder not found (../shared/data or CHEMOMECH_SHARED_DATA)")


SHARED = _shared()
BIN = os.environ.get("CHEMOMECH_BIN", str(ROOT / "target" / "release" / "chemomech"))


@pytest.fixture(scope="session")
def shared():
    return SHARED


def run(*args, ok=True):
    """Runs chemomech; returns the CompletedProcess (asserting success if ok)."""
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    if ok and p.returncode != 0:
        raise AssertionError(f"chemomech {' '.join(map(str, args))} failed ({p.returncode}): {p.stderr}")
    return p


def run_json(*args):
    return json.loads(run(*args, "--json").stdout)
