//! Large arrays without the page-fault toll.
//!
//! The first write to a fresh 64 MB volume faults 16 384 times, each fault
//! zeroing one 4 KiB page, which can take longer than labelling the volume.
//! Advising transparent huge pages (2 MiB) on the buffer, as NumPy does for
//! its large arrays, makes it 32 faults. Where the kernel has no huge pages
//! to give, or the platform is not Linux, the advice is a no-op and only
//! speed changes (measurements: `bench/README.md`). As with NumPy's
//! `NUMPY_MADVISE_HUGEPAGE=0`, `CHEMOMECH_MADVISE_HUGEPAGE=0` in the
//! environment turns the advice off.

use ndarray::Array3;
use rayon::prelude::*;

const HUGE: usize = 2 << 20;

/// Whether huge pages are advised (not when `CHEMOMECH_MADVISE_HUGEPAGE=0`).
fn advice_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var("CHEMOMECH_MADVISE_HUGEPAGE").map_or(true, |v| v.trim() != "0"))
}

/// An empty `Vec` with room for `n` elements, its whole 2 MiB pages
/// advised as huge pages (Linux; buffers under 4 MiB are left alone).
///
/// ```
/// let v = chemomech_core::bigmem::with_capacity::<f32>(3_000_000);
/// assert!(v.is_empty() && v.capacity() >= 3_000_000);
/// ```
pub fn with_capacity<T>(n: usize) -> Vec<T> {
    let v: Vec<T> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    {
        let bytes = v.capacity() * std::mem::size_of::<T>();
        let start = v.as_ptr() as usize;
        let (first, end) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if bytes >= 2 * HUGE && end > first && advice_wanted() {
            // SAFETY: advice on whole pages inside this Vec's own
            // allocation, not yet written; it changes no contents.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    v
}

/// `n` copies of `value`, written in parallel into a [`with_capacity`] buffer.
///
/// ```
/// let v = chemomech_core::bigmem::filled_vec(5_000_000, 7u32);
/// assert!(v.len() == 5_000_000 && v.iter().all(|&x| x == 7));
/// ```
pub fn filled_vec<T: Copy + Send + Sync>(n: usize, value: T) -> Vec<T> {
    let mut v = with_capacity(n);
    v.par_extend(rayon::iter::repeat_n(value, n));
    v
}

/// A volume of `value` (see [`filled_vec`]).
///
/// ```
/// let a = chemomech_core::bigmem::filled((64, 64, 64), 0u32);
/// assert_eq!((a.dim(), a[[63, 63, 63]]), ((64, 64, 64), 0));
/// ```
pub fn filled<T: Copy + Send + Sync>(dim: (usize, usize, usize), value: T) -> Array3<T> {
    Array3::from_shape_vec(dim, filled_vec(dim.0 * dim.1 * dim.2, value)).expect("length matches the shape")
}

/// `f` of every element of `a`, in parallel, into a [`with_capacity`]
/// buffer (as `mapv`, with huge pages).
///
/// ```
/// let a = ndarray::Array3::from_elem((8, 8, 8), 2.0f32);
/// let b = chemomech_core::bigmem::map(a.view(), |&v| v > 1.0);
/// assert!(b.iter().all(|&x| x));
/// ```
pub fn map<A: Clone + Sync, B: Send + Sync>(a: ndarray::ArrayView3<A>, f: impl Fn(&A) -> B + Sync + Send) -> Array3<B> {
    let a = a.as_standard_layout();
    let s = a.as_slice().expect("standard layout");
    let mut v = with_capacity(s.len());
    v.par_extend(s.par_iter().map(f));
    Array3::from_shape_vec(a.dim(), v).expect("length matches the shape")
}
