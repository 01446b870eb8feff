# Type stubs of the Rust module chemomech._core (crates/py/src/lib.rs).
# The arrays are exactly 3-D (z, y, x) of the dtype named; the checked,
# documented API is in chemomech (python/chemomech/_api.py).

from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

def label(
    mask: npt.NDArray[np.bool_], connectivity: int = 26, threads: int | None = None
) -> tuple[npt.NDArray[np.uint32], int]: ...
def edt(
    mask: npt.NDArray[np.bool_], spacing_um: tuple[float, float, float], threads: int | None = None
) -> npt.NDArray[np.float32]: ...
def gaussian(
    volume: npt.NDArray[np.float32],
    sigma_um: float,
    spacing_um: tuple[float, float, float],
    threads: int | None = None,
) -> npt.NDArray[np.float32]: ...
def median(volume: npt.NDArray[np.float32], radius: int, threads: int | None = None) -> npt.NDArray[np.float32]: ...
def segment(
    volume: npt.NDArray[np.float32],
    spacing_um: tuple[float, float, float],
    method: str = "iso50",
    denoise: str = "none",
    threads: int | None = None,
) -> tuple[npt.NDArray[np.uint8], list[float]]: ...
def separate_particles(
    solid: npt.NDArray[np.bool_],
    spacing_um: tuple[float, float, float],
    crack_close_um: float | None = None,
    h_um: float | None = None,
    min_volume_um3: float | None = None,
    split: bool = True,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.uint32], dict[str, Any]]: ...
def particle_metrics(
    labels: npt.NDArray[np.uint32],
    phases: npt.NDArray[np.uint8],
    spacing_um: tuple[float, float, float],
    mild: float = 0.03,
    severe: float = 0.15,
    threads: int | None = None,
) -> tuple[dict[str, npt.NDArray[Any] | list[str]], dict[str, str]]: ...
def read(path: str, dataset: str | None = None) -> tuple[Any, dict[str, Any]]: ...
def xas_normalize(
    energy_ev: npt.NDArray[np.float64],
    mu: npt.NDArray[np.float64],
    e0: float | None = None,
    step: float | None = None,
    pre1: float | None = None,
    pre2: float | None = None,
    norm1: float | None = None,
    norm2: float | None = None,
    nnorm: int | None = None,
    nvict: int = 0,
) -> dict[str, Any]: ...
def xas_lcf(
    energy_ev: npt.NDArray[np.float64],
    mu: npt.NDArray[np.float64],
    names: list[str],
    ref_energies: list[npt.NDArray[np.float64]],
    ref_mus: list[npt.NDArray[np.float64]],
    sum_to_one: bool = True,
    nonnegative: bool = True,
    max_shift_ev: float = 0.0,
    emin: float | None = None,
    emax: float | None = None,
) -> dict[str, Any]: ...
def phantom(
    preset: str = "mixed+clean",
    seed: int = 1,
    size: int | None = None,
    slice: bool = False,
    voxel_um: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]: ...
def watershed(
    cost: npt.NDArray[np.float32],
    markers: npt.NDArray[np.uint32],
    mask: npt.NDArray[np.bool_],
    connectivity: int = 26,
    threads: int | None = None,
) -> npt.NDArray[np.uint32]: ...
def tortuosity(
    phase: npt.NDArray[np.bool_],
    spacing_um: tuple[float, float, float],
    axis: int = 0,
    rtol: float = 1e-8,
    max_iter: int = 20000,
    flux_tol: float = 1e-4,
    threads: int | None = None,
) -> dict[str, Any]: ...
