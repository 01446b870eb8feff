//! Small dense linear algebra for fits (a handful of parameters), through
//! `faer`: least squares by Householder QR ([`Lstsq`], [`lstsq`],
//! [`polyfit`]) — never by normal equations, whose condition number is the
//! square of the design's —, square systems and inverses by LU with partial
//! pivoting ([`solve`], [`inverse`]), and the symmetric eigenproblem
//! ([`sym_eigen`]). Matrices cross the API as `Vec` rows (or columns for
//! designs) because the fits are tiny; faer runs sequentially here (no
//! `rayon` feature), so results do not depend on the thread count.

use faer::linalg::solvers::{DenseSolveCore, Qr, Solve, SolveLstsq};
use faer::{ColRef, Mat, MatRef, Par, Side};

/// Row-major `Vec` rows as a faer matrix.
fn from_rows(a: &[Vec<f64>]) -> Mat<f64> {
    let n = a.first().map_or(0, Vec::len);
    Mat::from_fn(a.len(), n, |i, j| a[i][j])
}

/// A faer matrix as `Vec` rows.
fn to_rows(m: MatRef<'_, f64>) -> Vec<Vec<f64>> {
    (0..m.nrows()).map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect()).collect()
}

/// Solves the square system `a x = b` by LU with partial pivoting; `None`
/// when singular (a pivot below 1e-300 in magnitude).
pub fn solve(a: Vec<Vec<f64>>, b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let lu = from_rows(&a).partial_piv_lu();
    let u = lu.U();
    if (0..n).any(|i| u[(i, i)].abs() < 1e-300) {
        return None;
    }
    let x = lu.solve(ColRef::from_slice(&b));
    Some(x.iter().copied().collect())
}

/// Inverse of a small square matrix by LU with partial pivoting; `None` when
/// singular (as [`solve`]).
pub fn inverse(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let lu = from_rows(a).partial_piv_lu();
    let u = lu.U();
    if (0..n).any(|i| u[(i, i)].abs() < 1e-300) {
        return None;
    }
    Some(to_rows(lu.inverse().as_ref()))
}

/// The Householder QR of a tall design `A` (n points × k columns), for
/// least squares: the solution, the pseudo-inverse `A⁺ = R⁻¹Qᵀ` (a
/// precomputed per-point operator) and the unscaled covariance
/// `(AᵀA)⁻¹ = R⁻¹R⁻ᵀ`, all without forming `AᵀA`.
pub struct Lstsq {
    qr: Qr<f64>,
    /// R⁻¹ (k × k, upper triangular).
    r_inv: Mat<f64>,
}

impl Lstsq {
    /// Factors the design given by columns (each of the same length `n ≥ k`);
    /// `None` when it is rank-deficient: a diagonal entry of R at most
    /// `max(n, k)·ε` times the largest (the rank tolerance of numpy's
    /// `matrix_rank`), or not finite.
    pub fn new(cols: &[Vec<f64>]) -> Option<Self> {
        let k = cols.len();
        let n = cols.first().map_or(0, Vec::len);
        if k == 0 || n < k || cols.iter().any(|c| c.len() != n) {
            return None;
        }
        let a = Mat::from_fn(n, k, |i, j| cols[j][i]);
        let qr = a.qr();
        let r = qr.thin_R();
        let rmax = (0..k).map(|i| r[(i, i)].abs()).fold(0.0, f64::max);
        let tol = n.max(k) as f64 * f64::EPSILON * rmax;
        if !rmax.is_finite() || (0..k).any(|i| !(r[(i, i)].abs() > tol) || r[(i, i)].abs() < 1e-300) {
            return None;
        }
        let mut r_inv = Mat::zeros(k, k);
        faer::linalg::triangular_inverse::invert_upper_triangular(r_inv.as_mut(), r, Par::Seq);
        Some(Self { qr, r_inv })
    }

    /// Coefficients minimising ‖A x − y‖².
    pub fn solve(&self, y: &[f64]) -> Vec<f64> {
        self.qr.solve_lstsq(ColRef::from_slice(y)).iter().copied().collect()
    }

    /// The pseudo-inverse `A⁺` as k rows of n weights: x_j = Σ_i A⁺[j][i]·y_i.
    pub fn pinv(&self) -> Vec<Vec<f64>> {
        let q = self.qr.compute_thin_Q();
        to_rows((&self.r_inv * q.transpose()).as_ref())
    }

    /// `(AᵀA)⁻¹ = R⁻¹R⁻ᵀ` (k × k), the covariance of the coefficients per
    /// unit variance of the data.
    pub fn cov(&self) -> Vec<Vec<f64>> {
        to_rows((&self.r_inv * self.r_inv.transpose()).as_ref())
    }
}

/// Least squares: coefficients minimising ‖A x − y‖² (A given by columns),
/// by Householder QR; `None` when A is rank-deficient (see [`Lstsq::new`]).
pub fn lstsq(cols: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    Some(Lstsq::new(cols)?.solve(y))
}

/// Polynomial least-squares fit of degree `deg`: coefficients c0, c1, … (increasing powers),
/// computed in a centred/scaled variable for conditioning (as numpy's Polynomial.fit).
pub fn polyfit(x: &[f64], y: &[f64], deg: usize) -> Option<Vec<f64>> {
    let n = x.len();
    if n == 0 {
        return None;
    }
    let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let (off, scl) = if hi > lo { ((hi + lo) / 2.0, (hi - lo) / 2.0) } else { (lo, 1.0) };
    let u: Vec<f64> = x.iter().map(|v| (v - off) / scl).collect();
    let cols: Vec<Vec<f64>> = (0..=deg).map(|p| u.iter().map(|v| v.powi(p as i32)).collect()).collect();
    let cu = lstsq(&cols, y)?;
    // Convert Σ cu_p ((x − off)/scl)^p to powers of x.
    let mut c = vec![0.0; deg + 1];
    for (p, &a) in cu.iter().enumerate() {
        // (x − off)^p / scl^p = Σ_k binom(p,k) x^k (−off)^(p−k) / scl^p
        let mut binom = 1.0;
        for k in 0..=p {
            if k > 0 {
                binom *= (p - k + 1) as f64 / k as f64;
            }
            c[k] += a * binom * (-off).powi((p - k) as i32) / scl.powi(p as i32);
        }
    }
    Some(c)
}

/// Dot product of two vectors of the same length.
#[inline]
pub fn dotv(a: &[f64], b: &[f64]) -> f64 {
    ColRef::from_slice(a).transpose() * ColRef::from_slice(b)
}

/// Eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix
/// (its lower triangle is read). Each eigenvector's sign is fixed so that its
/// largest-magnitude entry (the first of equal ones) is positive. Falls back
/// to NaN when the eigensolver does not converge.
pub fn sym_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let Ok(evd) = from_rows(a).self_adjoint_eigen(Side::Lower) else {
        return (vec![f64::NAN; n], vec![vec![f64::NAN; n]; n]);
    };
    let (s, u) = (evd.S().column_vector(), evd.U());
    // faer sorts the eigenvalues increasing; stable sort to decreasing.
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| s[j].total_cmp(&s[i]));
    let sign: Vec<f64> = (0..n)
        .map(|c| {
            let big = (0..n).fold(0, |b, r| if u[(r, c)].abs() > u[(b, c)].abs() { r } else { b });
            if u[(big, c)] < 0.0 { -1.0 } else { 1.0 }
        })
        .collect();
    let vals = order.iter().map(|&i| s[i]).collect();
    let vecs = (0..n).map(|r| order.iter().map(|&c| sign[c] * u[(r, c)]).collect()).collect();
    (vals, vecs)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fits_and_eigen() {
        let x: Vec<f64> = (0..20).map(|i| 8300.0 + i as f64 * 7.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.5 - 2e-4 * v + 3e-9 * v * v).collect();
        let c = polyfit(&x, &y, 2).unwrap();
        assert!((c[0] - 1.5).abs() < 1e-6 && (c[1] + 2e-4).abs() < 1e-10 && (c[2] - 3e-9).abs() < 1e-14, "{c:?}");
        let (vals, vecs) = sym_eigen(&[vec![2.0, 1.0], vec![1.0, 2.0]]);
        assert!((vals[0] - 3.0).abs() < 1e-12 && (vals[1] - 1.0).abs() < 1e-12);
        assert!((vecs[0][0].abs() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    }

    #[test]
    fn square_solves_and_inverse() {
        let a = vec![vec![4.0, 1.0, 2.0], vec![1.0, 3.0, 0.0], vec![2.0, 0.0, 5.0]];
        let x = solve(a.clone(), vec![7.0, 4.0, 7.0]).unwrap();
        for (g, w) in x.iter().zip([1.0, 1.0, 1.0]) {
            assert!((g - w).abs() < 1e-14, "{x:?}");
        }
        let inv = inverse(&a).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let p: f64 = (0..3).map(|k| a[i][k] * inv[k][j]).sum();
                assert!((p - (i == j) as u8 as f64).abs() < 1e-14);
            }
        }
        assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
        assert!(lstsq(&[vec![1.0, 2.0, 3.0], vec![2.0, 4.0, 6.0]], &[1.0, 1.0, 1.0]).is_none());
    }

    /// Two reference spectra correlated at 0.9999 and a mixture of them with
    /// exact weights: the QR solution keeps the digits, the normal equations
    /// (condition number squared, ~10⁹ here) lose about half of them.
    #[test]
    fn qr_least_squares_is_accurate_on_nearly_collinear_references() {
        let n = 400;
        let e: Vec<f64> = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
        let a: Vec<f64> = e.iter().map(|&x| 1.0 / (1.0 + (-(x - 0.5) * 20.0).exp())).collect();
        // b = a + δ·d with a small, smooth departure d; δ sets the correlation.
        let d: Vec<f64> = e.iter().map(|&x| (-((x - 0.55) / 0.05).powi(2)).exp()).collect();
        let corr = |delta: f64| {
            let b: Vec<f64> = a.iter().zip(&d).map(|(p, q)| p + delta * q).collect();
            let mean = |v: &[f64]| v.iter().sum::<f64>() / n as f64;
            let (ma, mb) = (mean(&a), mean(&b));
            let cov: f64 = a.iter().zip(&b).map(|(p, q)| (p - ma) * (q - mb)).sum();
            let va: f64 = a.iter().map(|p| (p - ma).powi(2)).sum();
            let vb: f64 = b.iter().map(|q| (q - mb).powi(2)).sum();
            (b, cov / (va * vb).sqrt())
        };
        // Bisect δ to a correlation of 0.9999.
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if corr(mid).1 > 0.9999 { lo = mid } else { hi = mid }
        }
        let (b, r) = corr(lo);
        assert!((r - 0.9999).abs() < 1e-9, "correlation {r}");
        let (wa, wb) = (0.3, 0.7);
        let y: Vec<f64> = a.iter().zip(&b).map(|(p, q)| wa * p + wb * q).collect();
        let cols = vec![a.clone(), b.clone()];
        let x = lstsq(&cols, &y).unwrap();
        let err_qr = (x[0] - wa).abs().max((x[1] - wb).abs());
        // The normal equations, solved exactly as the former implementation did.
        let ata: Vec<Vec<f64>> =
            (0..2).map(|i| (0..2).map(|j| cols[i].iter().zip(&cols[j]).map(|(p, q)| p * q).sum()).collect()).collect();
        let aty: Vec<f64> = (0..2).map(|i| cols[i].iter().zip(&y).map(|(p, q)| p * q).sum()).collect();
        let xn = solve(ata, aty).unwrap();
        let err_ne = (xn[0] - wa).abs().max((xn[1] - wb).abs());
        assert!(err_qr < 1e-12, "QR error {err_qr:e} ({x:?})");
        assert!(err_qr * 100.0 < err_ne, "QR error {err_qr:e} vs normal equations {err_ne:e}");
        // The pseudo-inverse operator gives the same weights.
        let pinv = Lstsq::new(&cols).unwrap().pinv();
        let xp: Vec<f64> = pinv.iter().map(|row| row.iter().zip(&y).map(|(p, q)| p * q).sum()).collect();
        assert!((xp[0] - wa).abs() < 1e-11 && (xp[1] - wb).abs() < 1e-11, "{xp:?}");
    }
}
