//! Times `filters::median` with r = 1 on a 256³ f32 volume (release mode):
//! `cargo run --release -p chemomech-imgproc --example median_timing`.
//! Prints the best and median wall time of several runs and a checksum.

use chemomech_imgproc::filters::median;
use ndarray::Array3;
use std::time::Instant;

fn main() {
    let n = 256;
    let mut s = 12345u64;
    let v = Array3::from_shape_fn((n, n, n), |_| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 40) as f32 / (1u64 << 24) as f32
    });
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let mut times = Vec::with_capacity(runs);
    let mut sum = 0.0f64;
    for _ in 0..runs {
        let t = Instant::now();
        let m = median(v.view(), 1);
        times.push(t.elapsed().as_secs_f64());
        sum = m.iter().map(|&x| x as f64).sum();
    }
    times.sort_by(f64::total_cmp);
    println!(
        "median r=1 on {n}³ f32, {} threads: best {:.3} s, median {:.3} s over {runs} runs (checksum {sum:.6})",
        rayon::current_num_threads(),
        times[0],
        times[runs / 2]
    );
}
