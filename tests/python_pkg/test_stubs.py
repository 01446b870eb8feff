"""The type stubs of chemomech._core agree with the built module
(mypy's stubtest: every function's name, parameters and defaults), and the
package ships them with its py.typed marker."""

import subprocess
import sys
from pathlib import Path

import pytest

import chemomech


def test_stubtest_passes_on_the_installed_module():
    pytest.importorskip("mypy")
    pkg = Path(chemomech.__file__).parent
    assert (pkg / "py.typed").is_file() and (pkg / "_core.pyi").is_file()
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "chemomech._core"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
