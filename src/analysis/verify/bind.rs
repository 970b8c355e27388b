//! Binds a parsed query to ONNX files: one file per network not declared `equal-to`; several
//! inputs, outputs and hidden tensors as `vnnlib::expand` splits them; element types (real,
//! float64, float32 or float16, integer outputs) and declared shapes checked; the property
//! becomes items over an input space.

use std::path::{Path, PathBuf};

use super::space::{input_space, items, Grid, InputSpace};
use super::Item;
use crate::error::{Error, Result};
use crate::ir::Network;
use crate::onnx::{self, Cut, OnnxModel, TractRunner};
use crate::vnnlib::{self, to_property, NetworkDecl, Query, Relation, Tap, Version};

/// Element types whose queries are answered (see `supports --onnx-element-types`): analysed in
/// real arithmetic, witnesses checked in the declared type (float16 inputs take float16 values,
/// float16 outputs must satisfy the property rounded to float16; real and float64 ones run in
/// float32 like the networks).
pub const ELEMENT_TYPES: &[&str] = &["real", "Real", "float32", "float64", "float16"];

/// Integer element types, answered for outputs (checked as integers; the networks compute them by
/// casts), not for inputs (the networks read float32).
const INTEGER_TYPES: &[&str] = &["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"];

/// A query with its networks loaded.
pub struct Bound {
    /// Per declared network, in declaration order.
    pub models: Vec<OnnxModel>,
    pub runners: Vec<TractRunner>,
    pub space: InputSpace,
    /// The property's DNF as items over `space`.
    pub disjuncts: Vec<Vec<Item>>,
}

fn unsupported(msg: String) -> Error {
    Error::Input(msg)
}

/// Resolves the files for every network: `files` are `(name, path)` from `--network name=path`.
fn files_for(q: &Query, files: &[(String, PathBuf)]) -> Result<Vec<PathBuf>> {
    if q.version == Version::V1 && files.len() == 1 {
        return Ok(vec![files[0].1.clone()]); // 1.0 queries name no network: any name binds it
    }
    for (name, _) in files {
        match q.networks.iter().find(|n| &n.name == name) {
            None => return Err(Error::Input(format!("--network {name}=...: the query declares no network '{name}'"))),
            Some(n) if matches!(n.relation, Some((Relation::EqualTo, _))) => {
                return Err(Error::Input(format!(
                    "--network {name}=...: '{name}' is declared equal-to another network and takes no file"
                )))
            }
            Some(_) => {}
        }
    }
    let mut paths: Vec<PathBuf> = Vec::new();
    for n in &q.networks {
        let given: Vec<&PathBuf> = files.iter().filter(|f| f.0 == n.name).map(|f| &f.1).collect();
        let path = match (&n.relation, given.as_slice()) {
            (Some((Relation::EqualTo, target)), _) => {
                paths[earlier(q, &n.name, "equal-to", target, paths.len())?].clone()
            }
            (_, [p]) => (*p).clone(),
            (_, []) => {
                return Err(Error::Input(format!("network '{}' needs a file: --network {}=FILE.onnx", n.name, n.name)))
            }
            _ => return Err(Error::Input(format!("network '{}' is given more than one file", n.name))),
        };
        paths.push(path);
    }
    Ok(paths)
}

/// Checks the query against the supported fragment and the networks, and builds the items.
pub fn bind(q: &Query, files: &[(String, PathBuf)]) -> Result<Bound> {
    bind_as(q, files, false)
}

/// `bind`, the networks read by `onnx::load_float32` when `float32` (for `--float-sound`).
/// Networks with several inputs, outputs or hidden tensors are bound as `vnnlib::expand` splits
/// them (one network per further output or hidden tensor, cut there, reading the same inputs).
pub fn bind_as(q: &Query, files: &[(String, PathBuf)], float32: bool) -> Result<Bound> {
    let declared = files_for(q, files)?;
    let expanded = vnnlib::expand(q).map_err(Error::Input)?;
    let q = &expanded.query;
    let sources: Vec<(PathBuf, Cut)> = (expanded.origins.iter())
        .map(|(k, tap)| {
            let cut = match tap {
                Tap::Output(t) => Cut::Output(*t),
                Tap::Hidden(name) => Cut::Tensor(name.clone()),
            };
            (declared[*k].clone(), cut)
        })
        .collect();
    let mut models: Vec<OnnxModel> = Vec::new();
    let mut runners = Vec::new();
    for (k, (n, (path, cut))) in q.networks.iter().zip(&sources).enumerate() {
        check_fragment(n)?;
        let model = match sources[..k].iter().position(|s| s == &sources[k]) {
            Some(j) => OnnxModel::clone(&models[j]),
            None => onnx::load_output(path, float32, Some(cut.clone()))?,
        };
        let (inp, out) = (&n.inputs[0], &n.outputs[0]);
        let net = &model.network;
        if inp.numel() != net.input_size() || out.numel() != net.output_size() {
            return Err(Error::Shape(format!(
                "network '{}': the query declares input {:?} and output {:?}, {} has input {:?} and output {:?}",
                n.name,
                inp.shape,
                out.shape,
                path.display(),
                net.input_shape,
                net.output_shape()
            )));
        }
        if let Some((Relation::IsomorphicTo, target)) = &n.relation {
            let k = earlier(q, &n.name, "isomorphic-to", target, models.len())?;
            check_isomorphic(&models[k].network, net, &n.name, target, path)?;
        }
        runners.push(TractRunner::new(&model)?);
        models.push(model);
    }
    let property = to_property(q)?;
    let sizes: Vec<usize> = models.iter().map(|m| m.network.input_size()).collect();
    let names: Vec<Vec<String>> = q
        .networks
        .iter()
        .enumerate()
        .map(|(k, n)| {
            (0..n.inputs[0].numel())
                .map(|i| {
                    q.var_name(&crate::vnnlib::Var {
                        network: k,
                        kind: crate::vnnlib::VarKind::Input,
                        tensor: 0,
                        index: i,
                    })
                })
                .collect()
        })
        .collect();
    let mut space = input_space(&property, &sizes, &names);
    let grid = |t: &crate::vnnlib::TensorDecl| match t.elem_type.as_str() {
        "float16" => Grid::F16,
        int if INTEGER_TYPES.contains(&int) => Grid::Int,
        _ => Grid::F32,
    };
    for (k, n) in q.networks.iter().enumerate() {
        if grid(&n.inputs[0]) == Grid::F16 {
            space.maps[k].iter().for_each(|&g| space.grids[g] = Grid::F16);
        }
        space.output_grids[k] = grid(&n.outputs[0]);
    }
    let disjuncts = property.disjuncts.iter().map(|d| items(&space, d)).collect();
    Ok(Bound { models, runners, space, disjuncts })
}

/// The supported element types for one network of the expanded query: real, float64, float32
/// or float16 (outputs also integers).
fn check_fragment(n: &NetworkDecl) -> Result<()> {
    let outputs = n.outputs.iter().map(|t| (t, true));
    for (t, output) in n.inputs.iter().map(|t| (t, false)).chain(outputs) {
        let ty = t.elem_type.as_str();
        if !(ELEMENT_TYPES.contains(&ty) || output && INTEGER_TYPES.contains(&ty)) {
            return Err(unsupported(format!(
                "{} is declared {ty}; twinverify answers queries over real, float64, float32 or float16 inputs and \
                 outputs, and integer outputs",
                t.name
            )));
        }
    }
    Ok(())
}

/// The index of `target`, which network `name` is declared `relation` to: a network declared
/// before it (one of the first `before`).
fn earlier(q: &Query, name: &str, relation: &str, target: &str, before: usize) -> Result<usize> {
    q.networks.iter().position(|m| m.name == target).filter(|&k| k < before).ok_or_else(|| {
        Error::Input(format!(
            "network '{name}' is declared {relation} '{target}', which is not a network declared before it"
        ))
    })
}

/// `b` (network `name`, read from `path`) has the architecture of `a` (network `target`).
fn check_isomorphic(a: &Network, b: &Network, name: &str, target: &str, path: &Path) -> Result<()> {
    let shape = |n: &Network| n.layers.iter().map(|l| (l.layer.kind(), l.output_shape.clone())).collect::<Vec<_>>();
    if a.input_shape != b.input_shape || shape(a) != shape(b) {
        return Err(Error::Shape(format!(
            "network '{name}' is declared isomorphic-to '{target}', but {} has another architecture",
            path.display()
        )));
    }
    Ok(())
}
