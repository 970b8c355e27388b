//! `twinverify bounds`: neuron bounds of one network around one point, and ReLU stability per
//! layer for the chosen method.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::args::{print_json, DomainArgs, PointArgs, SolverArgs};
use super::values;
use crate::bounds::{self, Method};
use crate::error::Result;
use crate::onnx;
use crate::tighten;

#[derive(Debug, Args)]
pub struct BoundsArgs {
    /// The ONNX model.
    pub net: PathBuf,
    #[command(flatten)]
    pub point: PointArgs,
    /// L∞ radius of the region around the point.
    #[arg(long, default_value_t = 0.01, value_parser = super::args::parse_nonnegative)]
    pub delta: f64,
    #[command(flatten)]
    pub clip: DomainArgs,
    /// How bounds are computed.
    #[arg(long, value_enum, default_value = "symbolic")]
    pub method: values::Method,
    #[command(flatten)]
    pub solver: SolverArgs,
    /// Bounds of the values float32 inference computes (onnxruntime, tract, PyTorch).
    #[arg(long)]
    pub float_sound: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: BoundsArgs) -> Result<()> {
    let net = onnx::load_as(&args.net, args.float_sound)?.network;
    let (x, _) = args.point.resolve()?;
    let map = args.point.file.map(&net, args.clip.domain)?;
    let region = map.region(&map.to_network(&x)?, args.delta)?;
    let start = Instant::now();
    let lp = tighten::LpOptions {
        solver: args.solver.apply(Default::default())?,
        materialize_affine: false,
        warm_start: true,
    };
    let method = Method::from(args.method);
    let mut nb = tighten::compute(&net, &region, method, &lp)?;
    if args.float_sound {
        nb = bounds::float32::widen(&net, &nb)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let stats = bounds::relu_stats(&net, &nb);
    let out = nb.output();
    if args.json {
        let doc = json!({"network": net.name, "method": method, "delta": args.delta, "float_sound": args.float_sound, "seconds": seconds,
            "relu_layers": stats, "output_lower": out.lower, "output_upper": out.upper});
        print_json(&doc)?;
        return Ok(());
    }
    println!("network {}   method {:?}   delta {}   {:.3} s", net.name, method, args.delta, seconds);
    println!("{:>6} {:>8} {:>8} {:>9} {:>9}", "layer", "neurons", "active", "inactive", "unstable");
    let mut total = [0usize; 3];
    for s in &stats {
        println!(
            "{:>6} {:>8} {:>8} {:>9} {:>9}",
            s.layer,
            s.active + s.inactive + s.unstable,
            s.active,
            s.inactive,
            s.unstable
        );
        total = [total[0] + s.active, total[1] + s.inactive, total[2] + s.unstable];
    }
    println!("{:>6} {:>8} {:>8} {:>9} {:>9}", "total", total.iter().sum::<usize>(), total[0], total[1], total[2]);
    println!("output bounds:");
    for (i, (l, u)) in out.lower.iter().zip(&out.upper).enumerate() {
        println!("  {i:>3}  [{l:+.6}, {u:+.6}]");
    }
    Ok(())
}
