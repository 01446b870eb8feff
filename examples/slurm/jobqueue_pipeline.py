"""A TOML pipeline on a Slurm cluster through dask-jobqueue: the client (and
the stages without a Dask form) on a login node, the volume stages on
workers in Slurm jobs.

    pip install 'chemomech[dask]'
    python jobqueue_pipeline.py pipeline.toml run-dir

The run directory must be on a file system the workers share. Rerunning
the same command skips finished stages and resumes an interrupted one at
the chunks it had not written.
"""

import sys

import distributed

import chemomech.dask as cmd

if __name__ == "__main__":
    cluster = cmd.slurm_cluster(cores=32, memory="128GB", queue="normal", account="battery", walltime="02:00:00")
    cluster.scale(jobs=8)
    with distributed.Client(cluster) as client:
        run = cmd.run_pipeline(sys.argv[1], sys.argv[2], client=client)
    for s in run["stages"]:
        print(s["name"], "cached" if s["cached"] else f"{s['seconds']:.1f} s", s["summary"].get("executor", {}).get("kind", "here"))
    cluster.close()
