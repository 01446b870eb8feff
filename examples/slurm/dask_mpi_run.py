"""The client script of dask_mpi.sbatch (run on every rank by srun)."""

import sys

import dask.array as da
import distributed
from dask_mpi import initialize

import chemomech.dask as cmd

# Workers: one thread each, memory limit from Slurm's --mem-per-cpu.
initialize(nthreads=1, memory_limit="auto")
client = distributed.Client()
if sys.argv[1].endswith(".toml"):
    # A pipeline (e.g. pipeline.toml here) into the run directory argv[2].
    cmd.run_pipeline(sys.argv[1], sys.argv[2], client=client)
else:
    vol = da.from_zarr(sys.argv[1], component="0")
    labels = cmd.label(vol > cmd.threshold_otsu(vol)[0], connectivity=26)
    labels.to_zarr("labels.zarr", overwrite=True)
