"""Helpers shared by the bench scripts."""
import json, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "chemomech"


def chemomech_json(*args):
    """Runs `chemomech ARGS --json --quiet`; returns (wall seconds, JSON summary). Exits on failure."""
    cmd = [str(BIN), *map(str, args), "--json", "--quiet"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"chemomech failed: {r.stderr}")
    return dt, json.loads(r.stdout)
