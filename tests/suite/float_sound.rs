//! Float32-sound mode: certified LROM bounds and widened neuron bounds hold for tract's float32
//! inference at sampled float32 points (uniform, corners, next to the optima's witnesses), while
//! the real-arithmetic bounds of tiny regions do not. `TWINVERIFY_SLOW=1`: ≥ 10⁶ points.

use crate::common::*;
use rand::{rngs::StdRng, Rng};
use twinverify::analysis::lrom::{analyse, LromConfig, RegionResult};
use twinverify::bounds::InputMap;
use twinverify::bounds::{self, float32, Interval, Method};
use twinverify::onnx::{self, TractRunner};

fn slow() -> bool {
    std::env::var("TWINVERIFY_SLOW").is_ok_and(|v| v == "1")
}

/// A float32 point `fl32(x)` for some `x` of the region: a corner, a neighbour of a witness, or
/// uniform.
fn point(rng: &mut StdRng, b: &Interval, witnesses: &[Vec<f64>]) -> Vec<f64> {
    let x: Vec<f64> = match rng.random_range(0..4) {
        0 => (0..b.len()).map(|i| if rng.random_bool(0.5) { b.lower[i] } else { b.upper[i] }).collect(),
        1 if !witnesses.is_empty() => {
            let w = &witnesses[rng.random_range(0..witnesses.len())];
            let step = |i: usize, r: f64| (b.upper[i] - b.lower[i]) * 1e-3 * r;
            (0..b.len()).map(|i| (w[i] + step(i, rng.random_range(-1.0..1.0))).clamp(b.lower[i], b.upper[i])).collect()
        }
        _ => (0..b.len()).map(|i| rng.random_range(b.lower[i]..=b.upper[i])).collect(),
    };
    x.iter().map(|&v| v as f32 as f64).collect()
}

/// Sampled points, bounds they broke (and by how much at most), and how far the float-sound
/// bounds moved from the real-arithmetic ones.
#[derive(Default, Debug)]
struct Tally {
    points: usize,
    checks: usize,
    sound_violations: usize,
    real_violations: usize,
    real_excess: f64,
    /// Largest and summed widening of a certified LROM bound, and how many bounds.
    widening: f64,
    widening_sum: f64,
    bounds: usize,
}

impl Tally {
    fn check(&mut self, sound: bool, value: f64, lower: f64, upper: f64) {
        self.checks += 1;
        let excess = (lower - value).max(value - upper);
        match (excess > 0.0, sound) {
            (true, true) => self.sound_violations += 1,
            (true, false) => {
                self.real_violations += 1;
                self.real_excess = self.real_excess.max(excess);
            }
            _ => {}
        }
    }
}

/// `(c, j, certified min, certified max)` for every class pair of a region.
fn ranges(r: &RegionResult) -> Vec<(usize, usize, f64, f64)> {
    r.pairs
        .iter()
        .map(|p| (p.c, p.j, p.min.certified(), p.max.as_ref().map_or(f64::INFINITY, |m| m.certified())))
        .collect()
}

/// LROM bounds of both modes and neuron bounds of N1 against float32 inference on one region.
#[allow(clippy::too_many_arguments)]
fn sample_region(
    pair: [&std::path::Path; 2],
    runners: &[TractRunner],
    x: &[f64],
    label: usize,
    delta: f64,
    points: usize,
    rng: &mut StdRng,
    tally: &mut Tally,
) {
    let (domain, mut cfg) = (Some((0.0, 1.0)), LromConfig { independent: false, ..Default::default() });
    let real_models = pair.map(|p| onnx::load(p).unwrap());
    let real = analyse(
        [&real_models[0].network, &real_models[1].network],
        runners,
        x,
        label,
        delta,
        &InputMap::plain(domain),
        &cfg,
    );
    let models = pair.map(|p| onnx::load_float32(p).unwrap());
    let nets = [&models[0].network, &models[1].network];
    cfg.float_sound = true;
    let (real, sound) =
        (real.unwrap(), analyse(nets, runners, x, label, delta, &InputMap::plain(domain), &cfg).unwrap());
    let region = Interval::around(x, delta, domain).unwrap();
    let nb = bounds::propagate(nets[0], &region, Method::Symbolic, None).unwrap();
    let (out, wide) = (nb.output().clone(), float32::widen(nets[0], &nb).unwrap().output().clone());
    let witnesses: Vec<Vec<f64>> =
        sound.pairs.iter().flat_map(|p| [Some(&p.min), p.max.as_ref()]).flatten().map(|e| e.witness.clone()).collect();
    let (real, sound) = (ranges(&real), ranges(&sound));
    for (r, s) in real.iter().zip(&sound) {
        for w in [r.2 - s.2, s.3 - r.3] {
            tally.widening = tally.widening.max(w);
            tally.widening_sum += w;
            tally.bounds += 1;
        }
    }
    for _ in 0..points {
        let p = point(rng, &region, &witnesses);
        let (a, b) = (runners[0].run(&p).unwrap(), runners[1].run(&p).unwrap());
        tally.points += 1;
        for (bounds, is_sound) in [(&real, false), (&sound, true)] {
            for &(c, j, lo, hi) in bounds {
                tally.check(is_sound, (a[c] - a[j]) - (b[c] - b[j]), lo, hi);
            }
        }
        for (i, &v) in a.iter().enumerate() {
            tally.check(false, v, out.lower[i], out.upper[i]);
            tally.check(true, v, wide.lower[i], wide.upper[i]);
        }
    }
}

/// Samples every region of `pairs × rows × deltas` and checks the float-sound bounds hold.
fn run(
    pairs: &[([std::path::PathBuf; 2], std::path::PathBuf, f64)],
    rows: usize,
    deltas: &[f64],
    points: usize,
    widest: f64,
) {
    let mut tally = Tally::default();
    let mut rng = rng(13);
    let start = std::time::Instant::now();
    for (pair, data, scale) in pairs {
        let runners: Vec<TractRunner> =
            pair.iter().map(|p| TractRunner::new(&onnx::load(p).unwrap()).unwrap()).collect();
        for (label, x) in csv_rows(data, *scale, rows) {
            for &delta in deltas {
                let paths = [pair[0].as_path(), pair[1].as_path()];
                sample_region(paths, &runners, &x, label, delta, points, &mut rng, &mut tally);
            }
        }
    }
    let mean = tally.widening_sum / tally.bounds as f64;
    eprintln!("float32 sampling ({:.1} s): {tally:?}, mean widening {mean:.3e}", start.elapsed().as_secs_f64());
    assert_eq!(tally.sound_violations, 0, "float-sound bounds broken by float32 inference: {tally:?}");
    assert!(tally.real_violations > 0, "tiny regions should show real-arithmetic bounds being exceeded: {tally:?}");
    assert!(tally.widening < widest, "float-sound bounds moved too far: {tally:?}");
}

#[test]
fn float_sound_lrom_and_neuron_bounds_hold_for_tract_float32_on_the_fixtures() {
    let f = |a: &str, b: &str| [fixture(a), fixture(b)];
    let pairs = [
        (f("twin_mlp.onnx", "twin_mlp_prune50.onnx"), fixture("twin_mlp_data.csv"), 1.0),
        (f("twin_mlp.onnx", "twin_mlp_quant8.onnx"), fixture("twin_mlp_data.csv"), 1.0),
        (f("twin_conv.onnx", "twin_conv_prune50.onnx"), fixture("twin_conv_data.csv"), 1.0 / 255.0),
        (f("twin_pool.onnx", "twin_pool_quant8.onnx"), fixture("twin_pool_data.csv"), 1.0 / 255.0),
    ];
    // 4 pairs × 4 rows × 3 radii = 48 regions: ~10⁵ points, 1.2·10⁶ when slow
    run(&pairs, 4, &[0.0, 1e-6, 0.02], if slow() { 25_000 } else { 2_100 }, 1e-4);
}

#[test]
fn float_sound_lrom_bounds_hold_for_tract_float32_on_fcnn7_twins() {
    let Some(anchors) = anchors() else { return };
    let nets = anchors.join("FANC/proof_transfer/nets");
    let pair = [nets.join("fcnn7.onnx"), nets.join("fcnn7_prune/fcnn7_prune_tune5.onnx")];
    let data = anchors.join("FANC/data/mnist_test.csv");
    // any summation order of 784 float32 products: γ₇₈₉ ≈ 4.7·10⁻⁵ of the first layer's terms
    run(&[(pair, data, 1.0 / 255.0)], 2, &[0.0, 0.001], if slow() { 50_000 } else { 2_000 }, 0.05);
}

#[test]
fn networks_outside_the_float32_model_are_refused_with_a_message() {
    let err = onnx::load_float32(fixture("conv_ops.onnx")).unwrap_err().to_string();
    assert!(err.contains("BatchNormalization") && err.contains("--float-sound"), "{err}");
    let folded = onnx::load(fixture("normalize_net.onnx")).unwrap();
    let region =
        Interval { lower: vec![0.0; folded.network.input_size()], upper: vec![1.0; folded.network.input_size()] };
    let nb = bounds::propagate(&folded.network, &region, Method::Interval, None).unwrap();
    if folded.network.layers.iter().any(|l| l.origin.len() > 1) {
        assert!(float32::FloatErrors::new(&folded.network, &nb).unwrap_err().to_string().contains("folds"));
    }
    let unfolded = onnx::load_float32(fixture("normalize_net.onnx")).unwrap();
    let nb = bounds::propagate(&unfolded.network, &region, Method::Interval, None).unwrap();
    assert!(float32::FloatErrors::new(&unfolded.network, &nb).is_ok());
}

fn example(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vnnlib-examples").join(name).display().to_string()
}

#[test]
fn every_command_takes_the_flag_and_lrom_specs_take_the_key() {
    let (net, data) =
        (fixture("twin_mlp.onnx").display().to_string(), fixture("twin_mlp_data.csv").display().to_string());
    let bounds = |extra: &[&str]| {
        let (ok, out, err) = run_cli(&[&["bounds", &net, "--data", &data, "--delta", "0", "--json"], extra].concat());
        assert!(ok, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
        floats(&doc["regions"][0]["output_lower"])
    };
    let (real, sound) = (bounds(&[]), bounds(&["--float-sound"]));
    assert!(real.iter().zip(&sound).all(|(r, s)| s < r && r - s < 1e-5), "{real:?} {sound:?}");
    let prune = fixture("twin_mlp_prune50.onnx").display().to_string();
    let lrom = ["lrom", &net, &prune, "--data", &data, "--samples", "0..3", "--delta", "0.01", "--float-sound"];
    let (ok, out, err) = run_cli(&lrom);
    assert!(ok && out.contains("established"), "{err}");
    let (ok, out, err) = run_cli(&["robust", &net, "--data", &data, "--samples", "0..3", "--float-sound"]);
    assert!(ok && out.contains("verified"), "{err}");
    // a margin with room stays unsat; identical twins' LROM is 0 in real arithmetic, but the
    // float32 error bound leaves "< 0" open
    let query = |q: &str, nets: &[String], extra: &[&str]| {
        let mut args = vec!["verify".to_string(), example(q)];
        nets.iter().for_each(|n| args.extend(["--network".to_string(), n.clone()]));
        args.extend(extra.iter().map(|s| s.to_string()));
        let (ok, out, err) = run_cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(ok, "{err}");
        out.lines().next().unwrap_or_default().to_string()
    };
    assert_eq!(query("robust_row0_v1.vnnlib", &[format!("N={net}")], &["--float-sound"]), "unsat");
    let twins = [format!("N1={net}"), format!("N2={}", fixture("twin_mlp_same.onnx").display())];
    assert_eq!(query("twin_v2.vnnlib", &twins, &[]), "unsat");
    let open = query("twin_v2.vnnlib", &twins, &["--float-sound", "--timeout", "2"]);
    assert!(open == "unknown" || open == "timed-out", "{open}");
    let spec = std::env::temp_dir().join(format!("twinverify-float-sound-{}.yaml", std::process::id()));
    let text = format!("networks: [{{name: a, path: {net}}}, {{name: b, path: {prune}}}]\ndata: {{csv: {data}}}\ndelta: 0.01\nfloat_sound: true\n");
    std::fs::write(&spec, text).unwrap();
    let loaded = twinverify::spec::Spec::load(&spec).unwrap();
    std::fs::remove_file(&spec).unwrap();
    assert!(loaded.float_sound);
}
