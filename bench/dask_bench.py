"""chemomech.dask against the in-memory engine (issue 25's bench): a 512³
volume in 256³ chunks on a LocalCluster of 2 workers × 1 thread, against
the same calls on the whole volume with 2 threads, side by side in one run;
each result is checked against the in-memory one.

    python bench/dask_bench.py [--n 512] [--chunk 256]
    python bench/dask_bench.py --big      # 640³ through Zarr with 250 MB workers:
                                          # label → separate → moments

(Not named dask.py: the script's folder comes first on sys.path.)

Needs the package with its [dask] extra (pip install '.[dask]').
"""

import argparse
import time

import numpy as np

import chemomech as cm


def timed(f):
    t0 = time.perf_counter()
    r = f()
    return time.perf_counter() - t0, r


def main():
    import dask.array as da
    import distributed

    import chemomech.dask as cmd

    ap = argparse.ArgumentParser()
    ap.add_argument("--big", action="store_true")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--chunk", type=int, default=256)
    a = ap.parse_args()
    n, c = a.n, a.chunk
    rng = np.random.default_rng(0)
    # A two-phase volume of blobs: smoothed noise, thresholded at its median.
    grey = cm.gaussian(rng.random((n, n, n), dtype=np.float32), 3.0, threads=2)
    mask = grey > np.median(grey[:: 4, :: 4, :: 4])
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, memory_limit="6GB")
    client = distributed.Client(cluster)
    try:
        g = da.from_array(grey, chunks=c).persist()
        m = da.from_array(mask, chunks=c).persist()
        distributed.wait([g, m])
        rows = []
        def on_workers(x):
            # The result stays in the workers' memory, as it would before
            # being written to Zarr chunk by chunk; gathering 512 MB to the
            # client is timed apart.
            x = x.persist()
            distributed.wait(x)
            return x

        for name, native, dist, exact in [
            ("gaussian σ=2", lambda: cm.gaussian(grey, 2.0, threads=2), lambda: on_workers(cmd.gaussian(g, 2.0)), True),
            ("median r=1", lambda: cm.median(grey, 1, threads=2), lambda: on_workers(cmd.median(g, 1)), True),
            ("label 26", lambda: cm.label(mask, 26, threads=2), lambda: on_workers(cmd.label(m, 26)), False),
            ("edt", lambda: cm.edt(mask, 1.0, threads=2), lambda: on_workers(cmd.edt(m, 1.0)), True),
        ]:
            tn, rn = timed(native)
            td, rd = timed(dist)
            tg, rd = timed(rd.compute)
            print(f"{'':>14}  (gathering the result to the client: {tg:.2f} s more)")
            if exact:
                ok = np.array_equal(rn, rd)
            else:
                ok = bool(rn.max() == rd.max() and np.array_equal(rn == 0, rd == 0))
            rows.append((name, tn, td, td / tn, ok))
            print(f"{name:>14}: native {tn:6.2f} s, dask {td:6.2f} s, ratio {td / tn:5.2f}, equal: {ok}", flush=True)
        # The particles chain on a simulated electrode: separation (halo of
        # the largest radius) and moments, against the in-memory calls.
        p = cm.phantom("mixed+clean", seed=1, size=min(n, 256))
        solid, sp = p["phases"] == 2, p["spacing_um"]
        rmax = 1.3 * float(np.max(p["truth"]["esd_um"])) / 2
        sc = max(64, min(n, 256) // 2)
        tn, want = timed(lambda: cm.particle_metrics(cm.separate_particles(solid, sp, threads=2), p["phases"], sp, as_frame=False, threads=2))
        s_da = da.from_array(solid, chunks=sc).persist()

        def chain():
            lab, seams = cmd.separate_particles(s_da, sp, max_radius_um=rmax)
            lab = on_workers(lab)
            return cmd.particle_moments(lab, sp), seams.compute()

        td, (table, seams) = timed(chain)
        print(
            f"particles chain ({min(n, 256)}³ phantom, {sc}³ chunks): native {tn:6.2f} s, dask {td:6.2f} s, "
            f"ratio {td / tn:5.2f}; particles {len(want['id'])} in memory, {len(table['id'])} Dask; seam voxels {seams}",
            flush=True,
        )
    finally:
        client.close()
        cluster.close()
    print(f"\n{n}³ float32 in {c}³ chunks, LocalCluster 2 workers × 1 thread against 2 threads in memory")


def big(n: int, chunk: int, limit: str, sep_chunk: int = 96):
    """Larger than a worker: a mask of blobs made on the workers and stored
    as Zarr, labelled into Zarr chunk by chunk, separated into particles
    (halo of the largest radius) into Zarr, then measured by moments;
    workers limited to `limit` each. Reports the peak memory of each
    worker."""
    import os
    import shutil
    import tempfile

    import dask.array as da
    import distributed
    from distributed.diagnostics import MemorySampler

    import chemomech.dask as cmd

    import dask

    tmp = tempfile.mkdtemp(prefix="chemomech-dask-big-")
    # glibc raises its mmap threshold as large blocks are freed, after which
    # the engine's working arrays come from the heap and freed memory is not
    # returned to the system: the workers' "unmanaged" memory then stays
    # near the limit, they pause, and nothing can be spilled. A fixed
    # threshold keeps large arrays in mmap, returned on free.
    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 65536})
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, memory_limit=limit)
    client = distributed.Client(cluster)
    ms = MemorySampler()
    path = lambda name: os.path.join(tmp, name)  # noqa: E731
    try:
        with ms.sample("big", measure="process"):
            noise = da.random.default_rng(0).random((n, n, n), chunks=chunk, dtype=np.float32)
            # Blobs (29 % of the volume) that touch in clusters (the
            # smoothed noise's upper tail), for the separation to split.
            t_mask, _ = timed(lambda: (cmd.gaussian(noise, 3.0) > 0.505).to_zarr(path("mask.zarr")))
            m = da.from_zarr(path("mask.zarr"))
            t_label, _ = timed(lambda: cmd.label(m, 26).to_zarr(path("labels.zarr")))
            lab = da.from_zarr(path("labels.zarr"))
            # Separation in smaller chunks: each task holds its chunk with a
            # halo of 13 voxels and the engine's working arrays (~20 bytes
            # per voxel), beside a worker process of ~130 MB.
            sep, seams = cmd.separate_particles(m.rechunk(sep_chunk), 1.0, max_radius_um=12.0)
            # The seams' count in the same computation as the store (it
            # depends on every core's reconciliation).
            t_sep, (_, n_seams) = timed(
                lambda: dask.compute(sep.to_zarr(path("particles.zarr"), compute=False), seams)
            )
            print(f"  mask {t_mask:.1f} s, labels {t_label:.1f} s, separation {t_sep:.1f} s", flush=True)
            t_mom, table = timed(lambda: cmd.particle_moments(da.from_zarr(path("particles.zarr")), 1.0))
        peak = ms.to_pandas().max().iloc[0] / 2 / 1e6  # both workers sampled together
        per_worker = client.run(lambda dask_worker: dask_worker.memory_manager.memory_limit)
        print(
            f"{n}³: mask {n**3 / 1e6:.0f} MB, labels {4 * n**3 / 1e6:.0f} MB (uint32), particles "
            f"{8 * n**3 / 1e6:.0f} MB (uint64), chunks {chunk}³ ({sep_chunk}³ for the separation), 2 workers limited to {limit} each "
            f"({list(per_worker.values())[0] / 1e6:.0f} MB)"
        )
        print(
            f"  mask to Zarr {t_mask:.1f} s; label to Zarr {t_label:.1f} s; separation to Zarr {t_sep:.1f} s "
            f"({n_seams} seam voxels); moments {t_mom:.1f} s; {len(table['id'])} particles"
        )
        print(f"  peak process memory per worker (mean of the two): {peak:.0f} MB")
        import zarr

        whole = zarr.open_array(path("mask.zarr"), mode="r")[:]  # read here, not through a worker
        want = cm.label(whole, 26, return_n=True)[1]
        print(f"  components: Dask {int(lab.max().compute())}, in memory {want}")
    finally:
        client.close()
        cluster.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys

    if "--big" in sys.argv:
        big(640, 128, sys.argv[sys.argv.index("--big") + 1] if len(sys.argv) > sys.argv.index("--big") + 1 else "250MB")
    else:
        main()
