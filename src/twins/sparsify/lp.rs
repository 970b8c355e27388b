//! The LP of one layer (problem (11)): per neuron, `W̃ = P − Q` and `b̃ = p − q` with an L1 objective
//! and one phase row per validation row; coupled through `x̃` variables only when ε > 0 needs it.

use super::coupling::CouplingRow;
use super::SparsifyOptions;
use crate::encode::{LinExpr, LinearProgram, RowKind};
use crate::ir::Affine;
use crate::solve::{self, SolverConfig, Status};

/// The data of one layer's LP.
pub struct Problem<'a> {
    hidden: bool,
    has_bias: bool,
    neurons: usize,
    /// Inputs that are non-zero on some row: the only weights that get variables.
    cols: Vec<usize>,
    /// Per row, the non-zero inputs as (position in `cols`, value).
    inputs: Vec<Vec<(usize, f64)>>,
    /// Per row, the layer's current pre-activations.
    z: Vec<&'a [f64]>,
    current: &'a Affine,
    opts: &'a SparsifyOptions,
    /// Upper bound of every variable: the current L1 norm of the layer (which is feasible).
    bound: f64,
}

/// One neuron's new parameters: its weights as (input column, value) and its bias.
pub type NeuronRow = (Vec<(usize, f64)>, f64);

/// A solved layer: the new rows `(weights as (column, value), bias)`, or None when the coupled LP
/// failed; how many LPs ran and what failed.
pub struct Solved {
    pub rows: Option<Vec<NeuronRow>>,
    pub lps: usize,
    pub failures: Vec<String>,
}

impl<'a> Problem<'a> {
    /// `layer_in[s]` is the input of the layer on row `s`, `acts[s][l]` its output.
    pub fn new(
        current: &'a Affine,
        hidden: bool,
        has_bias: bool,
        layer_in: &[&[f64]],
        acts: &'a [Vec<Vec<f64>>],
        l: usize,
        opts: &'a SparsifyOptions,
    ) -> Self {
        let n_in = current.weights.cols();
        let used: Vec<bool> = (0..n_in).map(|j| layer_in.iter().any(|a| a[j] != 0.0)).collect();
        let cols: Vec<usize> = (0..n_in).filter(|&j| used[j]).collect();
        let mut position = vec![usize::MAX; n_in];
        cols.iter().enumerate().for_each(|(k, &j)| position[j] = k);
        let inputs = layer_in
            .iter()
            .map(|a| cols.iter().map(|&j| (position[j], a[j])).filter(|p| p.1 != 0.0).collect())
            .collect();
        let l1 = current.weights.entries().map(|(_, _, v)| v.abs()).sum::<f64>()
            + current.bias.iter().map(|b| b.abs()).sum::<f64>();
        Problem {
            hidden,
            has_bias,
            neurons: current.weights.rows(),
            cols,
            inputs,
            z: acts.iter().map(|a| a[l].as_slice()).collect(),
            current,
            opts,
            bound: (l1 * (1.0 + 1e-9)).next_up(),
        }
    }

    fn block_size(&self) -> usize {
        2 * self.cols.len() + 2 * self.has_bias as usize
    }

    /// Adds the variables of one neuron; returns the index of its first one.
    fn add_block(&self, lp: &mut LinearProgram) -> usize {
        let base = lp.vars.len();
        for _ in 0..self.block_size() {
            lp.add_var(0.0, self.bound, false);
        }
        base
    }

    /// `W̃ᵢ·a + b̃ᵢ` on row `s` for the neuron whose block starts at `base`.
    fn output(&self, base: usize, s: usize) -> LinExpr {
        let mut terms: Vec<(usize, f64)> =
            self.inputs[s].iter().flat_map(|&(k, v)| [(base + 2 * k, v), (base + 2 * k + 1, -v)]).collect();
        if self.has_bias {
            let b = base + 2 * self.cols.len();
            terms.extend([(b, 1.0), (b + 1, -1.0)]);
        }
        LinExpr { terms, constant: 0.0, error: 0.0 }
    }

    /// Whether the output of neuron `i` on row `s` may move (an active ReLU or a logit).
    fn free(&self, s: usize, i: usize) -> bool {
        !self.hidden || self.z[s][i] > 0.0
    }

    /// The rows of neuron `i` (block at `base`); `coupled(s)` gives the `x̃` variable of (s, i)
    /// when coupling rows use it.
    fn add_rows(&self, lp: &mut LinearProgram, base: usize, i: usize, coupled: impl Fn(usize) -> Option<usize>) {
        for s in 0..self.z.len() {
            let (z, e) = (self.z[s][i], self.output(base, s));
            let slack = self.opts.epsilon * z.abs();
            match (self.free(s, i), coupled(s)) {
                (false, _) => lp.add_row(e, RowKind::Le, self.opts.inactive_bound(z)),
                (true, Some(t)) => {
                    let mut e = e;
                    e.terms.push((t, -1.0));
                    lp.add_row(e, RowKind::Eq, 0.0);
                }
                (true, None) if slack == 0.0 => lp.add_row(e, RowKind::Eq, z),
                (true, None) => {
                    lp.add_row(e.clone(), RowKind::Ge, z - slack);
                    lp.add_row(e, RowKind::Le, z + slack);
                }
            }
        }
    }

    /// Reads neuron rows back from a primal solution (blocks at `bases`).
    fn rows_from(&self, primal: &[f64], base: usize) -> NeuronRow {
        let w = self.cols.iter().enumerate().map(|(k, &j)| (j, primal[base + 2 * k] - primal[base + 2 * k + 1]));
        let b = if self.has_bias {
            let b = base + 2 * self.cols.len();
            primal[b] - primal[b + 1]
        } else {
            0.0
        };
        (w.filter(|p| p.1 != 0.0).collect(), b)
    }

    fn current_row(&self, i: usize) -> NeuronRow {
        let (c, v) = self.current.weights.row(i);
        (c.iter().map(|&c| c as usize).zip(v.iter().copied()).collect(), self.current.bias[i])
    }
}

/// `Σ` of the first `n` variables: the L1 norm, as the neuron blocks come first in every model.
fn objective(n: usize) -> LinExpr {
    LinExpr { terms: (0..n).map(|v| (v, 1.0)).collect(), constant: 0.0, error: 0.0 }
}

fn run(lp: &LinearProgram, obj: &LinExpr, cfg: &SolverConfig) -> std::result::Result<Vec<f64>, String> {
    match solve::solve(lp, obj, solve::Sense::Minimise, cfg) {
        Ok(s) if s.status == Status::Optimal => Ok(s.primal),
        Ok(s) => Err(format!("{:?}", s.status)),
        Err(e) => Err(e.to_string()),
    }
}

/// Solves the layer: one LP per neuron without coupling rows, else one LP for the whole layer.
pub fn solve(p: &Problem, coupling: &[CouplingRow], cfg: &SolverConfig) -> Solved {
    if coupling.is_empty() {
        let mut single = cfg.clone();
        single.threads = Some(1);
        let neurons: Vec<usize> = (0..p.neurons).collect();
        let results = crate::par::map(&neurons, |&i| {
            let mut lp = LinearProgram::default();
            let base = p.add_block(&mut lp);
            p.add_rows(&mut lp, base, i, |_| None);
            run(&lp, &objective(p.block_size()), &single).map(|x| p.rows_from(&x, base))
        });
        let mut failures = Vec::new();
        let rows = results
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|e| {
                    failures.push(format!("neuron {i}: {e}"));
                    p.current_row(i)
                })
            })
            .collect();
        return Solved { rows: Some(rows), lps: p.neurons, failures };
    }
    let mut lp = LinearProgram::default();
    let bases: Vec<usize> = (0..p.neurons).map(|_| p.add_block(&mut lp)).collect();
    // x̃ variables for the (row, neuron) pairs the coupling rows mention
    let mut xt = vec![vec![None; p.neurons]; p.z.len()];
    let mut coupled = Vec::with_capacity(coupling.len());
    for r in coupling {
        let mut terms = Vec::with_capacity(r.coeffs.len());
        for &(i, c) in &r.coeffs {
            let z = p.z[r.sample][i];
            let slack = p.opts.epsilon * z.abs();
            terms.push((*xt[r.sample][i].get_or_insert_with(|| lp.add_var(z - slack, z + slack, false)), c));
        }
        coupled.push(LinExpr { terms, constant: r.constant, error: 0.0 });
    }
    for (i, &base) in bases.iter().enumerate() {
        p.add_rows(&mut lp, base, i, |s| xt[s][i]);
    }
    for (r, row) in coupling.iter().zip(coupled) {
        lp.add_row(row, r.kind, r.rhs);
    }
    match run(&lp, &objective(p.neurons * p.block_size()), cfg) {
        Ok(x) => Solved { rows: Some(bases.iter().map(|&b| p.rows_from(&x, b)).collect()), lps: 1, failures: vec![] },
        Err(e) => Solved { rows: None, lps: 1, failures: vec![format!("layer LP: {e}")] },
    }
}
