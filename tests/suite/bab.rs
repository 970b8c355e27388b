//! The certified branch and bound on ReLU phases: on the 2-input fixture its certified minimum
//! meets the MILP optimum and a dense grid's minimum; a search stopped early still holds against
//! many sampled points; a node that fails to certify stays open and the bound stays sound.

use crate::common::*;
use rand::Rng;
use twinverify::analysis::bab::{self, BabOptions, BabSettings, Bounder, Branching, Evaluated, Problem, Stop};
use twinverify::analysis::objective::{Certificate, OutputObjective, Region};
use twinverify::bounds::{self, Interval, Method, NetworkBounds};
use twinverify::encode::{EncodeOptions, JointModel, Mode};
use twinverify::ir::Network;
use twinverify::onnx::{self, TractRunner};
use twinverify::solve::{self, Sense, SolverConfig};

/// The smallest value of `obj` over a 401×401 grid of the box `b` (2 inputs).
fn grid_min(net: &Network, obj: &OutputObjective, b: &Interval) -> f64 {
    let n = 400;
    let mut best = f64::INFINITY;
    for i in 0..=n {
        for j in 0..=n {
            let t = |k: usize, s: usize| b.lower[k] + (b.upper[k] - b.lower[k]) * s as f64 / n as f64;
            let x = [t(0, i), t(1, j)];
            best = best.min(obj.eval(&[net], &x).unwrap());
        }
    }
    best
}

/// The MILP optimum of `obj` over the box (the solver's word, gap 0).
fn milp_min(net: &Network, nb: &NetworkBounds, obj: &OutputObjective) -> f64 {
    let opts = EncodeOptions { mode: Mode::Exact, ..Default::default() };
    let model = JointModel::build(&[net], &[nb], &[], &opts);
    let cfg = SolverConfig { mip_gap: Some(0.0), ..Default::default() };
    solve::solve(&model.lp, &model.objective(&obj.terms, obj.constant), Sense::Minimise, &cfg).unwrap().objective
}

#[test]
fn branch_and_bound_meets_the_milp_and_the_grid_on_two_inputs() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let runners = vec![TractRunner::new(&model).unwrap()];
    let net = &model.network;
    let nets = [net];
    let solver = SolverConfig::default();
    let settings = BabSettings { gap: 1e-9, seconds: Some(60.0), ..Default::default() };
    let mut closed_by_branching = 0;
    for (label, x) in csv_rows(&fixture("tiny_2d_data.csv"), 1.0, 12) {
        let b = Interval::around(&x, 0.25, Some((0.0, 1.0))).unwrap();
        let nb = bounds::propagate(net, &b, Method::Symbolic, None).unwrap();
        let refs = [&nb];
        let lp = JointModel::build(&nets, &refs, &[], &EncodeOptions::default());
        let anchor = x.clone();
        let region = Region::new(&nets, &runners, &refs, &lp, &anchor);
        for j in (0..net.output_size()).filter(|&j| j != label) {
            let obj = OutputObjective::margin(label, j);
            for sense in [Sense::Minimise, Sense::Maximise] {
                let root = region.optimise(&obj, sense, Some(&solver));
                let best = bab::refine(&region, &obj, sense, root.clone(), None, &solver, &settings).unwrap();
                let sign = if sense == Sense::Minimise { 1.0 } else { -1.0 };
                let flipped = OutputObjective {
                    terms: obj.terms.iter().map(|&(w, n, i)| (sign * w, n, i)).collect(),
                    constant: 0.0,
                };
                let (grid, milp) = (grid_min(net, &flipped, &b), milp_min(net, &nb, &flipped));
                let (certified, attained) = (sign * best.certified(), sign * best.attained().unwrap());
                // sound: never above the grid; finished: meets the MILP and its own witness
                assert!(certified <= grid + 1e-12, "({label},{j}) {sense:?}: certified {certified} > grid {grid}");
                assert!((certified - milp).abs() <= 1e-6, "({label},{j}) {sense:?}: {certified} vs MILP {milp}");
                assert!(attained - certified <= 1e-6, "({label},{j}) {sense:?}: not closed [{certified}, {attained}]");
                assert!(grid - certified <= 1e-2, "the grid is within its spacing times the slope of the optimum");
                assert!(sign * root.certified() <= certified + 1e-12, "never weaker than the root LP");
                if best.certificate == Certificate::Branching {
                    closed_by_branching += 1;
                    assert_eq!(best.search.as_ref().unwrap().stop, Stop::Closed);
                }
            }
        }
    }
    assert!(closed_by_branching > 0, "some objective needs branching on this fixture");
}

/// A search cut short (two nodes, then one second) still gives a bound that no sampled point of
/// the region beats, on the twin fixtures (joint LROM objective, both networks split).
#[test]
fn a_search_cut_short_still_bounds_every_sampled_point() {
    use twinverify::analysis::lrom::{analyse, LromConfig};
    use twinverify::bounds::InputMap;
    let names = ["twin_mlp.onnx", "twin_mlp_prune50.onnx"];
    let models = names.map(|n| onnx::load(fixture(n)).unwrap());
    let runners: Vec<_> = models.iter().map(|m| TractRunner::new(m).unwrap()).collect();
    let nets = [&models[0].network, &models[1].network];
    let mut r = rng(11);
    for (budget, seconds) in [(2, 60.0), (20_000, 1.0)] {
        let mut cfg = LromConfig { independent: false, threshold: f64::MAX, ..Default::default() };
        cfg.encode.mode = Mode::Exact;
        cfg.bab = BabSettings { max_nodes: budget, seconds: Some(seconds), gap: 0.0, branching: Branching::Babsr };
        for (label, x) in csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 2) {
            let delta = 0.1;
            let res = analyse(nets, &runners, &x, label, delta, &InputMap::plain(Some((0.0, 1.0))), &cfg).unwrap();
            for p in &res.pairs {
                let (lo, hi) = (p.min.certified(), p.max.as_ref().unwrap().certified());
                for _ in 0..100_000 / (2 * res.pairs.len()) {
                    let s: Vec<f64> = x.iter().map(|&v| (v + r.random_range(-delta..=delta)).clamp(0.0, 1.0)).collect();
                    let (a, b) = (nets[0].forward(&s).unwrap(), nets[1].forward(&s).unwrap());
                    let v = (a[p.c] - a[p.j]) - (b[p.c] - b[p.j]);
                    assert!(lo <= v && v <= hi, "budget {budget}: sampled {v} outside [{lo}, {hi}]");
                }
            }
        }
    }
}

/// Certifies nodes symbolically and fails on every second one (fault injection).
struct Flaky<'a> {
    net: &'a Network,
    obj: &'a OutputObjective,
    calls: usize,
}

impl Bounder for Flaky<'_> {
    type Witness = Vec<f64>;
    type Tag = ();
    fn evaluate(&mut self, nbs: &[NetworkBounds], _: &()) -> twinverify::error::Result<Evaluated<Vec<f64>>> {
        self.calls += 1;
        if self.calls.is_multiple_of(2) {
            return Err(twinverify::error::Error::Input("injected LP failure".into()));
        }
        let lower = self.obj.symbolic_bound(&[self.net], &[&nbs[0]], Sense::Minimise);
        let b = &nbs[0].input;
        let centre: Vec<f64> = (0..b.len()).map(|i| 0.5 * (b.lower[i] + b.upper[i])).collect();
        let v = self.obj.eval(&[self.net], &centre)?;
        Ok(Evaluated::Bounded { lower, found: Some((v, centre)), tag: () })
    }
}

#[test]
fn a_node_that_fails_to_certify_stays_open_and_the_bound_stays_sound() {
    let model = onnx::load(fixture("tiny_2d.onnx")).unwrap();
    let net = &model.network;
    let nets = [net];
    let b = Interval { lower: vec![0.0, 0.0], upper: vec![1.0, 1.0] };
    let nb = bounds::propagate(net, &b, Method::Symbolic, None).unwrap();
    let obj = OutputObjective::margin(0, 1);
    let root = obj.symbolic_bound(&nets, &[&nb], Sense::Minimise);
    let problem = Problem {
        nets: &nets,
        coefficients: vec![obj.coefficients(0, net.output_size(), 1.0)],
        shared_layers: true,
        twins: None,
    };
    let opts = BabOptions { max_nodes: 200, gap: 0.0, ..Default::default() };
    let mut flaky = Flaky { net, obj: &obj, calls: 0 };
    let r = bab::minimise(&problem, &mut flaky, (vec![nb.clone()], ()), root, None, &opts).unwrap();
    assert!(r.stats.faults > 0, "faults were injected");
    assert!(r.lower >= root, "the bound never goes below the root's");
    let grid = grid_min(net, &obj, &b);
    assert!(r.lower <= grid + 1e-12, "certified {} above the grid minimum {grid}", r.lower);
    assert!(r.best.is_some_and(|(v, _)| v >= grid - 1e-12));
}

/// The root's relaxed model re-bounded in place for a node (what `verify`'s branch and bound
/// re-solves from the parent's basis) is a valid relaxation of the node, at least as tight as the
/// model built afresh on the node's bounds: along random split paths on `twin_mlp` alone and
/// jointly with its quantised twin, its certified minimum is ≥ the fresh model's and ≤ the
/// objective at every sampled point of the node.
#[test]
fn a_root_model_rebounded_for_a_node_relaxes_the_node_at_least_as_tightly_as_a_fresh_one() {
    fn refs(nbs: &[NetworkBounds]) -> Vec<&NetworkBounds> {
        nbs.iter().collect()
    }
    let models: Vec<_> =
        ["twin_mlp.onnx", "twin_mlp_quant8.onnx"].iter().map(|f| onnx::load(fixture(f)).unwrap()).collect();
    let data = csv_rows(&fixture("twin_mlp_data.csv"), 1.0, 4);
    let opts = EncodeOptions { mode: Mode::Relaxed, materialize_affine: false, phase_rows: true, uncoupled: false };
    let cfg = SolverConfig::default();
    // the certified minimum, or +∞ when the model is proved infeasible
    let certified =
        |m: &JointModel, obj: &twinverify::encode::LinExpr| match solve::solve(&m.lp, obj, Sense::Minimise, &cfg) {
            Ok(sol) => solve::certify::bound(&m.lp, obj, Sense::Minimise, sol.row_duals.as_ref().unwrap()),
            Err(_) => {
                assert!(solve::certify::proves_infeasible(&m.lp, &cfg), "a solve failed on a feasible model");
                f64::INFINITY
            }
        };
    let mut rng = rng(11);
    let (mut nodes, mut rebounded, mut empty, mut inside) = (0, 0, 0, 0);
    for count in [1, 2] {
        let nets: Vec<&Network> = models[..count].iter().map(|m| &m.network).collect();
        let last = count - 1;
        for (_, x) in &data {
            let eps = 0.3;
            let b = Interval { lower: x.iter().map(|v| v - eps).collect(), upper: x.iter().map(|v| v + eps).collect() };
            let root: Vec<NetworkBounds> =
                nets.iter().map(|n| bounds::propagate(n, &b, Method::Symbolic, None).unwrap()).collect();
            let root_model = JointModel::build(&nets, &refs(&root), &[], &opts);
            assert!(root_model.relus.iter().any(|r| r.net == last), "the box leaves some ReLU unstable");
            for path in 0..6 {
                let (c, j) = (path % 3, (path + 1) % 3);
                let terms = [(1.0, 0, c), (-1.0, last, j)];
                let mut nbs = root.clone();
                let mut splits: Vec<(usize, usize, usize, bool)> = Vec::new();
                for _ in 0..3 {
                    let unstable: Vec<(usize, usize, usize)> = (0..count)
                        .flat_map(|k| {
                            let (net, nb) = (nets[k], &nbs[k]);
                            (1..net.layers.len())
                                .filter(|&r| matches!(net.layers[r].layer, twinverify::ir::Layer::Relu))
                                .flat_map(move |r| {
                                    let pre = &nb.layers[r - 1];
                                    (0..pre.lower.len())
                                        .filter(move |&i| pre.lower[i] < 0.0 && pre.upper[i] > 0.0)
                                        .map(move |i| (k, r, i))
                                })
                        })
                        .collect();
                    if unstable.is_empty() {
                        break;
                    }
                    let (k, r, i) = unstable[rng.random_range(0..unstable.len())];
                    let active = rng.random_bool(0.5);
                    let mut prior = nbs[k].clone();
                    match active {
                        true => prior.layers[r - 1].lower[i] = 0.0,
                        false => prior.layers[r - 1].upper[i] = 0.0,
                    }
                    let child = bounds::propagate_within(nets[k], &prior, r).unwrap();
                    if child.layers.iter().any(|l| l.lower.iter().zip(&l.upper).any(|(lo, hi)| lo > hi)) {
                        break; // no input reaches that phase
                    }
                    nbs[k] = child;
                    splits.push((k, r, i, active));
                }
                let fresh = JointModel::build(&nets, &refs(&nbs), &[], &opts);
                let mut frame = root_model.clone();
                for r in &root_model.relus {
                    let pre = nbs[r.net].position(r.layer);
                    frame.lp.rebound_relu(r, pre.lower[r.neuron], pre.upper[r.neuron]);
                }
                rebounded += (frame.lp != root_model.lp) as usize;
                let lo_fresh = certified(&fresh, &fresh.objective(&terms, 0.0));
                let lo_frame = certified(&frame, &frame.objective(&terms, 0.0));
                let close = lo_frame >= lo_fresh - 1e-7 * (1.0 + lo_fresh.abs());
                assert!(lo_frame >= lo_fresh || close, "{count} nets: re-bounded {lo_frame} < fresh {lo_fresh}");
                empty += lo_frame.is_infinite() as usize;
                for _ in 0..3000 {
                    let p: Vec<f64> = b.lower.iter().zip(&b.upper).map(|(l, u)| rng.random_range(*l..=*u)).collect();
                    let outs: Vec<Vec<Vec<f64>>> = nets.iter().map(|n| n.forward_all(&p).unwrap()).collect();
                    if splits.iter().all(|&(k, r, i, active)| (outs[k][r - 1][i] >= 0.0) == active) {
                        inside += 1;
                        let v = outs[0].last().unwrap()[c] - outs[last].last().unwrap()[j];
                        assert!(
                            v >= lo_frame,
                            "{count} nets: a point of the node has {v} below the re-bounded {lo_frame}"
                        );
                    }
                }
                nodes += 1;
            }
        }
    }
    let counts = format!("nodes {nodes}, re-bounded {rebounded}, empty {empty}, points inside {inside}");
    assert!(nodes >= 40 && rebounded >= 20 && empty < nodes / 2 && inside >= 10_000, "{counts}");
}
