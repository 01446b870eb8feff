"""``python -m chemomech run PIPELINE.toml [--out DIR] [--dask ADDRESS]``.

Runs a pipeline as ``chemomech run`` does; with ``--dask`` (a scheduler's
address, or ``local`` for a cluster of this machine's cores) its volume
stages run on a Dask cluster (:func:`chemomech.dask.run_pipeline`).
``chemomech run --dask ADDRESS`` calls this.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m chemomech", description=__doc__.split("\n\n")[1])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a TOML pipeline (its volume stages on Dask with --dask)")
    run.add_argument("pipeline", help="pipeline file (TOML)")
    run.add_argument("--out", help="run directory (default: [pipeline] out, else PIPELINE-run)")
    run.add_argument("--dask", metavar="ADDRESS", help="scheduler address (tcp://host:8786), or 'local'")
    run.add_argument("--workers", type=int, default=2, help="workers of a 'local' cluster (default 2)")
    run.add_argument("--chunks", type=int, help="rechunk volume inputs to cubes of this edge (voxels)")
    run.add_argument("--json", action="store_true", help="print run.json")
    run.add_argument("--quiet", action="store_true", help="no progress or stage lines")
    return ap


class _Bar:
    """One progress line on a terminal (nothing otherwise, or when quiet)."""

    def __init__(self, quiet: bool) -> None:
        self.on = not quiet and sys.stderr.isatty()

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.on:
            frac = f"{done}/{total}" if total else ""
            sys.stderr.write(f"\r\x1b[K{label} {frac}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.on:
            sys.stderr.write("\r\x1b[K")


def _client(address: str | None, workers: int) -> Any:
    if address is None:
        return None
    from distributed import Client, LocalCluster

    if address == "local":
        return Client(LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None))
    return Client(address)


def _lines(run: dict) -> list[str]:
    out = []
    for s in run["stages"]:
        where = s["summary"].get("executor", {}).get("kind", "here") if isinstance(s["summary"], dict) else "here"
        state = "cached" if s["cached"] else f"{s['seconds']:.1f} s"
        out.append(f"{'=' if s['cached'] else '✓'} {s['name']:<12} {state:>10}  ({where})")
    return out


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    import chemomech

    bar = _Bar(a.quiet or a.json)
    chunks = (a.chunks,) * 3 if a.chunks else None
    try:
        chemomech._core.check_pipeline(a.pipeline)
        client = _client(a.dask, a.workers)
        if client is None:
            run = chemomech.run_pipeline(a.pipeline, a.out, progress=bar)
        else:
            from chemomech.dask import run_pipeline

            with client:
                run = run_pipeline(a.pipeline, a.out, client=client, chunks=chunks, progress=bar)
    except (ValueError, OSError, chemomech.Cancelled) as e:
        bar.clear()
        print(f"error: {e}", file=sys.stderr)
        return 1
    bar.clear()
    if a.json:
        print(json.dumps(run, indent=1))
    elif not a.quiet:
        print("\n".join(_lines(run)))
        print(f"run: {run['run_dir']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
