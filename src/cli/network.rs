//! `twinverify info` and `twinverify eval`: look at one network.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::args::{print_json, PointArgs};
use crate::data::argmax;
use crate::error::Result;
use crate::ir::numel;
use crate::onnx::{self, TractRunner};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The ONNX model.
    pub net: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The ONNX model.
    pub net: PathBuf,
    #[command(flatten)]
    pub point: PointArgs,
    /// Also run tract's own inference and print the largest difference.
    #[arg(long)]
    pub tract: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn info(args: InfoArgs) -> Result<()> {
    let model = onnx::load(&args.net)?;
    let (net, stored) = (&model.network, model.stored_parameters);
    if args.json {
        let layers: Vec<_> = net
            .layers
            .iter()
            .map(|l| json!({"kind": l.layer.kind(), "output_shape": l.output_shape, "parameters": l.layer.parameters(), "from": l.origin}))
            .collect();
        let doc = json!({"name": net.name, "input_shape": net.input_shape, "output_shape": net.output_shape(),
            "parameters": net.parameters(), "stored_parameters": stored, "relu_neurons": net.relu_count(), "layers": layers, "notes": net.notes});
        print_json(&doc)?;
        return Ok(());
    }
    println!("network     {} ({})", net.name, args.net.display());
    println!("input       {:?} ({} values)", net.input_shape, net.input_size());
    println!("output      {:?} ({} values)", net.output_shape(), net.output_size());
    println!(
        "parameters  {} in the IR, {stored} in the file (the IR folds normalisation and expands convolutions)    ReLU neurons {}",
        net.parameters(),
        net.relu_count()
    );
    println!();
    println!("{:>3}  {:<9} {:<18} {:>10}  from", "#", "layer", "output shape", "params");
    for (i, l) in net.layers.iter().enumerate() {
        let shape = format!("{:?}", l.output_shape);
        println!("{i:>3}  {:<9} {shape:<18} {:>10}  {}", l.layer.kind(), l.layer.parameters(), l.origin.join(", "));
    }
    for n in &net.notes {
        println!("note: {n}");
    }
    Ok(())
}

pub fn eval(args: EvalArgs) -> Result<()> {
    let model = onnx::load(&args.net)?;
    let (x, label) = args.point.resolve()?;
    let x = args.point.file.map(&model.network, None)?.to_network(&x)?;
    let logits = model.network.forward(&x)?;
    let tract = if args.tract { Some(TractRunner::new(&model)?.run(&x)?) } else { None };
    let diff = tract.as_ref().map(|t| onnx::max_abs_diff(&logits, t));
    let predicted = argmax(&logits);
    if args.json {
        let doc = json!({"logits": logits, "predicted": predicted, "label": label, "tract_logits": tract,
            "max_abs_diff": diff, "tract_agrees": diff.map(f64::is_finite)});
        print_json(&doc)?;
        return Ok(());
    }
    println!("logits     {}", fmt_vec(&logits));
    println!("predicted  {predicted}{}", label.map_or(String::new(), |l| format!("   (label {l})")));
    if let (Some(t), Some(d)) = (tract, diff) {
        println!("tract      {}", fmt_vec(&t));
        let n = numel(model.network.output_shape());
        if d.is_nan() {
            println!("IR and tract DISAGREE: a logit is not finite (NaN or infinite) on one side, over {n} outputs");
        } else {
            println!("max |IR − tract| = {d:.3e} over {n} outputs");
        }
    }
    Ok(())
}

fn fmt_vec(v: &[f64]) -> String {
    v.iter().map(|x| crate::report::fixed(*x, 6)).collect::<Vec<_>>().join(" ")
}
