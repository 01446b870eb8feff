//! Times library kernels on a deterministic volume, for `bench/python.py`
//! (the same calls from Python against Rust). Prints one JSON object:
//! median seconds of `REPEATS` runs per kernel.
//!
//! `cargo run --release -p chemomech-imgproc --example time_kernels -- [N] [REPEATS] [THREADS]`
//!
//! The volume is v[z, y, x] = ((7 z + 13 y + 17 x) mod 101) / 101, which
//! `bench/python.py` builds identically with numpy.

use ndarray::Array3;
use std::time::Instant;

fn median_seconds(repeats: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm up (page faults, pools)
    let mut t: Vec<f64> = (0..repeats)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() {
    let args: Vec<usize> =
        std::env::args().skip(1).map(|a| a.parse().expect("N, REPEATS, THREADS are integers")).collect();
    let n = args.first().copied().unwrap_or(256);
    let repeats = args.get(1).copied().unwrap_or(5);
    let threads = args.get(2).copied().unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a rayon pool");
    let v = Array3::from_shape_fn((n, n, n), |(z, y, x)| ((7 * z + 13 * y + 17 * x) % 101) as f32 / 101.0);
    let mask = v.mapv(|x| x > 0.5);
    let sp = [1.0; 3];
    let conn = chemomech_imgproc::label::Connectivity::C26;
    let out = pool.install(|| {
        serde_json::json!({
            "n": n,
            "repeats": repeats,
            "threads": rayon::current_num_threads(),
            "gaussian_s": median_seconds(repeats, || drop(chemomech_imgproc::filters::gaussian(v.view(), 2.0, sp))),
            "label_s": median_seconds(repeats, || drop(chemomech_imgproc::label::label(mask.view(), conn))),
            "edt_s": median_seconds(repeats, || drop(chemomech_imgproc::edt::edt(mask.view(), sp))),
        })
    });
    println!("{out}");
}
