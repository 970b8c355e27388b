//! Encoding of one network's layers into a `LinearProgram`, on top of expressions for its input
//! (shared by several networks in a joint model). Relaxed: triangle ReLU, max-pool with p+1
//! rows; exact: big-M ReLU and max-pool with binaries; stable neurons need no new variable.

use super::expr::{Combiner, DenseExprs};
use super::{LinExpr, LinearProgram, RowKind};
use crate::bounds::{curve, product, Interval, NetworkBounds};
use crate::ir::{Curve, Layer, Network};
use crate::round::Acc;

/// Relaxed (LP) or exact (MILP) encoding of ReLU and max-pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Relaxed,
    Exact,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct EncodeOptions {
    pub mode: Mode,
    /// Give every affine output its own variable and equality row (the paper's formulation)
    /// instead of substituting affine maps into the expressions that use them.
    pub materialize_affine: bool,
    /// For a ReLU whose pre-activation bound is exactly 0 on one side (a branch-and-bound split),
    /// add the row `pre ≥ 0` (or `pre ≤ 0`): valid for any valid bound, exact for the split.
    pub phase_rows: bool,
    /// The paper's joint model, where two networks meet only at their shared input: twins of one
    /// layer structure are then not coupled at their ReLU pairs (`JointModel::coupling`).
    pub uncoupled: bool,
}

/// The triangle relaxation of one unstable ReLU in a relaxed model: its output variable `y` and
/// its upper row `c·y − z ≤ −l` (row `row`; `−z` as built has `constant` and `error`), so that a
/// caller can re-bound the model in place for tighter `[l, u]` (`LinearProgram::rebound_relu`).
#[derive(Clone, Debug, PartialEq)]
pub struct ReluRow {
    /// The network (index among those a joint model encodes), the ReLU layer, the neuron.
    pub net: usize,
    pub layer: usize,
    pub neuron: usize,
    pub y: usize,
    pub row: usize,
    pub constant: f64,
    pub error: f64,
    /// The pre-activation bounds it was built with (every re-bounding stays inside them, so the
    /// magnitudes the model's rounding errors were bounded with still hold).
    pub lower: f64,
    pub upper: f64,
}

/// Encodes layers `from..to` of `net` on top of `inputs` (the expressions of the vector at
/// position `from`); returns the expressions at position `to` (the logits for the last).
pub fn encode_network(
    lp: &mut LinearProgram,
    net: &Network,
    nb: &NetworkBounds,
    inputs: Vec<LinExpr>,
    opts: &EncodeOptions,
    positions: std::ops::Range<usize>,
) -> Vec<LinExpr> {
    encode_recording(lp, net, nb, inputs, opts, positions, &mut Vec::new())
}

/// `encode_network` that also lists the triangle relaxations it adds in `relus` (with `net` 0).
pub fn encode_recording(
    lp: &mut LinearProgram,
    net: &Network,
    nb: &NetworkBounds,
    inputs: Vec<LinExpr>,
    opts: &EncodeOptions,
    positions: std::ops::Range<usize>,
    relus: &mut Vec<ReluRow>,
) -> Vec<LinExpr> {
    let mut mag = lp.magnitudes();
    let mut comb = Combiner::new(lp.vars.len());
    let mut cur = inputs;
    for j in positions {
        let (inb, outb) = (nb.position(j), &nb.layers[j]);
        cur = match &net.layers[j].layer {
            Layer::Affine(a) => {
                let exprs: Vec<LinExpr> = match DenseExprs::from_sparse(&cur, &mag) {
                    Some(dense) => dense.combine_all(&a.weights, &a.bias).unwrap_or_else(|| {
                        let mut acc = Vec::new();
                        (0..a.weights.rows())
                            .map(|i| {
                                let (cols, vals) = a.weights.row(i);
                                dense.combine(cols, vals, a.bias[i], &mut acc)
                            })
                            .collect()
                    }),
                    None => {
                        let mags: Vec<f64> = cur.iter().map(|e| e.magnitude(&mag)).collect();
                        (0..a.weights.rows())
                            .map(|i| {
                                let (cols, vals) = a.weights.row(i);
                                let parts =
                                    cols.iter().zip(vals).map(|(&c, &w)| (w, &cur[c as usize], mags[c as usize]));
                                comb.combine_known(parts, a.bias[i], &mag)
                            })
                            .collect()
                    }
                };
                if opts.materialize_affine {
                    exprs
                        .into_iter()
                        .enumerate()
                        .map(|(i, e)| {
                            let v = new_var(lp, &mut mag, outb.lower[i], outb.upper[i], false);
                            let row = comb.combine([(1.0, &LinExpr::var(v)), (-1.0, &e)], 0.0, &mag);
                            lp.add_row(row, RowKind::Eq, 0.0);
                            LinExpr::var(v)
                        })
                        .collect()
                } else {
                    exprs
                }
            }
            Layer::Relu => (0..cur.len())
                .map(|i| {
                    let (l, u) = (inb.lower[i], inb.upper[i]);
                    if opts.phase_rows && l == 0.0 && u > 0.0 {
                        lp.add_row(cur[i].clone(), RowKind::Ge, 0.0);
                    } else if opts.phase_rows && u == 0.0 && l < 0.0 {
                        lp.add_row(cur[i].clone(), RowKind::Le, 0.0);
                    }
                    let (y, triangle) = relu(lp, &mut mag, &mut comb, &cur[i], l, u, opts.mode);
                    if let Some((v, row, constant, error)) = triangle {
                        relus.push(ReluRow {
                            net: 0,
                            layer: j,
                            neuron: i,
                            y: v,
                            row,
                            constant,
                            error,
                            lower: l,
                            upper: u,
                        });
                    }
                    y
                })
                .collect(),
            layer @ (Layer::SShaped(_) | Layer::Power(_) | Layer::Step(_)) => (layer.curves(cur.len()).enumerate())
                .map(|(i, f)| {
                    let (pre, out) = ((inb.lower[i], inb.upper[i]), (outb.lower[i], outb.upper[i]));
                    curve(lp, &mut mag, &mut comb, &cur[i], f, pre, out)
                })
                .collect(),
            Layer::Softmax(s) => {
                // each output within its box, every group summing to 1 (exact in real arithmetic);
                // an entry in no group passes through
                let grouped = s.grouped(cur.len());
                let y: Vec<LinExpr> = (0..cur.len())
                    .map(|i| match grouped[i] {
                        true => LinExpr::var(new_var(lp, &mut mag, outb.lower[i], outb.upper[i], false)),
                        false => cur[i].clone(),
                    })
                    .collect();
                for g in &s.groups {
                    lp.add_row(comb.combine(g.iter().map(|&i| (1.0, &y[i])), 0.0, &mag), RowKind::Eq, 1.0);
                }
                y
            }
            Layer::Product(p) => (p.pairs.iter().enumerate())
                .map(|(k, &(a, b))| {
                    let y = LinExpr::var(new_var(lp, &mut mag, outb.lower[k], outb.upper[k], false));
                    let (below, above) = product::planes((inb.lower[a], inb.upper[a]), (inb.lower[b], inb.upper[b]));
                    let rows = below.iter().map(|q| (q, RowKind::Ge)).chain(above.iter().map(|q| (q, RowKind::Le)));
                    for (q, kind) in rows {
                        // y − ca·a − cb·b ≥ (≤) −k1·k2, the right-hand side rounded to weaken the row
                        let rhs = -product::mul_rounded(q.k.0, q.k.1, kind == RowKind::Ge);
                        let parts = [(1.0, &y), (-q.ca, &cur[a]), (-q.cb, &cur[b])];
                        lp.add_row(comb.combine(parts, 0.0, &mag), kind, rhs);
                    }
                    y
                })
                .collect(),
            Layer::MaxPool(p) => {
                p.windows.iter().map(|w| max_pool(lp, &mut mag, &mut comb, &cur, w, inb, opts.mode)).collect()
            }
            Layer::IndexMap(m) => {
                m.map.iter().map(|j| j.map_or_else(|| LinExpr::constant(0.0), |j| cur[j].clone())).collect()
            }
        };
    }
    cur
}

/// `c ≤ (u − l)/u` of the upper line `c·y − z ≤ −l` of a ReLU on `[l, u]` with `u > 0`, `l ≤ 0`:
/// valid at `z = l` (y = 0) and `z = u` (y = u), hence on the whole graph; 1 (exact) when `l = 0`.
pub fn upper_line_scale(l: f64, u: f64) -> f64 {
    if l >= 0.0 {
        return 1.0;
    }
    ((u - l).next_down() / u).next_down()
}

fn new_var(lp: &mut LinearProgram, mag: &mut Vec<f64>, lower: f64, upper: f64, integer: bool) -> usize {
    let v = lp.add_var(lower, upper, integer);
    mag.push(lower.abs().max(upper.abs()));
    v
}

/// An element-wise curve's output `y` of pre-activation `z ∈ [l, u]` (`pre`), in both modes: a
/// variable within the layer's bounds `out` between the lines of `bounds::curve::lines`.
fn curve(
    lp: &mut LinearProgram,
    mag: &mut Vec<f64>,
    comb: &mut Combiner,
    z: &LinExpr,
    f: Curve,
    (l, u): (f64, f64),
    (lo, hi): (f64, f64),
) -> LinExpr {
    let y = LinExpr::var(new_var(lp, mag, lo, hi, false));
    let (below, above) = curve::lines(f, l, u);
    lp.add_row(comb.combine([(1.0, &y), (-below.slope, z)], 0.0, mag), RowKind::Ge, below.intercept);
    lp.add_row(comb.combine([(1.0, &y), (-above.slope, z)], 0.0, mag), RowKind::Le, above.intercept);
    y
}

/// The ReLU's output; for a relaxed unstable one, also its triangle: the output variable, the
/// upper row's index and the constant and error of `−z` in that row.
fn relu(
    lp: &mut LinearProgram,
    mag: &mut Vec<f64>,
    comb: &mut Combiner,
    z: &LinExpr,
    l: f64,
    u: f64,
    mode: Mode,
) -> (LinExpr, Option<(usize, usize, f64, f64)>) {
    if u <= 0.0 {
        return (LinExpr::constant(0.0), None);
    }
    if l >= 0.0 {
        return (z.clone(), None);
    }
    let y = new_var(lp, mag, 0.0, u, false);
    let yv = LinExpr::var(y);
    lp.add_row(comb.combine([(1.0, &yv), (-1.0, z)], 0.0, mag), RowKind::Ge, 0.0);
    match mode {
        Mode::Relaxed => {
            // the upper line y ≤ u·(z − l)/(u − l) as c·y − z ≤ −l (c rounded down, y ≥ 0): only
            // c and the right-hand side depend on the bounds
            let mut row = comb.combine([(-1.0, z)], 0.0, mag);
            let triangle = (y, lp.rows.len(), row.constant, row.error);
            row.terms.push((y, upper_line_scale(l, u)));
            lp.add_row(row, RowKind::Le, -l);
            (yv, Some(triangle))
        }
        Mode::Exact => {
            let a = LinExpr::var(new_var(lp, mag, 0.0, 1.0, true));
            // y ≤ z − l·(1 − a)  and  y ≤ u·a
            lp.add_row(comb.combine([(1.0, &yv), (-1.0, z), (-l, &a)], 0.0, mag), RowKind::Le, -l);
            lp.add_row(comb.combine([(1.0, &yv), (-u, &a)], 0.0, mag), RowKind::Le, 0.0);
            (yv, None)
        }
    }
}

fn max_pool(
    lp: &mut LinearProgram,
    mag: &mut Vec<f64>,
    comb: &mut Combiner,
    x: &[LinExpr],
    window: &[usize],
    b: &Interval,
    mode: Mode,
) -> LinExpr {
    // `Network::check_well_formed` rejects empty windows before any bound is computed
    debug_assert!(!window.is_empty(), "max-pool windows are non-empty");
    let Some(&best) = window.iter().max_by(|&&i, &&j| b.lower[i].total_cmp(&b.lower[j])) else {
        return LinExpr::default();
    };
    let max_lower = b.lower[best];
    // inputs whose upper bound is below the best lower bound can never be the maximum
    let live: Vec<usize> = window.iter().copied().filter(|&j| j == best || b.upper[j] > max_lower).collect();
    if live.len() == 1 {
        return x[best].clone();
    }
    let max_upper = live.iter().map(|&j| b.upper[j]).fold(f64::NEG_INFINITY, f64::max);
    let y = LinExpr::var(new_var(lp, mag, max_lower, max_upper, false));
    for &j in &live {
        lp.add_row(comb.combine([(1.0, &y), (-1.0, &x[j])], 0.0, mag), RowKind::Ge, 0.0);
    }
    match mode {
        Mode::Relaxed => {
            // Σ x_j ≥ y + Σ l_j − max l_j  (right-hand side rounded down: weaker, still valid)
            let mut rhs = Acc::new(-max_lower);
            live.iter().for_each(|&j| rhs.add(b.lower[j], 1.0));
            let parts = live.iter().map(|&j| (1.0, &x[j])).chain([(-1.0, &y)]);
            lp.add_row(comb.combine(parts, 0.0, mag), RowKind::Ge, rhs.lower());
        }
        Mode::Exact => {
            let bins: Vec<LinExpr> = live.iter().map(|_| LinExpr::var(new_var(lp, mag, 0.0, 1.0, true))).collect();
            lp.add_row(comb.combine(bins.iter().map(|a| (1.0, a)), 0.0, mag), RowKind::Eq, 1.0);
            for (&j, a) in live.iter().zip(&bins) {
                // y ≤ x_j + M_j (1 − a_j) with M_j ≥ u_max − l_j (rounded up: weaker, still valid)
                let m = (max_upper - b.lower[j]).next_up();
                lp.add_row(comb.combine([(1.0, &y), (-1.0, &x[j]), (m, a)], 0.0, mag), RowKind::Le, m);
            }
        }
    }
    y
}
