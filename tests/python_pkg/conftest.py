"""Tests of the INSTALLED chemomech package (run by tools/pytest-pkg.sh):
they refuse to run against the source tree's python/ folder."""

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
