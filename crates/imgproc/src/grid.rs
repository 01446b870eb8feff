//! A volume padded by one voxel on every side and addressed by linear
//! index, so that neighbour steps are constant index offsets with no bounds
//! checks: what the queue-driven algorithms (watershed, reconstruction,
//! regional maxima) spend their time on.

use crate::label::Connectivity;
use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

pub(crate) struct Padded {
    /// Unpadded (z, y, x).
    pub dim: (usize, usize, usize),
    sy: usize,
    sz: usize,
}

impl Padded {
    /// Padding geometry of a volume of unpadded shape `dim` (z, y, x).
    pub fn new(dim: (usize, usize, usize)) -> Self {
        let sy = dim.2 + 2;
        Padded { dim, sy, sz: sy * (dim.1 + 2) }
    }
    /// Voxels in the padded volume.
    pub fn len(&self) -> usize {
        self.sz * (self.dim.0 + 2)
    }
    /// Padded index of unpadded voxel (z, y, x).
    pub fn at(&self, z: usize, y: usize, x: usize) -> usize {
        (z + 1) * self.sz + (y + 1) * self.sy + x + 1
    }
    /// Index offsets to the neighbours of `conn`: the earlier ones (raster
    /// order) first, then their mirrors.
    pub fn offsets(&self, conn: Connectivity) -> (Vec<isize>, Vec<isize>) {
        let back: Vec<isize> =
            conn.backward().iter().map(|&(dz, dy, dx)| dz * self.sz as isize + dy * self.sy as isize + dx).collect();
        let fwd = back.iter().map(|o| -o).collect();
        (back, fwd)
    }
    /// Offsets of the first voxel (x − 1) of the nine rows around a voxel.
    pub fn row_offsets(&self) -> Vec<isize> {
        let (sz, sy) = (self.sz as isize, self.sy as isize);
        (-1..=1).flat_map(|dz| (-1..=1).map(move |dy| dz * sz + dy * sy - 1)).collect()
    }
    /// Copy of `a` with `edge` in the padding.
    pub fn pad<T: Copy + Send + Sync>(&self, a: ArrayView3<T>, edge: T) -> Vec<T> {
        self.pad_map(a, edge, |&v| v)
    }
    /// `f` of every voxel of `a`, with `edge` in the padding.
    pub fn pad_map<A: Sync, T: Copy + Send + Sync>(
        &self,
        a: ArrayView3<A>,
        edge: T,
        f: impl Fn(&A) -> T + Sync,
    ) -> Vec<T> {
        let mut v = chemomech_core::bigmem::filled_vec(self.len(), edge);
        v.par_chunks_mut(self.sz).enumerate().for_each(|(pz, plane)| {
            if pz == 0 || pz > self.dim.0 {
                return;
            }
            let src = a.index_axis(Axis(0), pz - 1);
            for (y, row) in src.outer_iter().enumerate() {
                let o = (y + 1) * self.sy + 1;
                for (d, s) in plane[o..o + self.dim.2].iter_mut().zip(row.iter()) {
                    *d = f(s);
                }
            }
        });
        v
    }
    /// The unpadded volume of a padded vector.
    pub fn unpad<T: Copy + Send + Sync + Default>(&self, v: &[T]) -> Array3<T> {
        self.unpad_map(v, |&x| x)
    }
    /// `f` of every voxel of a padded vector, unpadded.
    pub fn unpad_map<A: Sync, T: Copy + Send + Sync + Default>(
        &self,
        v: &[A],
        f: impl Fn(&A) -> T + Sync,
    ) -> Array3<T> {
        let mut out = chemomech_core::bigmem::filled(self.dim, T::default());
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(z, mut plane)| {
            for (y, mut row) in plane.outer_iter_mut().enumerate() {
                let o = self.at(z, y, 0);
                for (d, s) in row.iter_mut().zip(&v[o..o + self.dim.2]) {
                    *d = f(s);
                }
            }
        });
        out
    }
    /// `f` of every voxel of a padded vector, unpadded in the vector's own
    /// memory: no fresh volume to fault in (at 512³ that took longer than
    /// this sequential pass). Rows only move towards the start, in raster
    /// order, so none is overwritten before it has moved.
    pub fn unpad_in_place<T: Copy>(&self, mut v: Vec<T>, f: impl Fn(T) -> T) -> Array3<T> {
        assert_eq!(v.len(), self.len(), "a padded vector");
        let (nz, ny, nx) = self.dim;
        let mut d = 0;
        for z in 0..nz {
            for y in 0..ny {
                let o = self.at(z, y, 0);
                for x in 0..nx {
                    v[d + x] = f(v[o + x]);
                }
                d += nx;
            }
        }
        v.truncate(d);
        Array3::from_shape_vec(self.dim, v).expect("length matches the shape")
    }
    /// Calls `f(padded index)` for every voxel, in raster order.
    pub fn for_each(&self, mut f: impl FnMut(usize)) {
        for z in 0..self.dim.0 {
            for y in 0..self.dim.1 {
                let o = self.at(z, y, 0);
                for i in o..o + self.dim.2 {
                    f(i);
                }
            }
        }
    }
}

/// Whether voxel `p` lies on a face of a volume of `dims`. An axis one
/// voxel long has no faces: a 2-D image is one slice, and its border is
/// the edge of its plane.
///
/// ```
/// use chemomech_imgproc::grid::on_face;
/// assert!(on_face([0, 5, 5], [10, 10, 10]));
/// assert!(!on_face([0, 5, 5], [1, 10, 10]));
/// assert!(on_face([0, 9, 5], [1, 10, 10]));
/// ```
pub fn on_face(p: [usize; 3], dims: [usize; 3]) -> bool {
    (0..3).any(|a| dims[a] > 1 && (p[a] == 0 || p[a] + 1 == dims[a]))
}
