//! `twinverify info` and `twinverify eval`: look at one network.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::args::{JsonArgs, PointArgs};
use crate::data::argmax;
use crate::error::Result;
use crate::ir::numel;
use crate::onnx::{self, TractRunner};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The ONNX model.
    pub net: PathBuf,
    #[command(flatten)]
    pub json: JsonArgs,
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
    #[command(flatten)]
    pub json: JsonArgs,
}

pub fn info(args: InfoArgs) -> Result<()> {
    let model = onnx::load(&args.net)?;
    let (net, stored) = (&model.network, model.stored_parameters);
    args.json.route_text();
    if args.json.json.is_some() {
        let layers: Vec<_> = net
            .layers
            .iter()
            .map(|l| json!({"kind": l.layer.kind(), "output_shape": l.output_shape, "parameters": l.layer.parameters(), "from": l.origin}))
            .collect();
        let doc = json!({"name": net.name, "input_shape": net.input_shape, "output_shape": net.output_shape(),
            "parameters": net.parameters(), "stored_parameters": stored, "relu_neurons": net.relu_count(), "layers": layers, "notes": net.notes});
        args.json.emit(|| doc)?;
    }
    crate::say!("network     {} ({})", net.name, args.net.display());
    crate::say!("input       {:?} ({} values)", net.input_shape, net.input_size());
    crate::say!("output      {:?} ({} values)", net.output_shape(), net.output_size());
    crate::say!(
        "parameters  {} in the IR, {stored} in the file (the IR folds normalisation and expands convolutions)    ReLU neurons {}",
        net.parameters(),
        net.relu_count()
    );
    crate::say!();
    crate::say!("{:>3}  {:<9} {:<18} {:>10}  from", "#", "layer", "output shape", "params");
    for (i, l) in net.layers.iter().enumerate() {
        let shape = format!("{:?}", l.output_shape);
        crate::say!("{i:>3}  {:<9} {shape:<18} {:>10}  {}", l.layer.kind(), l.layer.parameters(), l.origin.join(", "));
    }
    for n in &net.notes {
        crate::say!("note: {n}");
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
    args.json.route_text();
    if args.json.json.is_some() {
        let doc = json!({"logits": logits, "predicted": predicted, "label": label, "tract_logits": tract,
            "max_abs_diff": diff, "tract_agrees": diff.map(f64::is_finite)});
        args.json.emit(|| doc)?;
    }
    crate::say!("logits     {}", fmt_vec(&logits));
    crate::say!("predicted  {predicted}{}", label.map_or(String::new(), |l| format!("   (label {l})")));
    if let (Some(t), Some(d)) = (tract, diff) {
        crate::say!("tract      {}", fmt_vec(&t));
        let n = numel(model.network.output_shape());
        if d.is_nan() {
            crate::say!("IR and tract DISAGREE: a logit is not finite (NaN or infinite) on one side, over {n} outputs");
        } else {
            crate::say!("max |IR − tract| = {d:.3e} over {n} outputs");
        }
    }
    Ok(())
}

fn fmt_vec(v: &[f64]) -> String {
    v.iter().map(|x| crate::report::fixed(*x, 6)).collect::<Vec<_>>().join(" ")
}
