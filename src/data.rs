//! Input data: samples from CSV files ("label,f1,…,fn" per row, as ERAN/FANC/VNN ship MNIST),
//! single vectors given as a CSV row or JSON array, and scale factors such as `1/255`.

use std::path::Path;

use crate::error::{Error, IoOp, Result};
use crate::ir::Network;

/// One labelled sample, already scaled.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Row number in the file (0-based, blank lines not counted).
    pub index: usize,
    pub label: usize,
    pub features: Vec<f64>,
}

/// Parses a scale: a number (`0.00392156862745098`) or a fraction (`1/255`).
pub fn parse_scale(s: &str) -> Result<f64> {
    let bad = || Error::Input(format!("invalid scale '{s}': use a number such as 0.5 or a fraction such as 1/255"));
    let v = match s.split_once('/') {
        Some((a, b)) => {
            let (a, b): (f64, f64) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            if b == 0.0 {
                return Err(bad());
            }
            a / b
        }
        None => s.trim().parse().map_err(|_| bad())?,
    };
    check_scale(v)
}

/// A scale factor must be a finite number > 0.
pub fn check_scale(v: f64) -> Result<f64> {
    match v.is_finite() && v > 0.0 {
        true => Ok(v),
        false => Err(Error::Input(format!("invalid scale {v}: it must be a finite number > 0"))),
    }
}

/// Parses a vector written as a JSON array (`[0.1, 0.2]`) or a CSV row (`0.1,0.2`).
pub fn parse_vector(text: &str) -> Result<Vec<f64>> {
    let text = text.trim();
    let values: Vec<f64> = if text.starts_with('[') {
        serde_json::from_str(text).map_err(|e| Error::Input(format!("invalid JSON array: {e}")))?
    } else {
        text.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .enumerate()
            .map(|(i, t)| {
                t.parse::<f64>().map_err(|_| Error::Input(format!("value {} ('{t}') is not a number", i + 1)))
            })
            .collect::<Result<_>>()?
    };
    if values.is_empty() {
        return Err(Error::Input("the input vector is empty".into()));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Input(format!("value {} is not finite", i + 1)));
    }
    Ok(values)
}

/// Reads every sample of a "label,features…" CSV file (no header; blank lines skipped) and
/// multiplies the features by `scale`. Labels must be class indices, features finite numbers.
pub fn read_samples(path: &Path, scale: f64) -> Result<Vec<Sample>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::csv(path, IoOp::Read, e))?;
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| Error::csv(path, IoOp::Read, e))?;
        let line = record.position().map_or(0, |p| p.line());
        let at = |msg: String| Error::Input(format!("{}:{line}: {msg}", path.display()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let label_text = record.get(0).unwrap_or_default();
        let label: f64 = label_text.parse().map_err(|_| at(format!("label '{label_text}' is not a number")))?;
        if !(label >= 0.0 && label.fract() == 0.0 && label < u32::MAX as f64) {
            return Err(at(format!("label '{label_text}' is not a class index")));
        }
        let features = record
            .iter()
            .skip(1)
            .enumerate()
            .map(|(i, t)| {
                t.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(|v| v * scale)
                    .ok_or_else(|| at(format!("feature {} ('{t}') is not a finite number", i + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        if let Some(first) = out.first().map(|s: &Sample| s.features.len()) {
            if first != features.len() {
                return Err(at(format!("row has {} features, earlier rows have {first}", features.len())));
            }
        }
        out.push(Sample { index: out.len(), label: label as usize, features });
    }
    if out.is_empty() {
        return Err(Error::Input(format!("{}: no samples", path.display())));
    }
    Ok(out)
}

/// Whether every network classifies `x` as `label` (the papers analyse those samples only). A
/// label that is not one of a network's classes is an input error, not a misclassification.
pub fn correctly_classified(nets: &[&Network], x: &[f64], label: usize) -> Result<bool> {
    for n in nets {
        check_label(n, label)?;
        if argmax(&n.forward(x)?) != label {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A label must be one of the network's classes.
pub fn check_label(net: &Network, label: usize) -> Result<()> {
    match label < net.output_size() {
        true => Ok(()),
        false => Err(Error::Input(format!(
            "label {label} is not a class of network '{}' ({} classes)",
            net.name,
            net.output_size()
        ))),
    }
}

/// Index of the largest value (the predicted class); ties go to the first.
pub fn argmax(v: &[f64]) -> usize {
    v.iter().enumerate().fold((0, f64::NEG_INFINITY), |(bi, bv), (i, &x)| if x > bv { (i, x) } else { (bi, bv) }).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scales_and_vectors() {
        assert_eq!(parse_scale("1/255").unwrap(), 1.0 / 255.0);
        assert_eq!(parse_scale(" 0.5 ").unwrap(), 0.5);
        assert!(parse_scale("1/0").is_err() && parse_scale("x").is_err());
        assert_eq!(parse_vector("[1, 2.5, -3e-1]").unwrap(), vec![1.0, 2.5, -0.3]);
        assert_eq!(parse_vector("1,2 , 3").unwrap(), vec![1.0, 2.0, 3.0]);
        assert!(parse_vector("1,a").unwrap_err().to_string().contains("value 2"));
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
    }
}
