//! Small dense linear algebra for fits (a handful of parameters): least
//! squares by normal equations with Cholesky/Gauss elimination, and the
//! symmetric eigenproblem by Jacobi rotations.

/// Solves the square system `a x = b` by Gaussian elimination with partial
/// pivoting; `None` when singular.
pub fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let p = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, p);
        b.swap(c, p);
        for r in c + 1..n {
            let f = a[r][c] / a[c][c];
            for k in c..n {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Inverse of a small square matrix; `None` when singular.
pub fn inverse(a: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let n = a.len();
    let mut cols = Vec::with_capacity(n);
    for j in 0..n {
        let mut e = vec![0.0; n];
        e[j] = 1.0;
        cols.push(solve(a.to_vec(), e)?);
    }
    Some((0..n).map(|i| (0..n).map(|j| cols[j][i]).collect()).collect())
}

/// Least squares: coefficients minimising ‖A x − y‖² (A given by columns).
pub fn lstsq(cols: &[Vec<f64>], y: &[f64]) -> Option<Vec<f64>> {
    let k = cols.len();
    let ata: Vec<Vec<f64>> = (0..k).map(|i| (0..k).map(|j| dotv(&cols[i], &cols[j])).collect()).collect();
    let aty: Vec<f64> = (0..k).map(|i| dotv(&cols[i], y)).collect();
    solve(ata, aty)
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

/// Dot product of two vectors.
#[inline]
pub fn dotv(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Eigenvalues (descending) and eigenvectors (columns) of a symmetric matrix
/// by cyclic Jacobi rotations.
pub fn sym_eigen(a: &[Vec<f64>]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let n = a.len();
    let mut m = a.to_vec();
    let mut v: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| (i == j) as u8 as f64).collect()).collect();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j] * m[i][j])
            .sum();
        if off < 1e-22 * (1.0 + (0..n).map(|i| m[i][i] * m[i][i]).sum::<f64>()) {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k][p], m[k][q]);
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p][k], m[q][k]);
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k][p], v[k][q]);
                    v[k][p] = c * vkp - s * vkq;
                    v[k][q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[j][j].total_cmp(&m[i][i]));
    let vals = order.iter().map(|&i| m[i][i]).collect();
    let vecs = (0..n).map(|r| order.iter().map(|&c| v[r][c]).collect()).collect();
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
}
