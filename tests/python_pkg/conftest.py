"""Tests of the INSTALLED chemomech package (run by tools/pytest-pkg.sh):
they refuse to run against the source tree's python/ folder."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    import chemomech

    where = Path(chemomech.__file__).resolve()
    if (ROOT / "python") in where.parents:
        raise pytest.UsageError(
            f"chemomech is imported from the source tree ({where}), not from an installed wheel: "
            "run bash tools/pytest-pkg.sh"
        )


@pytest.fixture(scope="session")
def shared():
    """The shared real-data folder (../shared/data, or CHEMOMECH_SHARED_DATA)."""
    env = os.environ.get("CHEMOMECH_SHARED_DATA")
    if env:
        return Path(env)
    for a in [ROOT, *ROOT.parents]:
        if (a / "shared" / "data" / "README.md").is_file():
            return a / "shared" / "data"
    pytest.skip("shared data folder not found (../shared/data or CHEMOMECH_SHARED_DATA)")


@pytest.fixture(scope="session")
def client():
    """A Dask LocalCluster of 2 worker processes × 1 thread, shared by the Dask tests."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()
