//! `twinverify bounds`: neuron bounds of one network around one point, and ReLU stability per
//! layer for the chosen method.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::args::{JsonArgs, PointArgs, RegionArgs, SolverArgs};
use super::values;
use crate::bounds::{self, Method, ReluStats};
use crate::error::Result;
use crate::onnx;
use crate::report::signed;
use crate::tighten;

#[derive(Debug, Args)]
pub struct BoundsArgs {
    /// The ONNX model.
    pub net: PathBuf,
    #[command(flatten)]
    pub point: PointArgs,
    #[command(flatten)]
    pub region: RegionArgs,
    /// How bounds are computed (lp: every unstable ReLU's input and every output minimised and
    /// maximised over the LP relaxation, certified by its duals).
    #[arg(long, value_enum, default_value = "symbolic")]
    pub method: values::Method,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Bounds of the values float32 inference computes (onnxruntime, tract, PyTorch).
    #[arg(long)]
    pub float_sound: bool,
    #[command(flatten)]
    pub json: JsonArgs,
}

pub fn run(args: BoundsArgs) -> Result<()> {
    args.json.route_text();
    let net = onnx::load_as(&args.net, args.float_sound)?.network;
    let (x, _) = args.point.resolve()?;
    let map = args.point.file.map(&net, args.region.clip.domain)?;
    let lp = tighten::LpOptions {
        solver: args.solver.apply(Default::default())?,
        materialize_affine: false,
        warm_start: true,
        deadline: None,
        alpha_first: false,
    };
    let method = Method::from(args.method);
    let mut regions = Vec::new();
    for delta in args.region.deltas() {
        let region = map.region(&map.to_network(&x)?, delta)?;
        let start = Instant::now();
        let mut nb = tighten::compute(&net, &region, method, &lp)?;
        if method == Method::Lp {
            tighten::tighten_outputs(&net, &region, &mut nb, &lp);
        }
        if args.float_sound {
            nb = bounds::float32::widen(&net, &nb)?;
        }
        let seconds = start.elapsed().as_secs_f64();
        let (stats, out) = (bounds::relu_stats(&net, &nb), nb.output());
        print_region(&net.name, method, delta, seconds, &stats, (&out.lower, &out.upper));
        regions.push(json!({"delta": delta, "seconds": seconds, "relu_layers": stats,
            "output_lower": out.lower, "output_upper": out.upper}));
    }
    args.json
        .emit(|| json!({"network": net.name, "method": method, "float_sound": args.float_sound, "regions": regions}))
}

/// The ReLU phases per layer and the output bounds of one region, as text.
fn print_region(name: &str, method: Method, delta: f64, seconds: f64, stats: &[ReluStats], out: (&[f64], &[f64])) {
    crate::say!("network {name}   method {}   delta {delta}   {seconds:.3} s", format!("{method:?}").to_lowercase());
    crate::say!("{:>6} {:>8} {:>8} {:>9} {:>9}", "layer", "neurons", "active", "inactive", "unstable");
    let mut total = [0usize; 3];
    for s in stats {
        crate::say!(
            "{:>6} {:>8} {:>8} {:>9} {:>9}",
            s.layer,
            s.active + s.inactive + s.unstable,
            s.active,
            s.inactive,
            s.unstable
        );
        total = [total[0] + s.active, total[1] + s.inactive, total[2] + s.unstable];
    }
    crate::say!("{:>6} {:>8} {:>8} {:>9} {:>9}", "total", total.iter().sum::<usize>(), total[0], total[1], total[2]);
    crate::say!("output bounds:");
    for (i, (l, u)) in out.0.iter().zip(out.1).enumerate() {
        crate::say!("  {i:>3}  [{}, {}]", signed(*l, 6), signed(*u, 6));
    }
}
