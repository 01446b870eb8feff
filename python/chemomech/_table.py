"""Tables passed to the engine: a dict of columns or a pandas DataFrame."""

from __future__ import annotations

from typing import Any

import numpy as np


def _columns(table: Any, name: str = "table") -> dict:
    """A dict of 1-D columns the engine takes: float64, int64, uint64 or bool
    arrays, or lists of str (from a dict of array-likes or a DataFrame)."""
    if hasattr(table, "to_dict") and hasattr(table, "columns"):  # pandas.DataFrame
        table = {str(c): table[c].to_numpy() for c in table.columns}
    if not isinstance(table, dict):
        raise ValueError(f"{name} must be a dict of columns or a pandas DataFrame, got {type(table).__name__}")
    out: dict = {}
    n = None
    for k, v in table.items():
        a = np.asarray(v)
        if a.ndim != 1:
            raise ValueError(f"{name}: column {k!r} must be 1-D, got shape {a.shape}")
        if n is not None and a.size != n:
            raise ValueError(f"{name}: column {k!r} has {a.size} rows, the others {n}")
        n = a.size
        if a.dtype.kind in "USO":
            out[str(k)] = [str(x) for x in a]
        elif a.dtype.kind == "b":
            out[str(k)] = np.ascontiguousarray(a, dtype=np.bool_)
        elif a.dtype.kind == "u":
            out[str(k)] = np.ascontiguousarray(a, dtype=np.uint64)
        elif a.dtype.kind == "i":
            out[str(k)] = np.ascontiguousarray(a, dtype=np.int64)
        elif a.dtype.kind == "f":
            out[str(k)] = np.ascontiguousarray(a, dtype=np.float64)
        else:
            raise ValueError(f"{name}: column {k!r} has dtype {a.dtype}, not numbers, booleans or text")
    return out


def _frame(cols: dict, as_frame: bool | None, units: dict | None = None) -> Any:
    """A dict of columns as a pandas DataFrame (units in ``df.attrs["units"]``)
    when `as_frame` is true, or None and pandas is installed; else the dict."""
    if as_frame is None or as_frame:
        try:
            import pandas as pd
        except ImportError:
            if as_frame:
                raise
        else:
            df = pd.DataFrame(cols)
            if units is not None:
                df.attrs["units"] = units
            return df
    return cols
