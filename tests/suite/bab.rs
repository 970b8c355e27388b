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
    let problem =
        Problem { nets: &nets, coefficients: vec![obj.coefficients(0, net.output_size(), 1.0)], shared_layers: true };
    let opts = BabOptions { max_nodes: 200, gap: 0.0, ..Default::default() };
    let mut flaky = Flaky { net, obj: &obj, calls: 0 };
    let r = bab::minimise(&problem, &mut flaky, (vec![nb.clone()], ()), root, None, &opts).unwrap();
    assert!(r.stats.faults > 0, "faults were injected");
    assert!(r.lower >= root, "the bound never goes below the root's");
    let grid = grid_min(net, &obj, &b);
    assert!(r.lower <= grid + 1e-12, "certified {} above the grid minimum {grid}", r.lower);
    assert!(r.best.is_some_and(|(v, _)| v >= grid - 1e-12));
}
