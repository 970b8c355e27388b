//! Pixel space → network input space: a normalisation outside the network (per-channel mean and
//! std), HWC rows transposed to the network's CHW order, and pixel-space regions as network boxes.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Interval;
use crate::data::Sample;
use crate::error::{Error, Result};

/// The order of the pixel values in a data row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// The network's own order (channel, row, column).
    #[default]
    Chw,
    /// Row, column, channel (ERAN/FANC CIFAR-10 CSVs): transposed to CHW.
    Hwc,
}

impl FromStr for Layout {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chw" => Ok(Layout::Chw),
            "hwc" => Ok(Layout::Hwc),
            _ => Err(format!("layout '{s}' is not one of chw, hwc")),
        }
    }
}

/// A normalisation applied outside the network: network input = (pixel − mean_c) / std_c, each
/// a single value (every channel) or one per channel; and the pixel order of the rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Normalisation {
    pub mean: Option<Vec<f64>>,
    pub std: Option<Vec<f64>>,
    pub layout: Layout,
}

/// How the pixel rows of a data file become network inputs, and how a pixel-space L∞ region of
/// radius δ clipped to a pixel-space domain becomes a per-feature box of network inputs. The one
/// place regions are built (`Interval::around` is the identity map).
#[derive(Clone, Debug, PartialEq)]
pub struct InputMap {
    /// Per channel (one value: every feature).
    mean: Vec<f64>,
    std: Vec<f64>,
    /// Features per channel in the network's order (H·W; `usize::MAX` without channels).
    plane: usize,
    /// (C, H, W) when the rows are HWC.
    hwc: Option<[usize; 3]>,
    /// Pixel-space domain.
    domain: Option<(f64, f64)>,
}

impl InputMap {
    /// No normalisation, the network's order: the regions are plain L∞ balls ∩ `domain`.
    pub fn plain(domain: Option<(f64, f64)>) -> InputMap {
        InputMap { mean: vec![0.0], std: vec![1.0], plane: usize::MAX, hwc: None, domain }
    }

    /// The map for a network with input shape `shape`. Errors: a non-finite mean, a std that is
    /// not a finite number > 0, a channel count other than the network's, HWC without channels.
    pub fn new(norm: &Normalisation, domain: Option<(f64, f64)>, shape: &[usize]) -> Result<InputMap> {
        let bad = |m: String| Err(Error::Input(m));
        let mean = norm.mean.clone().unwrap_or_else(|| vec![0.0]);
        let std = norm.std.clone().unwrap_or_else(|| vec![1.0]);
        if let Some(v) = mean.iter().find(|v| !v.is_finite()) {
            return bad(format!("mean {v} is not a finite number"));
        }
        if let Some(v) = std.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return bad(format!("std {v} must be a finite number > 0"));
        }
        let channels = mean.len().max(std.len());
        let size: usize = shape.iter().product();
        // (C,H,W) after leading 1s; a flat input of C·k values with C per-channel values is taken
        // as C planes of k values (PyTorch's flatten of a CHW tensor)
        let chw = match shape.len() >= 3 && shape[..shape.len() - 3].iter().all(|&d| d == 1) {
            true => Some([shape[shape.len() - 3], shape[shape.len() - 2], shape[shape.len() - 1]]),
            false if channels > 1 && size.is_multiple_of(channels) => Some([channels, size / channels, 1]),
            false => None,
        };
        if channels > 1 {
            let Some([c, ..]) = chw else {
                return bad(format!(
                    "{channels} per-channel mean/std values do not divide the network's {size} inputs (input shape {shape:?})"
                ));
            };
            for (what, v) in [("mean", &mean), ("std", &std)] {
                if v.len() != 1 && v.len() != c {
                    return bad(format!(
                        "{what} has {} values but the network has {c} input channels (input shape {shape:?})",
                        v.len()
                    ));
                }
            }
        }
        let hwc = match norm.layout {
            Layout::Chw => None,
            Layout::Hwc => Some(chw.ok_or_else(|| {
                Error::Input(format!(
                    "layout hwc needs a (C,H,W) network input, or per-channel mean/std for a flat one; the network's input shape is {shape:?}"
                ))
            })?),
        };
        let plane = match (channels, chw) {
            (c, Some([_, h, w])) if c > 1 => h * w,
            _ => usize::MAX,
        };
        Ok(InputMap { mean, std, plane, hwc, domain })
    }

    /// Whether the map is the identity (no normalisation, network order).
    pub fn is_plain(&self) -> bool {
        self.hwc.is_none() && self.mean.iter().all(|&m| m == 0.0) && self.std.iter().all(|&s| s == 1.0)
    }

    /// The pixel-space domain.
    pub fn domain(&self) -> Option<(f64, f64)> {
        self.domain
    }

    /// Mean and std of network input `i` (CHW order).
    fn channel(&self, i: usize) -> (f64, f64) {
        let pick = |v: &[f64]| v[if v.len() == 1 { 0 } else { (i / self.plane).min(v.len() - 1) }];
        (pick(&self.mean), pick(&self.std))
    }

    /// Index in an HWC row of network input `i` (CHW order).
    fn source(&self, i: usize) -> usize {
        match self.hwc {
            Some([c, h, w]) => (i % (h * w)) * c + i / (h * w),
            None => i,
        }
    }

    /// A pixel row (after `scale`) as a network input: transposed, then normalised. An HWC row
    /// must have C·H·W values.
    pub fn to_network(&self, row: &[f64]) -> Result<Vec<f64>> {
        if let Some([c, h, w]) = self.hwc.filter(|[c, h, w]| c * h * w != row.len()) {
            return Err(Error::Shape(format!(
                "an HWC row of a ({h},{w},{c}) input has {} values, got {}",
                c * h * w,
                row.len()
            )));
        }
        Ok((0..row.len())
            .map(|i| {
                let (m, s) = self.channel(i);
                (row[self.source(i)] - m) / s
            })
            .collect())
    }

    /// Data rows (pixel space) as network inputs.
    pub fn samples(&self, rows: Vec<Sample>) -> Result<Vec<Sample>> {
        rows.into_iter().map(|s| Ok(Sample { features: self.to_network(&s.features)?, ..s })).collect()
    }

    /// A network input back in pixel space (the inverse of `to_network`, up to rounding).
    pub fn to_pixels(&self, x: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; x.len()];
        for (i, &v) in x.iter().enumerate() {
            let (m, s) = self.channel(i);
            out[self.source(i)] = v * s + m;
        }
        out
    }

    /// Pixel units per network unit of every network input (std_c; 1 without normalisation):
    /// a change `d` of network input `i` is a change `weights[i]·d` of its pixel.
    pub fn weights(&self, n: usize) -> Vec<f64> {
        (0..n).map(|i| self.channel(i).1).collect()
    }

    /// The domain of network input `i`: ((low − mean_c)/std_c, (high − mean_c)/std_c), rounded
    /// outward (unbounded without a domain).
    fn feature_domain(&self, i: usize) -> (f64, f64) {
        let (dl, du) = self.domain.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        match self.channel(i) {
            (0.0, 1.0) => (dl, du),
            (m, s) => (((dl - m) / s).next_down().next_down(), ((du - m) / s).next_up().next_up()),
        }
    }

    /// The box of the `n` network inputs whose pixels lie in the domain.
    pub fn domain_box(&self, n: usize) -> Interval {
        let (lower, upper) = (0..n).map(|i| self.feature_domain(i)).unzip();
        Interval { lower, upper }
    }

    /// The box of network inputs whose pixels are within `delta` of the pixels of `center` (a
    /// network input) and in the domain: per feature, centre ± δ/std_c clipped to
    /// ((low − mean_c)/std_c, (high − mean_c)/std_c), rounded outward.
    pub fn region(&self, center: &[f64], delta: f64) -> Result<Interval> {
        if !(delta >= 0.0 && delta.is_finite()) {
            return Err(Error::Input(format!("radius must be a finite non-negative number, got {delta}")));
        }
        let (mut lower, mut upper) = (Vec::with_capacity(center.len()), Vec::with_capacity(center.len()));
        for (i, &c) in center.iter().enumerate() {
            let s = self.channel(i).1;
            let r = if s == 1.0 { delta } else { (delta / s).next_up() };
            let (lo, hi) = self.feature_domain(i);
            lower.push((c - r).next_down().max(lo));
            upper.push((c + r).next_up().min(hi));
        }
        if let Some(i) = (0..lower.len()).find(|&i| lower[i] > upper[i]) {
            return Err(Error::Input(format!(
                "input {i}: the region is empty (centre {} outside the domain)",
                self.to_pixels(center)[self.source(i)]
            )));
        }
        Ok(Interval { lower, upper })
    }

    /// The pixel-space L∞ distance between two network inputs, rounded up.
    pub fn distance(&self, a: &[f64], b: &[f64]) -> f64 {
        let gap = |(i, (p, q)): (usize, (&f64, &f64))| match self.channel(i).1 {
            1.0 => (p - q).abs(),
            s => ((p - q).abs() * s).next_up(),
        };
        a.iter().zip(b).enumerate().map(gap).fold(0.0, f64::max).next_up()
    }

    /// The pixel-space radius beyond which a larger region adds nothing (the domain is covered),
    /// at most `max`.
    pub fn cap(&self, center: &[f64], max: f64) -> f64 {
        match self.domain {
            Some((lo, hi)) => self.to_pixels(center).iter().map(|&v| (v - lo).max(hi - v)).fold(0.0, f64::max).min(max),
            None => max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cifar_like() -> InputMap {
        let norm = Normalisation { mean: Some(vec![0.5, 0.25]), std: Some(vec![0.5, 0.25]), layout: Layout::Hwc };
        InputMap::new(&norm, Some((0.0, 1.0)), &[1, 2, 1, 3]).unwrap()
    }

    #[test]
    fn transposes_normalises_and_maps_back() {
        let m = cifar_like();
        // HWC row: pixel (0,0): c0=0.1 c1=0.2; (0,1): 0.3 0.4; (0,2): 0.5 0.6
        let row = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let x = m.to_network(&row).unwrap();
        let want = [(0.1 - 0.5) / 0.5, (0.3 - 0.5) / 0.5, 0.0, (0.2 - 0.25) / 0.25, (0.4 - 0.25) / 0.25, 1.4];
        x.iter().zip(want).for_each(|(a, b)| assert!((a - b).abs() < 1e-12, "{x:?}"));
        m.to_pixels(&x).iter().zip(row).for_each(|(a, b)| assert!((a - b).abs() < 1e-12));
    }

    #[test]
    fn regions_are_per_channel_and_clipped_in_pixel_space() {
        let m = cifar_like();
        let x = m.to_network(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]).unwrap();
        assert!(m.to_network(&[0.1; 5]).is_err());
        let b = m.region(&x, 0.2).unwrap();
        // channel 0 (std 0.5): pixel 0.1 - 0.2 clips at 0 → (0 - 0.5)/0.5 = -1
        assert!((b.lower[0] + 1.0).abs() < 1e-12 && (b.upper[0] - (0.3 - 0.5) / 0.5).abs() < 1e-12);
        // channel 1 (std 0.25): radius 0.8 in network units
        assert!((b.upper[3] - b.lower[3] - 1.6).abs() < 1e-12);
        assert!(b.lower[3] <= x[3] && x[3] <= b.upper[3]);
        assert_eq!(m.cap(&x, 10.0), 0.9);
    }

    #[test]
    fn rejects_bad_values_and_shapes() {
        let n = |mean: Vec<f64>, std: Vec<f64>| Normalisation { mean: Some(mean), std: Some(std), layout: Layout::Chw };
        let err = |n: &Normalisation, shape: &[usize]| InputMap::new(n, None, shape).unwrap_err().to_string();
        assert!(err(&n(vec![0.0], vec![0.0]), &[4]).contains("std 0"));
        assert!(err(&n(vec![0.0], vec![-1.0]), &[4]).contains("> 0"));
        assert!(err(&n(vec![f64::NAN], vec![1.0]), &[4]).contains("mean NaN"));
        let e = err(&n(vec![0.1, 0.2], vec![1.0]), &[1, 3, 2, 2]);
        assert!(e.contains("2 values") && e.contains("3 input channels"), "{e}");
        let hwc = Normalisation { layout: Layout::Hwc, ..Normalisation::default() };
        assert!(err(&hwc, &[1, 12]).contains("(C,H,W)"));
        assert!(err(&n(vec![0.1, 0.2], vec![1.0]), &[1, 5]).contains("do not divide the network's 5 inputs"));
        // a flat input of C·k values: channel-major planes, HWC rows transposed to them
        let flat = Normalisation { layout: Layout::Hwc, ..n(vec![0.0, 10.0], vec![1.0, 2.0]) };
        let m = InputMap::new(&flat, None, &[1, 6]).unwrap();
        assert_eq!(m.to_network(&[1.0, 12.0, 2.0, 14.0, 3.0, 16.0]).unwrap(), vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
        assert!(InputMap::plain(None).is_plain() && !cifar_like().is_plain());
    }
}
