"""The distributed pipeline runner: a TOML pipeline whose volume stages run
on a Dask cluster, chunk by chunk, over OME-Zarr.

The engine's runner (the one ``chemomech run`` uses) parses the pipeline,
computes every stage's cache key, skips unchanged stages, and commits each
stage's directory atomically; it offers every stage that must run to
:class:`_Dispatcher` first. Stages with a Dask form (below) whose output is
named ``*.zarr`` run on the cluster; every other stage runs here, as
``chemomech run`` would run it, so one pipeline file serves both.

==========  ======================================  ===========================
stage       on Dask when                            result
==========  ======================================  ===========================
segment     ``method`` iso50, otsu or multiotsu;    the same phases, voxel for
            ``denoise`` none, gaussian or median    voxel
morph       ``op`` label, edt or median             label: the same components
                                                    (numbered by chunk);
                                                    edt, median: the same values
==========  ======================================  ===========================

Chunks are written into the stage's work directory (``RUN/.NAME.work-KEY``,
kept across interrupted runs with the same cache key), each followed by a
marker file once its data is complete; a rerun writes only the chunks
without a marker, and the label stage keeps its equivalence table there too,
so it does not label the volume again. When every chunk is written the store
is moved into the stage's directory and the stage is committed like any
other. Workers and the client must share the run directory's file system.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import _core
from ._api import read
from . import dask as cd

import dask
import dask.array as da

Progress = Callable[[str, int, int], Any]


# ------------------------------------------------------------------ inputs


def _ome_scale(root: Path) -> list[float] | None:
    """The µm scale of an OME-Zarr group's first level, if it states one."""
    try:
        attrs = json.loads((root / "zarr.json").read_text()).get("attributes", {})
        ms = attrs.get("ome", attrs).get("multiscales") or []
        for t in ms[0]["datasets"][0]["coordinateTransformations"]:
            if t.get("type") == "scale":
                return [float(x) for x in t["scale"]]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return None


def _open(path: str, dataset: str | None, voxel_um: float | None, chunks: Any) -> tuple["da.Array", list[float] | None]:
    """A volume as a dask array with its spacing in µm (None when unstated).

    Zarr stores are read lazily (an OME-Zarr image's level ``0``, or the
    array ``dataset`` names); other files are read here and chunked."""
    p = Path(path)
    if p.suffix.lower() == ".zarr" and p.is_dir():
        meta = json.loads((p / "zarr.json").read_text())
        if meta.get("node_type") == "group":
            component = dataset or "0"
            scale = _ome_scale(p)
        else:
            component, scale = None, None
        x = da.from_zarr(str(p), component=component)
        if chunks is not None:
            x = x.rechunk(chunks)
    else:
        data, meta = read(path, dataset=dataset)
        scale = meta.get("spacing_um")
        x = da.from_array(data, chunks=chunks if chunks is not None else "auto")
    if x.ndim != 3:
        raise ValueError(f"{path}: a volume must be 3-D, got shape {x.shape}")
    spacing = [float(voxel_um)] * 3 if voxel_um is not None else (list(scale) if scale else None)
    return x, spacing


# ------------------------------------------------------------------ output


def _regular(x: "da.Array") -> "da.Array":
    """`x` with regular chunks (a Zarr array's chunk grid): all of one
    shape but the last along each axis."""
    ok = all(len(set(c[:-1])) <= 1 and c[-1] <= c[0] for c in x.chunks)
    return x if ok else x.rechunk(x.chunksize)


def _zarr() -> Any:
    try:
        import zarr
    except ImportError as e:  # pragma: no cover - the [dask] extra
        raise ImportError("the Dask pipeline runner needs zarr-python 3: pip install 'zarr>=3'") from e
    if int(zarr.__version__.split(".")[0]) < 3:  # pragma: no cover
        raise ImportError(f"the Dask pipeline runner needs zarr-python 3, found {zarr.__version__}")
    return zarr


def _write_chunk(block: np.ndarray, array_path: str, region: tuple, marker: str) -> int:
    """Writes one chunk into the Zarr array, then its marker (atomically:
    written beside it and renamed), so that a marker means a whole chunk."""
    import zarr

    zarr.open_array(array_path, mode="r+")[region] = block
    tmp = f"{marker}.tmp-{os.getpid()}"
    Path(tmp).write_text("")
    os.replace(tmp, marker)
    return int(block.size)


class _Store:
    """An OME-Zarr image written chunk by chunk in a work directory and
    moved to its place when complete."""

    def __init__(self, work: Path, name: str, x: "da.Array", spacing: list[float], attrs: dict) -> None:
        zarr = _zarr()
        self.path = work / name
        self.done = work / f"{name}.done"
        meta = self.path / "0" / "zarr.json"
        ok = meta.is_file() and self._matches(json.loads(meta.read_text()), x)
        if not ok:
            shutil.rmtree(self.path, ignore_errors=True)
            shutil.rmtree(self.done, ignore_errors=True)
            g = zarr.open_group(str(self.path), mode="w", zarr_format=3)
            g.attrs.update(attrs)
            g.create_array(
                "0", shape=x.shape, chunks=x.chunksize, dtype=x.dtype, fill_value=0, dimension_names=["z", "y", "x"]
            )
        self.done.mkdir(parents=True, exist_ok=True)
        self.scale = spacing

    @staticmethod
    def _matches(meta: dict, x: "da.Array") -> bool:
        grid = meta.get("chunk_grid", {}).get("configuration", {}).get("chunk_shape")
        return meta.get("shape") == list(x.shape) and grid == list(x.chunksize) and meta.get("data_type") == str(x.dtype)

    def pending(self, x: "da.Array") -> list:
        """Tasks writing the chunks that have no marker yet."""
        blocks = x.to_delayed()
        starts = [np.concatenate([[0], np.cumsum(c)]).astype(int) for c in x.chunks]
        tasks = []
        for idx in np.ndindex(blocks.shape):
            marker = self.done / ".".join(map(str, idx))
            if marker.exists():
                continue
            region = tuple(slice(int(starts[k][i]), int(starts[k][i + 1])) for k, i in enumerate(idx))
            tasks.append(dask.delayed(_write_chunk)(blocks[idx], str(self.path / "0"), region, str(marker)))
        return tasks

    def finish(self, out: Path, provenance: dict) -> None:
        """Adds the finished provenance and moves the store to `out`."""
        import zarr

        g = zarr.open_group(str(self.path), mode="r+")
        attrs = dict(g.attrs)
        attrs["chemomech"] = {"provenance": provenance}
        g.attrs.put(attrs)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, out)
        shutil.rmtree(self.done, ignore_errors=True)


def _ome_attrs(name: str, spacing: list[float]) -> dict:
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    ds = [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": list(spacing)}]}]
    return {"ome": {"version": "0.5", "multiscales": [{"name": name, "axes": axes, "datasets": ds}]}}


# ---------------------------------------------------------------- running


class _Dispatcher:
    """Offered every stage that must run (by the engine's runner): runs the
    stages it has a Dask form for on `client`, declines the others."""

    def __init__(self, client: Any, chunks: Any, progress: Progress | None) -> None:
        self.client = client
        self.chunks = chunks
        self.progress = progress
        self.ran: dict[str, str] = {}
        self.started = _now()

    def __call__(self, kind: str, name: str, params_json: str, out: str, work: str) -> str | None:
        params = json.loads(params_json)
        stage = _STAGES.get(kind)
        if stage is None or Path(out).suffix.lower() != ".zarr":
            self.ran[name] = "local"
            return None
        t0 = time.time()
        started = self.started = _now()
        result = stage(self, name, params, Path(out), Path(work))
        if result is None:
            self.ran[name] = "local"
            return None
        summary, headline, store_info = result
        self.ran[name] = "dask"
        summary["seconds"] = time.time() - t0
        summary["executor"] = {"kind": "dask", "scheduler": self._scheduler(), **store_info}
        summary["provenance"] = _provenance(kind, params, started, summary["executor"])
        return json.dumps({"summary": summary, "headline": headline + " (dask)"})

    def _scheduler(self) -> str:
        return "threads (no client)" if self.client is None else str(self.client.scheduler.address)

    def store(self, name: str, x: "da.Array", out: Path, work: Path, spacing: list[float], kind: str, params: dict) -> dict:
        """Writes `x` chunk by chunk (resuming) and moves it to `out`."""
        x = _regular(x)
        work.mkdir(parents=True, exist_ok=True)
        st = _Store(work, out.name, x, spacing, _ome_attrs(out.stem, spacing))
        tasks = st.pending(x)
        n = int(np.prod(x.numblocks))
        self.run(tasks, f"{name}: chunks", n, n - len(tasks))
        st.finish(out, _provenance(kind, params, self.started, {"kind": "dask", "scheduler": self._scheduler()}))
        return {"chunks": n, "chunk_shape": list(x.chunksize), "chunks_written": len(tasks), "chunks_resumed": n - len(tasks)}

    def run(self, tasks: list, label: str, total: int, done: int) -> None:
        """Computes `tasks` on the cluster, reporting each as it finishes;
        the progress callback returning False cancels the rest."""
        self._report(label, done, total)
        if not tasks:
            return
        if self.client is None:
            dask.compute(*tasks)
            self._report(label, total, total)
            return
        from distributed import as_completed

        futures = self.client.compute(tasks)
        try:
            for f in as_completed(futures):
                f.result()
                done += 1
                if self._report(label, done, total) is False:
                    raise _core.Cancelled(f"cancelled in {label.split(':')[0]} after {done} of {total} chunks")
        finally:
            self.client.cancel(futures)

    def _report(self, label: str, done: int, total: int) -> Any:
        return None if self.progress is None else self.progress(label, done, total)

    def compute(self, *values: Any) -> tuple:
        if self.client is None:
            return dask.compute(*values)
        return tuple(self.client.compute(list(values), sync=True))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _provenance(kind: str, params: dict, started: str, executor: dict) -> dict:
    return {
        "tool": "chemomech",
        "version": _core.__version__,
        "stage": kind,
        "parameters": params,
        "executor": executor,
        "started_utc": started,
        "finished_utc": _now(),
    }


# ------------------------------------------------------------------ stages


def _denoised(v: "da.Array", how: str, spacing: list[float]) -> "da.Array | None":
    kind, _, arg = how.partition(":")
    if kind == "none":
        return v
    if kind == "gaussian":
        return cd.gaussian(v, float(arg), spacing)
    if kind == "median":
        return cd.median(v, int(arg))
    return None


def _phases_block(block: np.ndarray, t: tuple, two: bool) -> np.ndarray:
    """The engine's threshold rule (compared in f64; non-finite = pore)."""
    x = block.astype(np.float64)
    out = np.where(x > t[0], np.uint8(2) if two else np.where(x > t[1], np.uint8(2), np.uint8(1)), np.uint8(0))
    return np.where(np.isfinite(x), out, np.uint8(0)).astype(np.uint8)


def _fractions_block(block: np.ndarray) -> np.ndarray:
    return np.bincount(block.ravel(), minlength=3)[:3].reshape(1, 1, 1, 3).astype(np.int64)


def _segment(d: _Dispatcher, name: str, p: dict, out: Path, work: Path) -> tuple | None:
    if p["method"] not in ("iso50", "otsu", "multiotsu"):
        return None
    v, spacing = _open(p["volume"], p.get("dataset"), p.get("voxel_um"), d.chunks)
    if spacing is None:
        raise ValueError(f"{p['volume']}: the file states no voxel size; give voxel_um")
    v = _denoised(v.astype(np.float32), p["denoise"], spacing)
    if v is None:
        return None
    method = p["method"]
    t = cd.threshold_iso50(v, 3) if method == "iso50" else cd.threshold_otsu(v, 2 if method == "otsu" else 3)
    phases = v.map_blocks(_phases_block, tuple(t), method == "otsu", dtype=np.uint8)
    info = d.store(name, phases, out, work, spacing, "segment", p)
    written = da.from_zarr(str(out), component="0")
    h = written.map_blocks(_fractions_block, dtype=np.int64, chunks=(1, 1, 1, 3), new_axis=3)
    counts = d.compute(h.sum(axis=(0, 1, 2)))[0].astype(float)
    f = counts / counts.sum()
    summary = {
        "stage": "segment",
        "output": str(out),
        "shape": list(v.shape),
        "spacing_um": spacing,
        "volume_fractions": {"pore": f[0], "carbon_binder": f[1], "active": f[2]},
        "method": {"thresholds": [float(x) for x in t]},
    }
    head = f"pore {f[0]:.3f}, carbon-binder {f[1]:.3f}, active {f[2]:.3f}"
    return summary, head, info


def _mask(v: "da.Array", phase: float | None) -> "da.Array":
    return v != 0 if phase is None else v.astype(np.float32).astype(np.float64) == phase


def _morph(d: _Dispatcher, name: str, p: dict, out: Path, work: Path) -> tuple | None:
    op = p["op"]
    if op not in ("label", "edt", "median"):
        return None
    v, spacing = _open(p["volume"], p.get("dataset"), p.get("voxel_um"), d.chunks)
    spacing = spacing or [1.0, 1.0, 1.0]
    extra: dict = {}
    if op == "label":
        conn = int(str(p["connectivity"]).lstrip("C"))
        m = _mask(v, p.get("phase"))
        m = _regular(m)
        counts, table = _label_table(d, m, conn, work)
        result = cd._label_apply(m, conn, counts, table)
        op_json: Any = {"Label": f"C{conn}"}
        extra["n_components"] = int(table.max()) if table.size else 0
    elif op == "edt":
        result = cd.edt(_mask(v, p.get("phase")), spacing)
        op_json = "Edt"
    else:
        r = int(p["radius"])
        if not 1 <= r <= 10:
            raise ValueError(f"median radius must be 1–10 voxels, got {r}")
        result = cd.median(v.astype(np.float32), r)
        op_json = {"Median": r}
    t0 = time.time()
    info = d.store(name, result, out, work, spacing, "morph", p)
    seconds = time.time() - t0
    summary = {
        "stage": "morph",
        "op": op_json,
        "output": str(out),
        "shape": list(v.shape),
        "spacing_um": spacing,
        "seconds_compute": seconds,
        "seconds_runs": [seconds],
        **extra,
    }
    return summary, f"{op} → {out} in {seconds:.2f} s", info


def _label_table(d: _Dispatcher, m: "da.Array", conn: int, work: Path) -> tuple[list, np.ndarray]:
    """The chunks' component counts and the equivalence table, computed once
    and kept in the work directory (a resumed run does not label again)."""
    saved = work / f"label-table-{'x'.join(map(str, m.chunksize))}.npz"
    if saved.is_file():
        z = np.load(saved)
        return z["counts"].tolist(), z["table"]
    counts, table = d.compute(*cd._label_plan(m, conn))
    work.mkdir(parents=True, exist_ok=True)
    tmp = work / f".{saved.name}.tmp-{os.getpid()}.npz"
    np.savez(tmp, counts=np.asarray(counts, np.int64), table=table)
    os.replace(tmp, saved)
    return list(counts), table


_STAGES: dict[str, Callable[..., tuple | None]] = {"segment": _segment, "morph": _morph}


# --------------------------------------------------------------- the call


def _client(client: Any) -> Any:
    """A distributed Client from an address, the one given, or the
    session's default (None: Dask's local threaded scheduler)."""
    if isinstance(client, str):
        from distributed import Client

        return Client(client)
    if client is not None:
        return client
    try:
        from distributed import default_client

        return default_client()
    except (ImportError, ValueError):
        return None


def run_pipeline(
    path: Any,
    out: Any = None,
    *,
    client: Any = None,
    chunks: Any = None,
    progress: Progress | None = None,
) -> dict:
    """Runs a TOML pipeline with its volume stages on a Dask cluster.

    The same pipeline file as ``chemomech run`` and
    :func:`chemomech.run_pipeline`, with the same cache and resume rules.
    A stage runs on the cluster when it has a Dask form and its output file
    (``out``) is named ``*.zarr``: ``segment`` (iso50, otsu, multiotsu;
    denoise none, gaussian, median) and ``morph`` (label, edt, median). Its
    output is written chunk by chunk into the stage's work directory, each
    chunk followed by a marker, so an interrupted stage resumes at the
    chunks it had not finished. The other stages run here, in this process.

    Parameters
    ----------
    path : str or os.PathLike
        The pipeline file.
    out : str or os.PathLike, optional
        Run directory (default: ``[pipeline] out``, else ``STEM-run``). The
        workers must see it at the same path (a shared file system).
    client : distributed.Client or str, optional
        The cluster, or its scheduler's address (``tcp://host:8786``).
        Default: the session's default client, else Dask's threaded
        scheduler in this process.
    chunks : int, tuple or dict, optional
        Rechunk the stages' inputs (default: a Zarr input's own chunks;
        ``"auto"`` for other files).
    progress : callable, optional
        ``progress(label, done, total)``: stages as they start, and chunks as
        they are written. Returning False cancels (:class:`chemomech.Cancelled`);
        the chunks already written are kept for the next run.

    Returns
    -------
    run : dict
        ``run.json``; each stage's summary has ``executor`` (``dask``: the
        scheduler, chunk shape, chunks written and resumed) when it ran on
        the cluster.

    Examples
    --------
    >>> from distributed import Client, LocalCluster  # doctest: +SKIP
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> run = chemomech.dask.run_pipeline("big.toml", "big-run", client=client)  # doctest: +SKIP
    >>> [(s["name"], s["summary"].get("executor", {}).get("kind", "local")) for s in run["stages"]]  # doctest: +SKIP
    [('segment', 'dask'), ('label', 'dask'), ('stats', 'local')]
    """
    if progress is not None and not callable(progress):
        raise ValueError(f"progress must be callable, got {type(progress).__name__}")
    d = _Dispatcher(_client(client), chunks, progress)
    return _core.run_pipeline(os.fspath(path), None if out is None else os.fspath(out), progress, d)
