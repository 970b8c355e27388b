//! Counterexamples: a candidate point is rounded to float32 (float16 for variables declared so)
//! inside the box, run through the IR and through tract, and accepted only if every constraint
//! holds for both (and for the outputs rounded to float16 where declared so); plus a cheap
//! gradient search that proposes candidates.
//!
//! A coordinate whose range holds no value of its grid (`X_0 = 0.35`) keeps a real value `r` of
//! its range and the networks run on `r`'s rounding to nearest: a witness is the rounding of a
//! point that satisfies the input constraints (input terms are judged at the point).

use super::space::InputSpace;
use super::Item;
use crate::analysis::falsify;
use crate::analysis::objective::TRACT_TOLERANCE;
use crate::bounds::Interval;
use crate::ir::Network;
use crate::onnx::TractRunner;
use crate::round::upper_sum_minus;

/// A checked assignment: every network's input (float32 or float16 values) and tract's outputs
/// there (rounded to float16 where declared so).
#[derive(Clone, Debug, PartialEq)]
pub struct Witness {
    pub inputs: Vec<Vec<f64>>,
    pub outputs: Vec<Vec<f64>>,
    /// Variables whose range holds no float32 value: (variable, the real value that satisfies
    /// the constraints, its float32 rounding that the networks ran on).
    pub rounded: Vec<(usize, f64, f64)>,
}

/// The networks of a query with their tract replays, over one input space.
#[derive(Clone, Copy)]
pub struct Checker<'a> {
    pub nets: &'a [&'a Network],
    pub runners: &'a [TractRunner],
    pub space: &'a InputSpace,
}

impl Item {
    /// Does the item hold (rigorously) for these input values and network outputs?
    pub fn holds(&self, x: &[f64], outs: &[Vec<f64>]) -> bool {
        let terms =
            self.inputs.iter().map(|&(a, g)| (a, x[g])).chain(self.outputs.iter().map(|&(a, n, i)| (a, outs[n][i])));
        let g = upper_sum_minus(terms, self.rhs);
        if self.strict {
            g < 0.0
        } else {
            g <= 0.0
        }
    }

    /// `Σ a·v − rhs` in plain arithmetic (for the search).
    fn value(&self, x: &[f64], outs: &[Vec<f64>]) -> f64 {
        let i: f64 = self.inputs.iter().map(|&(a, g)| a * x[g]).sum();
        let o: f64 = self.outputs.iter().map(|&(a, n, k)| a * outs[n][k]).sum();
        i + o - self.rhs
    }
}

impl Checker<'_> {
    /// The IR's outputs of every network at a point over all variables.
    fn ir_outputs(&self, x: &[f64]) -> Option<Vec<Vec<f64>>> {
        self.nets.iter().enumerate().map(|(k, n)| n.forward(&self.space.network_point(x, k)).ok()).collect()
    }

    /// Accepts `x` (rounded to float32 inside `b`, see the module documentation for ranges
    /// without a float32 value) if every item holds with the IR's and with tract's outputs and
    /// the two agree.
    pub fn check(&self, x: &[f64], b: &Interval, items: &[Item]) -> Option<Witness> {
        let mut real = Vec::with_capacity(x.len());
        let mut run = Vec::with_capacity(x.len());
        let mut rounded = Vec::new();
        for (g, &v) in x.iter().enumerate() {
            let (lo, hi, grid) = (b.lower[g], b.upper[g], self.space.grids[g]);
            let (r, f) = match grid.inside(v, lo, hi) {
                Some(f) => (f, f),
                None if lo <= hi => {
                    let r = v.clamp(lo, hi);
                    let f = grid.nearest(r);
                    if !f.is_finite() {
                        return None;
                    }
                    rounded.push((g, r, f));
                    (r, f)
                }
                None => return None,
            };
            real.push(r);
            run.push(f);
        }
        let ir = self.ir_outputs(&run)?;
        if !items.iter().all(|it| it.holds(&real, &ir)) {
            return None;
        }
        let inputs: Vec<Vec<f64>> = (0..self.nets.len()).map(|k| self.space.network_point(&run, k)).collect();
        let tract: Vec<Vec<f64>> =
            self.runners.iter().zip(&inputs).map(|(r, x)| r.run(x).ok()).collect::<Option<_>>()?;
        let agree = ir
            .iter()
            .flatten()
            .zip(tract.iter().flatten())
            .all(|(&a, &t)| (a - t).abs() <= TRACT_TOLERANCE * (1.0 + a.abs().max(t.abs())));
        // outputs declared float16 must satisfy the property in that type too (tract's float32
        // outputs are their own float32 rounding)
        let declared: Vec<Vec<f64>> = (tract.iter().zip(&self.space.output_grids))
            .map(|(out, &grid)| out.iter().map(|&v| grid.nearest(v)).collect())
            .collect();
        let holds = |outs: &[Vec<f64>]| items.iter().all(|it| it.holds(&real, outs));
        (agree && holds(&tract) && holds(&declared)).then_some(Witness { inputs, outputs: declared, rounded })
    }

    /// The largest item value at `x` (≤ 0 everywhere means a candidate) and its item.
    fn worst(&self, x: &[f64], items: &[Item]) -> Option<(f64, usize)> {
        let outs = self.ir_outputs(x)?;
        items.iter().enumerate().map(|(k, it)| (it.value(x, &outs), k)).max_by(|a, b| a.0.total_cmp(&b.0))
    }

    /// Gradient (over all variables) of the item with the largest value at `x`.
    pub fn sensitivity(&self, x: &[f64], items: &[Item]) -> Option<Vec<f64>> {
        let (_, k) = self.worst(x, items)?;
        let mut grad = vec![0.0; x.len()];
        items[k].inputs.iter().for_each(|&(a, g)| grad[g] += a);
        for (n, net) in self.nets.iter().enumerate() {
            let mut w = vec![0.0; net.output_size()];
            items[k].outputs.iter().filter(|t| t.1 == n).for_each(|&(a, _, i)| w[i] += a);
            if w.iter().any(|&v| v != 0.0) {
                let gn = net.gradient(&self.space.network_point(x, n), &w).ok()?;
                self.space.maps[n].iter().zip(gn).for_each(|(&g, d)| grad[g] += d);
            }
        }
        Some(grad)
    }

    /// The falsifier (`falsify::descend`) on the largest item value, projected on `b`, from
    /// `start`; returns a checked witness if one turns up.
    pub fn attack(&self, start: &[f64], b: &Interval, items: &[Item], steps: usize) -> Option<Witness> {
        if items.is_empty() {
            return self.check(start, b, items);
        }
        let mut found = None;
        let probe = |x: &[f64]| Some((self.worst(x, items)?.0, self.sensitivity(x, items)?));
        falsify::descend(b, start, steps, probe, |x, value| {
            found = if value <= 0.0 { self.check(x, b, items) } else { None };
            found.is_some()
        });
        found
    }
}
