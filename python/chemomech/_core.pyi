# Type stubs of the Rust module chemomech._core (crates/py/src/lib.rs).
# The arrays are exactly 3-D (z, y, x) of the dtype named; the checked,
# documented API is in chemomech (python/chemomech/_api.py).

from typing import Any, Callable, final

import numpy as np
import numpy.typing as npt

__version__: str
__all__ = [
    "Cancelled",
    "Classifier",
    "__version__",
    "check_pipeline",
    "classify",
    "ctf",
    "depth_profile",
    "edt",
    "edt_envelope",
    "edt_squared_x",
    "find_center",
    "gaussian",
    "histogram_in",
    "label",
    "median",
    "minus_log",
    "multi_otsu_histogram",
    "normalize",
    "paganin",
    "particle_metrics",
    "phantom",
    "read",
    "reconstruct",
    "remove_rings",
    "run_pipeline",
    "segment",
    "separate_particles",
    "severe_network",
    "simulate",
    "tortuosity",
    "train_classifier",
    "watershed",
    "write_ome_zarr",
    "write_tiff",
    "xanes_maps",
    "xanes_prepass_pixels",
    "xas_lcf",
    "xas_normalize",
]

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
def edt_squared_x(mask: npt.NDArray[np.bool_], w: float, threads: int | None = None) -> npt.NDArray[np.float32]: ...
def edt_envelope(
    squared: npt.NDArray[np.float32], axis: int, w: float, threads: int | None = None
) -> npt.NDArray[np.float32]: ...
def histogram_in(values: npt.NDArray[np.float32], lo: float, hi: float, bins: int) -> npt.NDArray[np.float64]: ...
def multi_otsu_histogram(counts: list[float], lo: float, hi: float, classes: int) -> list[float]: ...
def write_tiff(path: str, data: npt.NDArray[Any], spacing_um: list[float] | None = None, compress: bool = False) -> None: ...
def write_ome_zarr(
    path: str,
    image: npt.NDArray[Any],
    spacing_um: list[float] | None = None,
    labels: npt.NDArray[Any] | None = None,
    labels_name: str = "particles",
    properties: dict[str, Any] | None = None,
) -> None: ...
def depth_profile(
    table: dict[str, Any],
    thickness_um: float,
    window_um: float = 10.0,
    extra: str | None = None,
    bootstrap: int = 1000,
    seed: int = 1,
    mild: float = 0.03,
    severe: float = 0.15,
) -> dict[str, Any]: ...
def severe_network(table: dict[str, Any], k: int = 3) -> dict[str, Any]: ...
def normalize(
    projections: npt.NDArray[np.float32],
    flats: npt.NDArray[np.float32] | None = None,
    darks: npt.NDArray[np.float32] | None = None,
    flat_positions: list[float] | None = None,
    combine: str = "mean",
    threads: int | None = None,
) -> tuple[npt.NDArray[np.float32], dict[str, Any]]: ...
def minus_log(
    transmission: npt.NDArray[np.float32], threads: int | None = None
) -> tuple[npt.NDArray[np.float32], dict[str, Any]]: ...
def find_center(
    lines: npt.NDArray[np.float32],
    angles_deg: list[float],
    method: str = "vo",
    row: int | None = None,
    threads: int | None = None,
) -> float: ...
def remove_rings(
    lines: npt.NDArray[np.float32],
    method: str = "vo",
    size: int = 21,
    snr: float = 3.0,
    large_size: int = 51,
    level: int = 5,
    sigma: float = 2.0,
    threads: int | None = None,
) -> npt.NDArray[np.float32]: ...
def paganin(
    transmission: npt.NDArray[np.float32],
    energy_kev: float,
    distance_m: float,
    pixel_um: float,
    delta_beta: float,
    threads: int | None = None,
) -> npt.NDArray[np.float32]: ...
def ctf(
    holograms: list[npt.NDArray[np.float32]],
    energy_kev: float,
    distances_m: list[float],
    pixels_um: list[float],
    delta_beta: float,
    alpha_low: float = 1e-6,
    alpha_high: float = 1e-4,
    radians: bool = False,
    threads: int | None = None,
) -> tuple[npt.NDArray[np.float32], dict[str, Any]]: ...
def reconstruct(
    lines: npt.NDArray[np.float32],
    angles_deg: list[float],
    center: float,
    algorithm: str = "fbp",
    filter: str = "ramp",
    size: int | None = None,
    pixel_um: float | None = None,
    iterations: int | None = None,
    threads: int | None = None,
) -> npt.NDArray[np.float32]: ...
def xanes_maps(
    od: npt.NDArray[np.float32],
    energies_ev: list[float],
    names: list[str],
    ref_energies: list[list[float]],
    ref_mus: list[list[float]],
    params_json: str | None = None,
    progress: Callable[[str, int, int], Any] | None = None,
    sample: tuple[npt.NDArray[np.float64], int] | None = None,
    threads: int | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]: ...
def xanes_prepass_pixels(n_pixels: int) -> npt.NDArray[np.uintp]: ...
def simulate(
    preset: str = "small", seed: int | None = None, config: str | None = None, threads: int | None = None
) -> dict[str, Any]: ...
def check_pipeline(path: str) -> None: ...
def run_pipeline(
    path: str,
    out: str | None = None,
    progress: Callable[[str, int, int], Any] | None = None,
    dispatch: Callable[[str, str, str, str, str], str | None] | None = None,
) -> Any: ...

class Cancelled(Exception): ...

@final
class Classifier:
    @classmethod
    def from_json(cls, text: str) -> Classifier: ...
    def to_json(self) -> str: ...
    @property
    def classes(self) -> list[int]: ...
    @property
    def spacing_um(self) -> tuple[float, float, float]: ...
    @property
    def sigmas_um(self) -> list[float]: ...
    @property
    def halo(self) -> int: ...
    def __reduce__(self) -> tuple[Any, tuple[str]]: ...

def train_classifier(
    volume: npt.NDArray[np.float32],
    labels: npt.NDArray[np.uint8],
    spacing_um: tuple[float, float, float],
    sigmas_um: list[float] | None = None,
    trees: int = 50,
    seed: int = 1,
    max_samples: int = 20000,
    threads: int | None = None,
) -> Classifier: ...
def classify(
    volume: npt.NDArray[np.float32], model: Classifier, threads: int | None = None
) -> npt.NDArray[np.uint8]: ...
