//! Sparse affine expressions over LP variables, with a bound on their accumulated rounding
//! error, and the one linear-combination routine every encoding step uses.

use std::borrow::Cow;

use crate::ir::SparseMatrix;
use crate::round::{gamma, Acc};

/// Most values a dense matrix of `DenseExprs::combine_all` may hold (32 MB of f64).
const DENSE_LIMIT: usize = 1 << 22;

/// `Σ coeff·var + constant`, exact to within `error` over the variables' box.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinExpr {
    pub terms: Vec<(usize, f64)>,
    pub constant: f64,
    pub error: f64,
}

impl LinExpr {
    pub fn var(v: usize) -> Self {
        LinExpr { terms: vec![(v, 1.0)], constant: 0.0, error: 0.0 }
    }

    pub fn constant(c: f64) -> Self {
        LinExpr { terms: Vec::new(), constant: c, error: 0.0 }
    }

    /// Upper bound on `Σ |coeff·var| + |constant|` over the box (`mag[v]` bounds `|var|`).
    pub fn magnitude(&self, mag: &[f64]) -> f64 {
        let mut acc = Acc::new(self.constant.abs());
        for &(v, c) in &self.terms {
            acc.add(c.abs(), mag[v]);
        }
        acc.upper()
    }

    /// Value at a point (for witnesses and tests).
    pub fn eval(&self, x: &[f64]) -> f64 {
        self.constant + self.terms.iter().map(|&(v, c)| c * x[v]).sum::<f64>()
    }
}

/// Reusable dense scratch space for combining expressions.
pub struct Combiner {
    acc: Vec<f64>,
    marked: Vec<bool>,
    touched: Vec<usize>,
}

impl Combiner {
    pub fn new(vars: usize) -> Self {
        Combiner { acc: vec![0.0; vars], marked: vec![false; vars], touched: Vec::new() }
    }

    /// `Σₖ wₖ·eₖ + constant`. Its error is `Σₖ|wₖ|·error(eₖ)` (propagated) plus `γₙ·Σₖ|wₖ|·
    /// magnitude(eₖ)` (each new coefficient is a rounded sum of at most `n` products) plus the
    /// rounding of the constant.
    pub fn combine<'a>(
        &mut self,
        parts: impl IntoIterator<Item = (f64, &'a LinExpr)>,
        constant: f64,
        mag: &[f64],
    ) -> LinExpr {
        self.combine_known(parts.into_iter().map(|(w, e)| (w, e, e.magnitude(mag))), constant, mag)
    }

    /// `combine` with each part's `magnitude` given (computed once when a part is used often).
    pub fn combine_known<'a>(
        &mut self,
        parts: impl IntoIterator<Item = (f64, &'a LinExpr, f64)>,
        constant: f64,
        mag: &[f64],
    ) -> LinExpr {
        if self.acc.len() < mag.len() {
            self.acc.resize(mag.len(), 0.0);
            self.marked.resize(mag.len(), false);
        }
        let mut sums = RowSums::new(constant);
        let mut n = 1;
        for (w, e, m) in parts {
            if w == 0.0 {
                continue;
            }
            n += 1;
            for &(v, k) in &e.terms {
                if !self.marked[v] {
                    self.marked[v] = true;
                    self.touched.push(v);
                }
                self.acc[v] += w * k;
            }
            sums.add(w, e, m);
        }
        self.touched.sort_unstable();
        let terms = self
            .touched
            .drain(..)
            .filter_map(|v| {
                self.marked[v] = false;
                let k = std::mem::take(&mut self.acc[v]);
                (k != 0.0).then_some((v, k))
            })
            .collect();
        sums.finish(terms, n)
    }
}

/// What `Σₖ wₖ·eₖ + constant` accumulates besides its coefficients: the constant, the propagated
/// error `Σₖ|wₖ|·error(eₖ)` and the magnitude `Σₖ|wₖ|·magnitude(eₖ)`.
struct RowSums {
    constant: Acc,
    propagated: Acc,
    magnitude: Acc,
}

impl RowSums {
    fn new(constant: f64) -> Self {
        RowSums { constant: Acc::new(constant), propagated: Acc::new(0.0), magnitude: Acc::new(0.0) }
    }

    fn add(&mut self, w: f64, e: &LinExpr, magnitude: f64) {
        self.constant.add(w, e.constant);
        self.propagated.add(w.abs(), e.error);
        self.magnitude.add(w.abs(), magnitude);
    }

    /// The expression with coefficients `terms`, each a rounded sum of at most `n` products.
    fn finish(self, terms: Vec<(usize, f64)>, n: usize) -> LinExpr {
        let (constant, constant_error) = self.constant.value_and_error();
        let mut error = Acc::new(self.propagated.upper());
        error.add(gamma(n), self.magnitude.upper());
        error.add(constant_error, 1.0);
        LinExpr { terms, constant, error: error.upper() }
    }
}

/// The expressions of one position, the dense ones stored as contiguous rows over the model's
/// variables (combining those is a vectorisable multiply-add), the others kept sparse.
pub struct DenseExprs<'e> {
    vars: usize,
    exprs: &'e [LinExpr],
    /// Row in `coeffs` of each expression stored densely.
    dense_row: Vec<Option<usize>>,
    coeffs: Vec<f64>,
    magnitude: Vec<f64>,
}

impl<'e> DenseExprs<'e> {
    /// `None` when no expression is dense enough for a dense copy to pay off.
    pub fn from_sparse(exprs: &'e [LinExpr], mag: &[f64]) -> Option<DenseExprs<'e>> {
        let vars = mag.len();
        // a contiguous multiply-add costs a fraction of a scattered one
        let dense = |e: &LinExpr| e.terms.len() * 8 >= vars;
        if !exprs.iter().any(dense) {
            return None;
        }
        let mut dense_row = Vec::with_capacity(exprs.len());
        let mut coeffs = Vec::new();
        for e in exprs {
            if dense(e) {
                let r = coeffs.len() / vars;
                coeffs.resize(coeffs.len() + vars, 0.0);
                for &(v, k) in &e.terms {
                    coeffs[r * vars + v] = k;
                }
                dense_row.push(Some(r));
            } else {
                dense_row.push(None);
            }
        }
        Some(DenseExprs { vars, exprs, dense_row, coeffs, magnitude: exprs.iter().map(|e| e.magnitude(mag)).collect() })
    }

    /// Every row of `weights·exprs + bias` at once, as one matrix product (`matrixmultiply`'s
    /// blocked dgemm) when the dense copies stay small; the error accounting is `combine`'s, with
    /// γ of the full row length (any summation order, FMA or not, stays within it).
    /// `None` when the matrices would be too large.
    pub fn combine_all(&self, weights: &SparseMatrix, bias: &[f64]) -> Option<Vec<LinExpr>> {
        let (rows, n_in, vars) = (weights.rows(), self.exprs.len(), self.vars);
        if n_in * vars > DENSE_LIMIT || rows * vars > DENSE_LIMIT || rows * n_in > DENSE_LIMIT {
            return None;
        }
        // every expression dense: `coeffs` holds them in order already (rows are given in order)
        let e: Cow<[f64]> = match self.coeffs.len() == n_in * vars {
            true => Cow::Borrowed(&self.coeffs),
            false => {
                let mut e = vec![0.0; n_in * vars];
                for (j, ex) in self.exprs.iter().enumerate() {
                    let row = &mut e[j * vars..(j + 1) * vars];
                    match self.dense_row[j] {
                        Some(r) => row.copy_from_slice(&self.coeffs[r * vars..(r + 1) * vars]),
                        None => ex.terms.iter().for_each(|&(v, k)| row[v] = k),
                    }
                }
                Cow::Owned(e)
            }
        };
        let mut w = vec![0.0; rows * n_in];
        for i in 0..rows {
            let (cols, vals) = weights.row(i);
            cols.iter().zip(vals).for_each(|(&c, &v)| w[i * n_in + c as usize] = v);
        }
        let mut c = vec![0.0; rows * vars];
        // SAFETY: the three buffers hold rows×n_in, n_in×vars and rows×vars values in row-major
        // order, as the strides say, and do not overlap.
        unsafe {
            matrixmultiply::dgemm(
                rows,
                n_in,
                vars,
                1.0,
                w.as_ptr(),
                n_in as isize,
                1,
                e.as_ptr(),
                vars as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                vars as isize,
                1,
            );
        }
        let exprs = (0..rows)
            .map(|i| {
                let (cols, vals) = weights.row(i);
                let mut sums = RowSums::new(bias[i]);
                for (&j, &w) in cols.iter().zip(vals) {
                    sums.add(w, &self.exprs[j as usize], self.magnitude[j as usize]);
                }
                sums.finish(nonzero_terms(&c[i * vars..(i + 1) * vars]), n_in + 1)
            })
            .collect();
        Some(exprs)
    }

    /// `Σⱼ wⱼ·expr(colsⱼ) + constant`, with the same error accounting as `Combiner::combine`.
    pub fn combine(&self, cols: &[u32], vals: &[f64], constant: f64, acc: &mut Vec<f64>) -> LinExpr {
        acc.clear();
        acc.resize(self.vars, 0.0);
        let mut sums = RowSums::new(constant);
        for (&j, &w) in cols.iter().zip(vals) {
            let j = j as usize;
            let e = &self.exprs[j];
            match self.dense_row[j] {
                Some(r) => {
                    let row = &self.coeffs[r * self.vars..(r + 1) * self.vars];
                    for (a, &k) in acc.iter_mut().zip(row) {
                        *a += w * k;
                    }
                }
                None => e.terms.iter().for_each(|&(v, k)| acc[v] += w * k),
            }
            sums.add(w, e, self.magnitude[j]);
        }
        sums.finish(nonzero_terms(acc), cols.len() + 1)
    }
}

/// The non-zero entries of a dense coefficient row, as terms.
fn nonzero_terms(row: &[f64]) -> Vec<(usize, f64)> {
    row.iter().enumerate().filter(|(_, &k)| k != 0.0).map(|(v, &k)| (v, k)).collect()
}
