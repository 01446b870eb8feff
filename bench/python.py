"""The Python package against the engine it wraps (issue 24's bench):

1. call overhead of a trivial function on a C-contiguous float32 array
   (median of many calls), through the public API and through _core;
2. outputs owned by numpy without a copy (how: the result's base is
   rust-numpy's container of the Rust buffer, and a write to the result is
   seen through a second view of that base);
3. GIL release: two Python threads each running a 1-thread Gaussian on
   256³ against one thread (throughput ratio, 2 at best);
4. a Python call against the same library call in Rust at 256³
   (crates/imgproc/examples/time_kernels.rs on the identical volume, the
   same thread count), as a ratio.

    python bench/python.py [--n 256] [--repeats 5] [--threads 2]

Needs the package installed (pip install .) and cargo for the Rust side.
"""

import argparse
import json
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

import chemomech as cm
from chemomech import _core

ROOT = Path(__file__).resolve().parent.parent


def median_time(f, repeats):
    f()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def overhead():
    a = np.zeros((1, 1, 1), np.float32)
    n = 20000
    out = {}
    for name, f in {
        "cm.median(r=0)": lambda: cm.median(a, 0),
        "_core.median(r=0)": lambda: _core.median(a, 0),
        "cm.gaussian": lambda: cm.gaussian(a, 1.0),
    }.items():
        for _ in range(1000):
            f()
        ts = np.empty(n)
        for i in range(n):
            t0 = time.perf_counter_ns()
            f()
            ts[i] = time.perf_counter_ns() - t0
        out[name] = float(np.median(ts) / 1e3)
    return out


def zero_copy():
    v = np.random.default_rng(0).random((32, 32, 32), dtype=np.float32)
    g = cm.gaussian(v, 1.0)
    base = g.base
    other = np.asarray(base) if isinstance(base, np.ndarray) else None
    g[0, 0, 0] = 123.0
    return {
        "base_type": type(base).__name__,
        "owns_data_in_numpy": bool(g.flags.owndata),
        "base_is_a_numpy_copy": isinstance(base, np.ndarray),
        "writeable": bool(g.flags.writeable),
        "write_visible_through_base": other is None or float(other.ravel()[0]) == 123.0,
    }


def gil(n, repeats):
    v = np.random.default_rng(0).random((n, n, n), dtype=np.float32)

    def one():
        cm.gaussian(v, 2.0, threads=1)

    def run(k):
        ts = [threading.Thread(target=one) for _ in range(k)]
        t0 = time.perf_counter()
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return time.perf_counter() - t0

    one()
    t1 = min(run(1) for _ in range(repeats))
    t2 = min(run(2) for _ in range(repeats))
    return {"one_thread_s": t1, "two_threads_s": t2, "throughput_ratio": 2 * t1 / t2}


def python_vs_rust(n, repeats, threads):
    z, y, x = np.indices((n, n, n))
    v = (((7 * z + 13 * y + 17 * x) % 101) / 101.0).astype(np.float32)
    mask = v > 0.5
    py = {
        "gaussian_s": median_time(lambda: cm.gaussian(v, 2.0, 1.0, threads=threads), repeats),
        "label_s": median_time(lambda: cm.label(mask, 26, threads=threads), repeats),
        "edt_s": median_time(lambda: cm.edt(mask, 1.0, threads=threads), repeats),
    }
    cmd = ["cargo", "run", "--quiet", "--release", "-p", "chemomech-imgproc", "--example", "time_kernels", "--"]
    r = subprocess.run(cmd + [str(n), str(repeats), str(threads)], cwd=ROOT, capture_output=True, text=True, check=True)
    rust = json.loads(r.stdout)
    return {k: {"python_s": py[k], "rust_s": rust[k], "python_over_rust": py[k] / rust[k]} for k in py}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    res = {
        "overhead_us": overhead(),
        "zero_copy": zero_copy(),
        "gil": gil(a.n, 3),
        "python_vs_rust": python_vs_rust(a.n, a.repeats, a.threads),
    }
    print(json.dumps(res, indent=2))
    o = res["overhead_us"]
    print(f"\ncall overhead (median): cm.median {o['cm.median(r=0)']:.1f} µs, _core.median {o['_core.median(r=0)']:.1f} µs (goal ≤ 5 µs)")
    print(f"GIL: two Python threads give {res['gil']['throughput_ratio']:.2f}× one thread's throughput (goal ≥ 1.7)")
    for k, r in res["python_vs_rust"].items():
        print(f"{k[:-2]:>9} {a.n}³: Python {r['python_s']:.3f} s, Rust {r['rust_s']:.3f} s, ratio {r['python_over_rust']:.3f} (goal ≤ 1.02)")


if __name__ == "__main__":
    main()
