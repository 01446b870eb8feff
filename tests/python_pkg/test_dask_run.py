"""The distributed pipeline runner (chemomech.dask.run_pipeline,
``python -m chemomech run --dask``, ``chemomech run --dask``) on a
LocalCluster: the same pipeline file as the local runner, the same outputs,
its cache, and chunk-by-chunk resume after an interruption."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask.array")
pytest.importorskip("distributed")
pytest.importorskip("zarr")

import chemomech as cm  # noqa: E402
import chemomech.dask as cmd  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CHEMOMECH_BIN", str(ROOT / "target" / "release" / "chemomech"))

PIPELINE = """
[pipeline]
name = "dask-parity"

[[stage]]
run = "segment"
volume = "grey.zarr"
out = "phases.zarr"

[[stage]]
name = "label"
run = "morph"
op = "label"
volume = "@segment/phases.zarr"
phase = 2
out = "labels.zarr"

[[stage]]
name = "edt"
run = "morph"
op = "edt"
volume = "@segment/phases.zarr"
phase = 2
out = "edt.zarr"

[[stage]]
name = "median"
run = "morph"
op = "median"
volume = "grey.zarr"
out = "median.zarr"

# No Dask form: runs in the calling process.
[[stage]]
name = "watershed"
run = "morph"
op = "watershed"
volume = "@segment/phases.zarr"
phase = 2
out = "watershed.tiff"
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    d = tmp_path_factory.mktemp("dask_run")
    # Particles span several chunks of the odd shape used below.
    p = cm.phantom("agglomerate+holo", seed=4, size=56)
    cm.write_ome_zarr(d / "grey.zarr", p["image"], p["spacing_um"])
    (d / "p.toml").write_text(PIPELINE)
    local = cm.run_pipeline(d / "p.toml", d / "local")
    return d, local


def read(path):
    return cm.read(str(path))[0]


def one_to_one(a, b):
    assert a.shape == b.shape
    assert np.array_equal(a != 0, b != 0)
    pairs = np.unique(np.stack([a.ravel(), b.ravel()]), axis=1)
    assert pairs.shape[1] == len(np.unique(a)) == len(np.unique(b))


def where(run):
    return {s["name"]: s["summary"].get("executor", {}).get("kind", "here") for s in run["stages"]}


def test_stages_on_dask_equal_the_local_run(pipeline, client):
    d, local = pipeline
    run = cmd.run_pipeline(d / "p.toml", d / "dask", client=client, chunks=(20, 23, 17))
    assert where(run) == {"segment": "dask", "label": "dask", "edt": "dask", "median": "dask", "watershed": "here"}
    loc = {s["name"]: s["summary"] for s in local["stages"]}
    got = {s["name"]: s["summary"] for s in run["stages"]}
    assert got["segment"]["method"] == loc["segment"]["method"]
    assert got["segment"]["volume_fractions"] == pytest.approx(loc["segment"]["volume_fractions"], abs=1e-12)
    assert got["label"]["n_components"] == loc["label"]["n_components"] > 5
    assert got["segment"]["executor"]["chunks"] == 3 * 3 * 4
    assert np.array_equal(read(d / "local/segment/phases.zarr"), read(d / "dask/segment/phases.zarr"))
    one_to_one(read(d / "local/label/labels.zarr"), read(d / "dask/label/labels.zarr"))
    assert np.array_equal(read(d / "local/edt/edt.zarr"), read(d / "dask/edt/edt.zarr"))
    assert np.array_equal(read(d / "local/median/median.zarr"), read(d / "dask/median/median.zarr"))
    assert np.array_equal(read(d / "local/watershed/watershed.tiff"), read(d / "dask/watershed/watershed.tiff"))
    # Provenance in the OME-Zarr output, spacing as the input's.
    attrs = json.loads((d / "dask/segment/phases.zarr/zarr.json").read_text())["attributes"]
    assert attrs["chemomech"]["provenance"]["executor"]["kind"] == "dask"
    scale = attrs["ome"]["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == pytest.approx(got["segment"]["spacing_um"])
    # No work directories are left behind; a second run is cached.
    assert not [p.name for p in (d / "dask").iterdir() if ".work-" in p.name]
    again = cmd.run_pipeline(d / "p.toml", d / "dask", client=client, chunks=(20, 23, 17))
    assert all(s["cached"] for s in again["stages"])


def test_an_interrupted_stage_resumes_at_its_unwritten_chunks(pipeline, client):
    d, _ = pipeline
    out = d / "resume"
    stop = {"at": ("segment: chunks", 5)}

    def progress(label, done, total):
        at = stop["at"]
        return not (at is not None and label == at[0] and done >= at[1])

    with pytest.raises(cm.Cancelled):
        cmd.run_pipeline(d / "p.toml", out, client=client, chunks=(20, 23, 17), progress=progress)
    work = [p for p in out.iterdir() if p.name.startswith(".segment.work-")]
    assert len(work) == 1
    written = len(list((work[0] / "phases.zarr.done").iterdir()))
    assert 5 <= written < 36
    # The label stage stops after its table is computed and kept.
    stop["at"] = ("label: chunks", 3)
    with pytest.raises(cm.Cancelled):
        cmd.run_pipeline(d / "p.toml", out, client=client, chunks=(20, 23, 17), progress=progress)
    seg = json.loads((out / "segment/stage.json").read_text())["summary"]["executor"]
    assert seg["chunks_resumed"] >= written and seg["chunks_written"] == 36 - seg["chunks_resumed"]
    label_work = [p for p in out.iterdir() if p.name.startswith(".label.work-")]
    assert len(label_work) == 1 and list(label_work[0].glob("label-table-*.npz"))
    stop["at"] = None
    run = cmd.run_pipeline(d / "p.toml", out, client=client, chunks=(20, 23, 17), progress=progress)
    lab = next(s for s in run["stages"] if s["name"] == "label")
    assert lab["summary"]["executor"]["chunks_resumed"] >= 3
    one_to_one(read(d / "local/label/labels.zarr"), read(out / "label/labels.zarr"))
    assert np.array_equal(read(d / "local/segment/phases.zarr"), read(out / "segment/phases.zarr"))
    assert not [p.name for p in out.iterdir() if ".work-" in p.name]


def test_command_lines_run_on_a_local_cluster(pipeline):
    d, _ = pipeline
    r = subprocess.run(
        [sys.executable, "-m", "chemomech", "run", str(d / "p.toml"), "--out", str(d / "cli"), "--dask", "local", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    run = json.loads(r.stdout)
    assert where(run)["segment"] == "dask" and run["complete"]
    assert np.array_equal(read(d / "local/segment/phases.zarr"), read(d / "cli/segment/phases.zarr"))
    # A bad pipeline: one line, non-zero exit, nothing run.
    (d / "bad.toml").write_text('[[stage]]\nrun = "segment"\nvolume = "grey.zarr"\nnot_a_key = 1\n')
    r = subprocess.run([sys.executable, "-m", "chemomech", "run", str(d / "bad.toml"), "--dask", "local"], capture_output=True, text=True)
    assert r.returncode != 0 and "not_a_key" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_the_engine_cli_hands_dask_runs_to_the_package(pipeline):
    if not Path(BIN).is_file():
        pytest.skip(f"the chemomech CLI is not built ({BIN}; set CHEMOMECH_BIN)")
    d, _ = pipeline
    env = {**os.environ, "CHEMOMECH_PYTHON": sys.executable}
    r = subprocess.run(
        [BIN, "run", str(d / "p.toml"), "--out", str(d / "bin"), "--dask", "local", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert where(json.loads(r.stdout))["label"] == "dask"
    env["CHEMOMECH_PYTHON"] = "/nonexistent/python"
    r = subprocess.run([BIN, "run", str(d / "p.toml"), "--dask", "local"], capture_output=True, text=True, env=env)
    assert r.returncode != 0 and "chemomech[dask]" in r.stderr


def test_the_slurm_example_pipeline_runs(tmp_path, client):
    import shutil

    shutil.copy(ROOT / "examples/slurm/pipeline.toml", tmp_path)
    p = cm.phantom("dense+clean", seed=2, size=40, voxel_um=0.1)
    cm.write_ome_zarr(tmp_path / "electrode.ome.zarr", p["image"], p["spacing_um"])
    run = cmd.run_pipeline(tmp_path / "pipeline.toml", tmp_path / "run", client=client, chunks=16)
    assert set(where(run).values()) == {"dask"}
    d = read(tmp_path / "run/distance/distance_um.zarr")
    assert d.max() > 0.2  # µm: the spacing came from the OME metadata
