//! Compressed-sparse-row matrices: the one representation of every linear map in the IR
//! (dense layers, convolutions, pooling averages, index maps folded into affine layers).

/// A real matrix in compressed sparse row form. Explicit zeros are never stored.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseMatrix {
    rows: usize,
    cols: usize,
    row_ptr: Vec<usize>,
    col_idx: Vec<u32>,
    vals: Vec<f64>,
}

impl SparseMatrix {
    /// Builds a matrix from one list of `(column, value)` entries per row. Entries of one row
    /// that share a column are summed; zeros are dropped.
    pub fn from_rows<I>(cols: usize, rows: I) -> Self
    where
        I: IntoIterator<Item = Vec<(usize, f64)>>,
    {
        let mut m = SparseMatrix { rows: 0, cols, row_ptr: vec![0], col_idx: Vec::new(), vals: Vec::new() };
        for mut row in rows {
            row.sort_by_key(|&(c, _)| c);
            let mut i = 0;
            while i < row.len() {
                let (c, mut v) = row[i];
                debug_assert!(c < cols, "column {c} out of range {cols}");
                i += 1;
                while i < row.len() && row[i].0 == c {
                    v += row[i].1;
                    i += 1;
                }
                if v != 0.0 {
                    m.col_idx.push(c as u32);
                    m.vals.push(v);
                }
            }
            m.rows += 1;
            m.row_ptr.push(m.vals.len());
        }
        m
    }

    /// Builds a matrix from row-major dense data of `rows × cols` values (missing ones are 0).
    pub fn from_dense(rows: usize, cols: usize, data: &[f64]) -> Self {
        debug_assert_eq!(data.len(), rows * cols, "dense data has the wrong length");
        Self::from_rows(cols, data.chunks(cols.max(1)).take(rows).map(|r| r.iter().copied().enumerate().collect()))
    }

    /// The diagonal matrix with the given entries.
    pub fn diagonal(diag: &[f64]) -> Self {
        Self::from_rows(diag.len(), diag.iter().enumerate().map(|(i, &v)| vec![(i, v)]))
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of stored (non-zero) entries.
    pub fn nnz(&self) -> usize {
        self.vals.len()
    }

    /// Column indices and values of row `i`.
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let (a, b) = (self.row_ptr[i], self.row_ptr[i + 1]);
        (&self.col_idx[a..b], &self.vals[a..b])
    }

    /// `out += l · (row i)`; a full row is added as one contiguous slice (which vectorises).
    pub fn add_scaled_row(&self, i: usize, l: f64, out: &mut [f64]) {
        let (c, v) = self.row(i);
        if c.len() == self.cols {
            out.iter_mut().zip(v).for_each(|(o, &w)| *o += l * w);
        } else {
            c.iter().zip(v).for_each(|(&j, &w)| out[j as usize] += l * w);
        }
    }

    /// `(row i) · x`, a full row summed in four interleaved lanes (which vectorises; the order
    /// of the additions differs from `mul_vec`'s).
    pub fn row_dot(&self, i: usize, x: &[f64]) -> f64 {
        let (c, v) = self.row(i);
        if c.len() != self.cols {
            return c.iter().zip(v).map(|(&j, &w)| w * x[j as usize]).sum();
        }
        let mut lanes = [0.0; 4];
        let (body, tail) = (v.len() / 4 * 4, v.len() % 4);
        for (w, x) in v[..body].chunks_exact(4).zip(x[..body].chunks_exact(4)) {
            for k in 0..4 {
                lanes[k] += w[k] * x[k];
            }
        }
        let rest: f64 = (0..tail).map(|k| v[body + k] * x[body + k]).sum();
        lanes.iter().sum::<f64>() + rest
    }

    /// Iterates over `(row, column, value)` of every stored entry.
    pub fn entries(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        (0..self.rows).flat_map(move |i| {
            let (c, v) = self.row(i);
            c.iter().zip(v).map(move |(&c, &v)| (i, c as usize, v))
        })
    }

    /// `W x`.
    pub fn mul_vec(&self, x: &[f64]) -> Vec<f64> {
        (0..self.rows)
            .map(|i| {
                let (c, v) = self.row(i);
                c.iter().zip(v).map(|(&c, &v)| v * x[c as usize]).sum()
            })
            .collect()
    }

    /// `Wᵀ y`.
    pub fn transpose_mul_vec(&self, y: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.cols];
        for (i, &yi) in y.iter().enumerate().take(self.rows) {
            if yi != 0.0 {
                let (c, v) = self.row(i);
                for (&c, &v) in c.iter().zip(v) {
                    out[c as usize] += v * yi;
                }
            }
        }
        out
    }

    /// The product `self · inner` (apply `inner` first, then `self`).
    pub fn compose(&self, inner: &SparseMatrix) -> SparseMatrix {
        debug_assert_eq!(self.cols, inner.rows, "compose: inner dimensions differ");
        let mut acc = vec![0.0; inner.cols];
        let mut touched: Vec<usize> = Vec::new();
        let rows = (0..self.rows).map(|i| {
            let (c, v) = self.row(i);
            // a column of `self` beyond `inner`'s rows (a caller's bug) multiplies a zero row
            for (&k, &w) in c.iter().zip(v).filter(|(&k, _)| (k as usize) < inner.rows) {
                let (ic, iv) = inner.row(k as usize);
                for (&j, &u) in ic.iter().zip(iv) {
                    let j = j as usize;
                    if acc[j] == 0.0 {
                        touched.push(j);
                    }
                    acc[j] += w * u;
                }
            }
            let row: Vec<(usize, f64)> = touched.drain(..).map(|j| (j, std::mem::take(&mut acc[j]))).collect();
            row
        });
        let rows: Vec<_> = rows.collect();
        SparseMatrix::from_rows(inner.cols, rows)
    }

    /// The matrix of `x ↦ self · (G x)` where `G` selects `x[map[k]]` (or 0 for `None`) into
    /// position `k`; `input_len` is the length of `x`. Exact: no arithmetic on the values.
    pub fn select_columns(&self, map: &[Option<usize>], input_len: usize) -> SparseMatrix {
        debug_assert_eq!(self.cols, map.len(), "select_columns: map length differs");
        Self::from_rows(
            input_len,
            (0..self.rows).map(|i| {
                let (c, v) = self.row(i);
                c.iter().zip(v).filter_map(|(&c, &v)| map.get(c as usize).copied().flatten().map(|j| (j, v))).collect()
            }),
        )
    }

    /// The matrix whose row `k` is row `map[k]` of `self` (an empty row for `None`).
    pub fn select_rows(&self, map: &[Option<usize>]) -> SparseMatrix {
        Self::from_rows(
            self.cols,
            map.iter().map(|m| match m {
                Some(i) => {
                    let (c, v) = self.row(*i);
                    c.iter().map(|&c| c as usize).zip(v.iter().copied()).collect()
                }
                None => Vec::new(),
            }),
        )
    }

    /// Row-major dense copy (for small matrices, tests and reports).
    pub fn to_dense(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.rows * self.cols];
        for (i, j, v) in self.entries() {
            out[i * self.cols + j] = v;
        }
        out
    }

    /// Replaces every stored value by `f(row, column, value)`; zeros that result are dropped.
    pub fn map_values(&self, f: impl Fn(usize, usize, f64) -> f64) -> SparseMatrix {
        Self::from_rows(
            self.cols,
            (0..self.rows).map(|i| {
                let (c, v) = self.row(i);
                c.iter().zip(v).map(|(&c, &v)| (c as usize, f(i, c as usize, v))).collect()
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_agree_with_dense_arithmetic() {
        let a = SparseMatrix::from_dense(2, 3, &[1.0, 0.0, 2.0, 0.0, -1.0, 3.0]);
        let b = SparseMatrix::from_dense(3, 2, &[1.0, 2.0, 0.0, 1.0, -1.0, 0.5]);
        assert_eq!(a.nnz(), 4);
        let ab = a.compose(&b);
        assert_eq!(ab.to_dense(), vec![-1.0, 3.0, -3.0, 0.5]);
        assert_eq!(a.mul_vec(&[1.0, 2.0, 3.0]), vec![7.0, 7.0]);
        assert_eq!(a.transpose_mul_vec(&[1.0, 2.0]), vec![1.0, -2.0, 8.0]);
    }

    #[test]
    fn index_maps_select_without_arithmetic() {
        let a = SparseMatrix::from_dense(1, 3, &[1.0, 2.0, 3.0]);
        // position k of the selected vector is x[map[k]]
        let sel = a.select_columns(&[Some(1), None, Some(0)], 2);
        assert_eq!(sel.to_dense(), vec![3.0, 1.0]);
        let rows = SparseMatrix::from_dense(2, 2, &[1.0, 2.0, 3.0, 4.0]).select_rows(&[None, Some(0), Some(1)]);
        assert_eq!(rows.to_dense(), vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0]);
    }
}
