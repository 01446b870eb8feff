//! Small numeric helpers shared by several stages.

/// Index `i` reflected into `0..n` symmetrically (…2 1 0 | 0 1 … n−1 | n−1 n−2 …),
/// the boundary rule of scipy.ndimage's `reflect` mode.
///
/// ```
/// use chemomech_core::math::reflect;
/// assert_eq!([reflect(-1, 4), reflect(0, 4), reflect(4, 4), reflect(-6, 4)], [0, 0, 3, 2]);
/// ```
#[inline]
pub fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let mut i = i;
    loop {
        if i < 0 {
            i = -i - 1;
        } else if i >= n {
            i = 2 * n - i - 1;
        } else {
            return i as usize;
        }
    }
}

/// Eigenvalues of a symmetric 3×3 matrix, descending (trigonometric method).
///
/// ```
/// let e = chemomech_core::math::sym3_eigenvalues([[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 5.0]]);
/// assert!((e[0] - 5.0).abs() < 1e-12 && (e[1] - 3.0).abs() < 1e-12 && (e[2] - 1.0).abs() < 1e-12);
/// // A flat region's Hessian: zeros, not NaN.
/// assert_eq!(chemomech_core::math::sym3_eigenvalues([[0.0; 3]; 3]), [0.0; 3]);
/// ```
pub fn sym3_eigenvalues(a: [[f64; 3]; 3]) -> [f64; 3] {
    let p1 = a[0][1] * a[0][1] + a[0][2] * a[0][2] + a[1][2] * a[1][2];
    let q = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
    let p2 = (a[0][0] - q).powi(2) + (a[1][1] - q).powi(2) + (a[2][2] - q).powi(2) + 2.0 * p1;
    let p = (p2 / 6.0).sqrt();
    // Diagonal, or a multiple of the identity (p = 0, e.g. the zero matrix
    // of a flat region's Hessian, where the general formula divides 0 by 0).
    if p1 <= 1e-30 * (q * q).max(1e-300) || p <= f64::MIN_POSITIVE {
        let mut e = [a[0][0], a[1][1], a[2][2]];
        e.sort_by(|x, y| y.total_cmp(x));
        return e;
    }
    let b = |i: usize, j: usize| (a[i][j] - if i == j { q } else { 0.0 }) / p;
    let det = b(0, 0) * (b(1, 1) * b(2, 2) - b(1, 2) * b(2, 1)) - b(0, 1) * (b(1, 0) * b(2, 2) - b(1, 2) * b(2, 0))
        + b(0, 2) * (b(1, 0) * b(2, 1) - b(1, 1) * b(2, 0));
    let r = (det / 2.0).clamp(-1.0, 1.0);
    let phi = r.acos() / 3.0;
    let e1 = q + 2.0 * p * phi.cos();
    let e3 = q + 2.0 * p * (phi + 2.0 * std::f64::consts::PI / 3.0).cos();
    let e2 = 3.0 * q - e1 - e3;
    [e1, e2, e3]
}
