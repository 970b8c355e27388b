//! One model holding several networks that share the same input variables: the region (a box,
//! plus optional linear input constraints) is encoded once, then every network on top of it.

use super::expr::Combiner;
use super::{encode_network, encode_recording, EncodeOptions, LinExpr, LinearProgram, Mode, Prefix, ReluRow, RowKind};
use crate::bounds::difference::{difference, difference_lines, phases_differ};
use crate::bounds::{Interval, NetworkBounds};
use crate::ir::Network;

/// A linear constraint on the input: `Σ coeff·x[i] (kind) rhs`.
#[derive(Clone, Debug, PartialEq)]
pub struct InputConstraint {
    pub terms: Vec<(usize, f64)>,
    pub kind: RowKind,
    pub rhs: f64,
}

/// The joint model: input variables, and the output expressions of every network.
#[derive(Clone, Debug)]
pub struct JointModel {
    pub lp: LinearProgram,
    /// The input variables (shared by every network, or one block per network after
    /// [`JointModel::build_separate`]).
    pub inputs: Vec<usize>,
    /// Per network: which entries of `inputs` are its input, in order.
    pub network_inputs: Vec<Vec<usize>>,
    pub outputs: Vec<Vec<LinExpr>>,
    /// The triangle relaxations of unstable ReLUs, listed by `JointModel::build` and
    /// `JointModel::build_coupled` in relaxed mode (empty from the other builders).
    pub relus: Vec<ReluRow>,
    /// The bounds of `N0 − N1` after every layer that `JointModel::build_coupled` coupled the
    /// two networks on (none from the other builders).
    pub coupling: Option<Vec<Interval>>,
}

impl JointModel {
    /// Encodes `nets` (with their bounds over the same input box) on shared input variables.
    /// Leading layers identical to the first network's are encoded once and shared, so that
    /// identical computations cannot be relaxed differently in the two copies.
    pub fn build(
        nets: &[&Network],
        bounds: &[&NetworkBounds],
        constraints: &[InputConstraint],
        opts: &EncodeOptions,
    ) -> Self {
        let mut lp = LinearProgram::default();
        let (inputs, x) = input_vars(&mut lp, &bounds[0].input);
        add_input_constraints(&mut lp, &inputs, constraints);
        let first = nets[0];
        let split = nets[1..].iter().map(|n| first.shared_prefix(n)).max().unwrap_or(0);
        let mut relus = Vec::new();
        let shared = encode_recording(&mut lp, first, bounds[0], x.clone(), opts, 0..split, &mut relus);
        let mut outputs = vec![encode_recording(
            &mut lp,
            first,
            bounds[0],
            shared.clone(),
            opts,
            split..first.layers.len(),
            &mut relus,
        )];
        for (k, (net, nb)) in nets.iter().zip(bounds).enumerate().skip(1) {
            let p = first.shared_prefix(net);
            let (start, at) = if p == split { (shared.clone(), split) } else { (x.clone(), 0) };
            let from = relus.len();
            outputs.push(encode_recording(&mut lp, net, nb, start, opts, at..net.layers.len(), &mut relus));
            relus[from..].iter_mut().for_each(|r| r.net = k);
        }
        let network_inputs = vec![(0..inputs.len()).collect(); nets.len()];
        JointModel { lp, inputs, network_inputs, outputs, relus, coupling: None }
    }

    /// The joint model of `nets` on `bounds` (`build`, without input constraints), coupled at
    /// the ReLU pairs (`build_coupled`) where `coupling` applies: twins whose difference is then
    /// bounded as one function of the input.
    pub fn build_joint(nets: &[&Network], bounds: &[&NetworkBounds], opts: &EncodeOptions) -> Self {
        match Self::coupling(nets, bounds, opts) {
            Some(d) => Self::build_coupled([nets[0], nets[1]], [bounds[0], bounds[1]], &d, opts),
            None => Self::build(nets, bounds, &[], opts),
        }
    }

    /// A relaxed model of this one's kind on other `bounds` of the same region (a branch and
    /// bound's frame): coupled on this model's difference bounds when it is coupled (they hold
    /// on the whole region, whatever the neuron bounds), else `build`.
    pub fn rebuilt_on(&self, nets: &[&Network], bounds: &[&NetworkBounds], opts: &EncodeOptions) -> Self {
        match &self.coupling {
            Some(d) => Self::build_coupled([nets[0], nets[1]], [bounds[0], bounds[1]], d, opts),
            None => Self::build(nets, bounds, &[], opts),
        }
    }

    /// The difference bounds (`bounds::difference`) that couple a relaxed model of two networks
    /// with one layer structure and no shared layer (shared layers are encoded once instead).
    pub fn coupling(nets: &[&Network], bounds: &[&NetworkBounds], opts: &EncodeOptions) -> Option<Vec<Interval>> {
        match (nets, bounds) {
            ([a, b], [ba, bb]) if opts.mode == Mode::Relaxed && !opts.uncoupled && a.shared_prefix(b) == 0 => {
                difference(a, b, ba, bb)
            }
            _ => None,
        }
    }

    /// Encodes two networks of the same layer structure on shared inputs, layer by layer, and
    /// couples them at every ReLU whose phase is not fixed and equal in both: with `Δz` in
    /// `deltas[j]` (bounds of `A − B` at each layer's output, `bounds::difference`), the rows
    /// `lower(Δz) ≤ h_A − h_B ≤ upper(Δz)` of `bounds::difference::difference_lines`. The LP then
    /// bounds `A − B` at least as tightly as the symbolic difference, and can do better.
    pub fn build_coupled(
        nets: [&Network; 2],
        bounds: [&NetworkBounds; 2],
        deltas: &[Interval],
        opts: &EncodeOptions,
    ) -> Self {
        let mut lp = LinearProgram::default();
        let (inputs, x) = input_vars(&mut lp, &bounds[0].input);
        let mut cur = [x.clone(), x];
        let mut relus = Vec::new();
        for j in 0..nets[0].layers.len() {
            // the ReLU pairs' inputs, kept for their coupling rows (at j = 0 Δz is exactly 0)
            let pre = (matches!(nets[0].layers[j].layer, crate::ir::Layer::Relu) && j > 0).then(|| cur.clone());
            for k in 0..2 {
                let from = relus.len();
                let start = std::mem::take(&mut cur[k]);
                cur[k] = encode_recording(&mut lp, nets[k], bounds[k], start, opts, j..j + 1, &mut relus);
                relus[from..].iter_mut().for_each(|r| r.net = k);
            }
            if let Some(pre) = pre {
                couple(&mut lp, &pre, &cur, [bounds[0].position(j), bounds[1].position(j)], &deltas[j - 1]);
            }
        }
        let network_inputs = vec![(0..inputs.len()).collect(); 2];
        let [a, b] = cur;
        JointModel { lp, inputs, network_inputs, outputs: vec![a, b], relus, coupling: Some(deltas.to_vec()) }
    }

    /// Encodes every network on its own input variables (boxes from its bounds), for properties
    /// that relate networks evaluated at different points. `constraints` index the
    /// concatenation of all inputs, network by network.
    pub fn build_separate(
        nets: &[&Network],
        bounds: &[&NetworkBounds],
        constraints: &[InputConstraint],
        opts: &EncodeOptions,
    ) -> Self {
        let mut input = Interval { lower: Vec::new(), upper: Vec::new() };
        let mut maps = Vec::new();
        for nb in bounds {
            maps.push((input.len()..input.len() + nb.input.len()).collect());
            input.lower.extend(&nb.input.lower);
            input.upper.extend(&nb.input.upper);
        }
        Self::build_on(nets, bounds, &input, &maps, constraints, opts)
    }

    /// Encodes every network on input variables `input` (a box); network `k` reads variable
    /// `maps[k][i]` as its input `i` (so networks may share some inputs and not others).
    /// `constraints` index those variables. Each network's bounds must hold on its inputs' box.
    pub fn build_on(
        nets: &[&Network],
        bounds: &[&NetworkBounds],
        input: &Interval,
        maps: &[Vec<usize>],
        constraints: &[InputConstraint],
        opts: &EncodeOptions,
    ) -> Self {
        let mut lp = LinearProgram::default();
        let (inputs, _) = input_vars(&mut lp, input);
        add_input_constraints(&mut lp, &inputs, constraints);
        let outputs = nets
            .iter()
            .zip(bounds)
            .zip(maps)
            .map(|((net, nb), map)| {
                let x: Vec<LinExpr> = map.iter().map(|&g| LinExpr::var(inputs[g])).collect();
                encode_network(&mut lp, net, nb, x, opts, 0..net.layers.len())
            })
            .collect();
        JointModel { lp, inputs, network_inputs: maps.to_vec(), outputs, relus: Vec::new(), coupling: None }
    }

    /// Joins relaxations that each start with their own copy of the same input variables (the
    /// models LP tightening built, given as model, expressions and position) and encodes the
    /// remaining layers of every network. Only for networks that share no layer.
    pub fn from_prefixes(
        parts: Vec<Prefix>,
        nets: &[&Network],
        bounds: &[&NetworkBounds],
        opts: &EncodeOptions,
    ) -> Self {
        let n = bounds[0].input.len();
        let mut lp = LinearProgram::default();
        let mut outputs = Vec::with_capacity(parts.len());
        for (k, Prefix { lp: part, exprs, position }) in parts.into_iter().enumerate() {
            let offset = if k == 0 { 0 } else { lp.vars.len() - n };
            let map = |v: usize| if v < n { v } else { v + offset };
            lp.vars.extend(part.vars.into_iter().skip(if k == 0 { 0 } else { n }));
            for mut row in part.rows {
                row.coeffs.iter_mut().for_each(|t| t.0 = map(t.0));
                lp.rows.push(row);
            }
            let exprs = exprs
                .into_iter()
                .map(|mut e| {
                    e.terms.iter_mut().for_each(|t| t.0 = map(t.0));
                    e
                })
                .collect();
            outputs.push(encode_network(&mut lp, nets[k], bounds[k], exprs, opts, position..nets[k].layers.len()));
        }
        JointModel {
            lp,
            inputs: (0..n).collect(),
            network_inputs: vec![(0..n).collect(); nets.len()],
            outputs,
            relus: Vec::new(),
            coupling: None,
        }
    }

    /// `Σ weight·output[network][index] + constant` as one expression (rounding bounded).
    /// Terms whose expressions are identical (outputs of shared layers) are merged first, so
    /// that `N1[c] − N2[c]` of identical twins is exactly zero.
    pub fn objective(&self, terms: &[(f64, usize, usize)], constant: f64) -> LinExpr {
        self.linear(&[], terms, constant)
    }

    /// `Σ weight·input[i] + Σ weight·output[network][index] + constant`, as [`JointModel::objective`].
    pub fn linear(&self, input_terms: &[(f64, usize)], terms: &[(f64, usize, usize)], constant: f64) -> LinExpr {
        let input_exprs: Vec<(f64, LinExpr)> =
            input_terms.iter().map(|&(w, i)| (w, LinExpr::var(self.inputs[i]))).collect();
        let mut merged: Vec<(f64, &LinExpr)> = input_exprs.iter().map(|(w, e)| (*w, e)).collect();
        for &(w, n, i) in terms {
            let e = &self.outputs[n][i];
            match merged.iter_mut().find(|(_, m)| *m == e) {
                Some(slot) => slot.0 += w,
                None => merged.push((w, e)),
            }
        }
        let mag = self.lp.magnitudes();
        let mut comb = Combiner::new(mag.len());
        comb.combine(merged, constant, &mag)
    }

    /// Adds the row `expr (kind) rhs` (e.g. "N2's margin ≥ 0" for implication-only).
    pub fn constrain(&mut self, expr: LinExpr, kind: RowKind, rhs: f64) {
        self.lp.add_row(expr, kind, rhs);
    }

    /// The input part of a solver point (all networks' inputs, concatenated, when separate).
    pub fn input_point(&self, primal: &[f64]) -> Vec<f64> {
        self.inputs.iter().map(|&v| primal[v]).collect()
    }

    /// Network `k`'s input at a solver point.
    pub fn network_input(&self, primal: &[f64], k: usize) -> Vec<f64> {
        self.network_inputs[k].iter().map(|&g| primal[self.inputs[g]]).collect()
    }
}

/// The rows `s_lo·Δz + t_lo ≤ h_A − h_B ≤ s_hi·Δz + t_hi` of one ReLU pair, where its phases
/// differ (`phases_differ`); `pre`, `post`: the expressions before and after it.
fn couple(lp: &mut LinearProgram, pre: &[Vec<LinExpr>; 2], post: &[Vec<LinExpr>; 2], z: [&Interval; 2], d: &Interval) {
    let mag = lp.magnitudes();
    let mut comb = Combiner::new(mag.len());
    for i in (0..d.len()).filter(|&i| phases_differ(z, i)) {
        let (za, zb) = ((z[0].lower[i], z[0].upper[i]), (z[1].lower[i], z[1].upper[i]));
        let (lower, upper) = difference_lines(d.lower[i], d.upper[i], za, zb);
        for ((s, t), kind) in [(lower, RowKind::Ge), (upper, RowKind::Le)] {
            let parts = [(1.0, &post[0][i]), (-1.0, &post[1][i]), (-s, &pre[0][i]), (s, &pre[1][i])];
            lp.add_row(comb.combine(parts, 0.0, &mag), kind, t);
        }
    }
}

/// One variable per input coordinate, with the box's bounds, and their expressions.
fn input_vars(lp: &mut LinearProgram, input: &Interval) -> (Vec<usize>, Vec<LinExpr>) {
    let inputs: Vec<usize> = (0..input.len()).map(|i| lp.add_var(input.lower[i], input.upper[i], false)).collect();
    let x = inputs.iter().map(|&v| LinExpr::var(v)).collect();
    (inputs, x)
}

fn add_input_constraints(lp: &mut LinearProgram, inputs: &[usize], constraints: &[InputConstraint]) {
    for c in constraints {
        let terms = c.terms.iter().map(|&(i, k)| (inputs[i], k)).collect();
        lp.add_row(LinExpr { terms, constant: 0.0, error: 0.0 }, c.kind, c.rhs);
    }
}
