"""chemomech.dask on a Slurm cluster through dask-jobqueue: the client runs
on a login node (or in a notebook), workers run as Slurm jobs.

    pip install 'chemomech[dask]'        # dask, distributed, dask-jobqueue
    python jobqueue.py electrode.ome.zarr

Threads and memory: each job gets `cores` CPUs and runs `cores` worker
processes of one thread each; every chemomech call runs one rayon thread
per Dask thread (the module's default `threads=1`), so nothing
oversubscribes. A task holds about 4× its chunk plus halo: with 256³
float32 chunks (64 MB) and a Gaussian halo of 8 voxels, ~300 MB per
thread; `memory` per job must cover cores × that, plus the worker's own
overhead (~200 MB).
"""

import sys

import dask.array as da
import distributed

import chemomech.dask as cmd

if __name__ == "__main__":
    cluster = cmd.slurm_cluster(cores=32, memory="128GB", queue="normal", account="battery", walltime="02:00:00")
    print(cluster.job_script())
    cluster.scale(jobs=8)  # 8 nodes × 32 workers
    client = distributed.Client(cluster)
    vol = da.from_zarr(sys.argv[1], component="0")  # an OME-Zarr image written by chemomech
    smooth = cmd.gaussian(vol, sigma_um=0.2, spacing_um=0.05)
    phases_ok = smooth > cmd.threshold_otsu(smooth)[0]
    labels = cmd.label(phases_ok, connectivity=26)
    labels.to_zarr("labels.zarr", overwrite=True)  # chunk by chunk, on the workers
    client.close()
    cluster.close()
