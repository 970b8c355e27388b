//! Builders that turn one ONNX operator with constant parameters into IR layers: Conv, pools,
//! Gemm/MatMul, BatchNormalization and element-wise arithmetic with a constant.

use super::consts::ConstTensor;
use crate::ir::{numel, Affine, Layer, MaxPool, SparseMatrix};

type R<T> = std::result::Result<T, String>;

/// Sliding-window geometry over a 2-D spatial grid (1-D inputs use a height of 1).
#[derive(Clone, Debug)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// top, left, bottom, right
    pub pads: [usize; 4],
    pub input: [usize; 2],
    pub output: [usize; 2],
}

/// Raw window attributes as ONNX gives them, for one or two spatial axes.
pub struct WindowAttrs {
    pub kernel: Vec<i64>,
    pub strides: Option<Vec<i64>>,
    pub dilations: Option<Vec<i64>>,
    pub pads: Option<Vec<i64>>,
    pub auto_pad: Option<String>,
    pub ceil_mode: bool,
}

impl Window {
    /// Resolves the attributes for a spatial input of the given size (1 or 2 axes).
    pub fn new(a: &WindowAttrs, spatial: &[usize]) -> R<Window> {
        let n = spatial.len();
        if !(1..=2).contains(&n) || a.kernel.len() != n {
            return Err(format!(
                "only 1-D and 2-D windows are supported (input spatial shape {spatial:?}, kernel {:?})",
                a.kernel
            ));
        }
        let get = |v: &Option<Vec<i64>>, len: usize, default: i64| -> R<Vec<usize>> {
            let v = v.clone().unwrap_or_else(|| vec![default; len]);
            if v.len() != len || v.iter().any(|&x| x < 0) {
                return Err(format!("bad window attribute {v:?}"));
            }
            Ok(v.into_iter().map(|x| x as usize).collect())
        };
        let kernel = get(&Some(a.kernel.clone()), n, 1)?;
        let strides = get(&a.strides, n, 1)?;
        let dilations = get(&a.dilations, n, 1)?;
        if kernel.contains(&0) || strides.contains(&0) || dilations.contains(&0) {
            return Err("kernel, strides and dilations must be positive".into());
        }
        let mut pads = get(&a.pads, 2 * n, 0)?;
        match a.auto_pad.as_deref() {
            None | Some("NOTSET") | Some("") => {}
            Some("VALID") => pads = vec![0; 2 * n],
            Some(mode @ ("SAME_UPPER" | "SAME_LOWER")) => {
                for d in 0..n {
                    let out = spatial[d].div_ceil(strides[d]);
                    let span = (kernel[d] - 1) * dilations[d] + 1;
                    let total = (out.saturating_sub(1) * strides[d] + span).saturating_sub(spatial[d]);
                    let (small, big) = (total / 2, total - total / 2);
                    (pads[d], pads[d + n]) = if mode == "SAME_UPPER" { (small, big) } else { (big, small) };
                }
            }
            Some(other) => return Err(format!("unknown auto_pad '{other}'")),
        }
        // lift 1-D to 2-D with a unit height
        let lift = |v: &[usize], one: usize| if n == 1 { [one, v[0]] } else { [v[0], v[1]] };
        let (kernel, strides, dilations) = (lift(&kernel, 1), lift(&strides, 1), lift(&dilations, 1));
        let pads = if n == 1 { [0, pads[0], 0, pads[1]] } else { [pads[0], pads[1], pads[2], pads[3]] };
        let input = lift(spatial, 1);
        let mut output = [0; 2];
        for d in 0..2 {
            let padded = input[d] + pads[d] + pads[d + 2];
            let span = (kernel[d] - 1) * dilations[d] + 1;
            if padded < span {
                return Err(format!("window of span {span} does not fit input {input:?} with pads {pads:?}"));
            }
            let num = padded - span;
            let mut out = if a.ceil_mode { num.div_ceil(strides[d]) } else { num / strides[d] } + 1;
            // a window must start inside the input or the leading padding
            if a.ceil_mode && (out - 1) * strides[d] >= input[d] + pads[d] {
                out -= 1;
            }
            output[d] = out;
        }
        Ok(Window { kernel, strides, dilations, pads, input, output })
    }

    /// Input positions `(row, col)` covered by the window at output `(oh, ow)`, each with its
    /// kernel offset `(kh, kw)`; positions in the padding are skipped.
    pub fn taps(&self, oh: usize, ow: usize) -> impl Iterator<Item = ((usize, usize), (usize, usize))> + '_ {
        let [kh_n, kw_n] = self.kernel;
        (0..kh_n).flat_map(move |kh| (0..kw_n).map(move |kw| (kh, kw))).filter_map(move |(kh, kw)| {
            let ih = (oh * self.strides[0] + kh * self.dilations[0]) as i64 - self.pads[0] as i64;
            let iw = (ow * self.strides[1] + kw * self.dilations[1]) as i64 - self.pads[1] as i64;
            let inside = (0..self.input[0] as i64).contains(&ih) && (0..self.input[1] as i64).contains(&iw);
            inside.then_some(((ih as usize, iw as usize), (kh, kw)))
        })
    }

    /// Number of window positions inside the input plus the padding (for count_include_pad),
    /// clipped at the padded border as ONNX runtimes do.
    fn padded_count(&self, oh: usize, ow: usize) -> usize {
        let span = |d: usize, o: usize| {
            let start = o * self.strides[d];
            let end = (start + (self.kernel[d] - 1) * self.dilations[d] + 1)
                .min(self.input[d] + self.pads[d] + self.pads[d + 2]);
            (end - start).div_ceil(self.dilations[d])
        };
        span(0, oh) * span(1, ow)
    }

    fn spatial_out(&self, n_in: usize) -> Vec<usize> {
        if n_in == 1 {
            vec![self.output[1]]
        } else {
            self.output.to_vec()
        }
    }
}

/// Conv with weights `[M, C/group, kh, kw]` and optional bias on an input `[1, C, spatial…]`.
pub fn conv(
    in_shape: &[usize],
    attrs: &WindowAttrs,
    w: &ConstTensor,
    b: Option<&ConstTensor>,
    group: usize,
) -> R<(Layer, Vec<usize>)> {
    if in_shape.len() < 3 || in_shape[0] != 1 {
        return Err(format!("Conv input must be [1, C, spatial…], got {in_shape:?}"));
    }
    if w.shape.len() != in_shape.len() {
        return Err(format!("Conv weight {:?} does not fit input {in_shape:?}", w.shape));
    }
    let c = in_shape[1];
    let (m, per_group) = (w.shape[0], w.shape[1]);
    if group == 0 || !c.is_multiple_of(group) || !m.is_multiple_of(group) || per_group * group != c {
        return Err(format!("Conv weight {:?} does not fit input {in_shape:?} with group {group}", w.shape));
    }
    if !attrs.kernel.iter().map(|&k| k as usize).eq(w.shape[2..].iter().copied()) {
        return Err(format!("Conv kernel_shape {:?} differs from the weight's shape {:?}", attrs.kernel, w.shape));
    }
    let win = Window::new(attrs, &in_shape[2..])?;
    let (cg, mg) = (c / group, m / group);
    let [ih_n, iw_n] = win.input;
    let [oh_n, ow_n] = win.output;
    let [kh_n, kw_n] = win.kernel;
    let mut rows = Vec::with_capacity(m * oh_n * ow_n);
    for mo in 0..m {
        let g = mo / mg;
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let mut row = Vec::new();
                for ((ih, iw), (kh, kw)) in win.taps(oh, ow) {
                    for cl in 0..cg {
                        let ci = g * cg + cl;
                        let wv = w.data[((mo * cg + cl) * kh_n + kh) * kw_n + kw];
                        row.push(((ci * ih_n + ih) * iw_n + iw, wv));
                    }
                }
                rows.push(row);
            }
        }
    }
    let bias: Vec<f64> = match b {
        Some(b) if b.data.len() == m => (0..m).flat_map(|mo| std::iter::repeat_n(b.data[mo], oh_n * ow_n)).collect(),
        Some(b) => return Err(format!("Conv bias has {} values for {m} output channels", b.data.len())),
        None => vec![0.0; m * oh_n * ow_n],
    };
    let mut out = vec![1, m];
    out.extend(win.spatial_out(in_shape.len() - 2));
    let weights = SparseMatrix::from_rows(numel(in_shape), rows);
    Ok((Layer::Affine(Affine { weights, bias }), out))
}

/// MaxPool or AveragePool on `[1, C, spatial…]`.
pub fn pool(in_shape: &[usize], attrs: &WindowAttrs, average: Option<bool>) -> R<(Layer, Vec<usize>)> {
    if in_shape.len() < 3 || in_shape[0] != 1 {
        return Err(format!("pooling input must be [1, C, spatial…], got {in_shape:?}"));
    }
    let c = in_shape[1];
    let win = Window::new(attrs, &in_shape[2..])?;
    let [ih_n, iw_n] = win.input;
    let [oh_n, ow_n] = win.output;
    let mut windows = Vec::with_capacity(c * oh_n * ow_n);
    let mut counts = Vec::with_capacity(windows.capacity());
    for ci in 0..c {
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let w: Vec<usize> = win.taps(oh, ow).map(|((ih, iw), _)| (ci * ih_n + ih) * iw_n + iw).collect();
                if w.is_empty() {
                    return Err("a pooling window lies entirely in the padding".into());
                }
                counts.push(if average == Some(true) { win.padded_count(oh, ow) } else { w.len() });
                windows.push(w);
            }
        }
    }
    let mut out = vec![1, c];
    out.extend(win.spatial_out(in_shape.len() - 2));
    let layer = match average {
        None => Layer::MaxPool(MaxPool { windows }),
        Some(_) => {
            let rows = windows.iter().zip(&counts).map(|(w, &n)| w.iter().map(|&j| (j, 1.0 / n as f64)).collect());
            let weights = SparseMatrix::from_rows(numel(in_shape), rows);
            Layer::Affine(Affine { bias: vec![0.0; weights.rows()], weights })
        }
    };
    Ok((layer, out))
}

/// GlobalAveragePool on `[1, C, spatial…]` → `[1, C, 1, …]`.
pub fn global_average(in_shape: &[usize]) -> R<(Layer, Vec<usize>)> {
    if in_shape.len() < 3 || in_shape[0] != 1 {
        return Err(format!("GlobalAveragePool input must be [1, C, spatial…], got {in_shape:?}"));
    }
    let per: usize = in_shape[2..].iter().product();
    let rows = (0..in_shape[1]).map(|ci| (0..per).map(|k| (ci * per + k, 1.0 / per as f64)).collect());
    let weights = SparseMatrix::from_rows(numel(in_shape), rows);
    let mut out = vec![1, in_shape[1]];
    out.extend(std::iter::repeat_n(1, in_shape.len() - 2));
    Ok((Layer::Affine(Affine { bias: vec![0.0; in_shape[1]], weights }), out))
}

/// ReduceSum (or ReduceMean, `mean`) over `axes` of a tensor of shape `in_shape`, as an affine
/// map; the reduced dimensions stay as 1 with `keepdims`, else they go.
pub fn reduce(in_shape: &[usize], axes: &[usize], keepdims: bool, mean: bool) -> (Layer, Vec<usize>) {
    let kept: Vec<usize> = in_shape.iter().enumerate().map(|(d, &s)| if axes.contains(&d) { 1 } else { s }).collect();
    let (n_in, n_out) = (numel(in_shape), numel(&kept));
    let w = if mean { 1.0 / (n_in / n_out.max(1)).max(1) as f64 } else { 1.0 };
    let mut rows = vec![Vec::new(); n_out];
    for i in 0..n_in {
        let (mut rest, mut out, mut stride) = (i, 0, 1);
        for d in (0..in_shape.len()).rev() {
            if !axes.contains(&d) {
                out += (rest % in_shape[d]) * stride;
            }
            rest /= in_shape[d];
            stride *= kept[d];
        }
        rows[out].push((i, w));
    }
    let weights = SparseMatrix::from_rows(n_in, rows);
    let out_shape = match keepdims {
        true => kept,
        false => in_shape.iter().enumerate().filter(|(d, _)| !axes.contains(d)).map(|(_, &s)| s).collect(),
    };
    (Layer::Affine(Affine { bias: vec![0.0; n_out], weights }), out_shape)
}

/// Matrix product between the activation and a constant 2-D matrix. `act_left`: `x · W` with
/// `x` of shape `[…, M, K]` or `[K]` and `W` `[K, N]`; otherwise `W · x` with `W` `[M, K]` and
/// `x` `[…, K, N]` or `[K]`.
pub fn matmul(in_shape: &[usize], w: &ConstTensor, act_left: bool) -> R<(SparseMatrix, Vec<usize>)> {
    if w.shape.len() != 2 {
        return Err(format!("MatMul with a constant of rank {} is not supported", w.shape.len()));
    }
    let (wr, wc) = (w.shape[0], w.shape[1]);
    let rank = in_shape.len();
    if rank == 0 {
        return Err("MatMul of a scalar is not supported".into());
    }
    let mismatch = || format!("MatMul shapes {in_shape:?} and {:?} do not match", w.shape);
    let mut rows = Vec::new();
    let out_shape = if act_left {
        let (m, k) = if rank == 1 { (1, in_shape[0]) } else { (in_shape[rank - 2], in_shape[rank - 1]) };
        if k != wr {
            return Err(mismatch());
        }
        let batch: usize = numel(in_shape) / (m * k);
        for r in 0..batch * m {
            for n in 0..wc {
                rows.push((0..k).map(|kk| (r * k + kk, w.data[kk * wc + n])).collect());
            }
        }
        let mut s = in_shape[..rank.saturating_sub(1)].to_vec();
        s.push(wc);
        s
    } else {
        let (k, n) = if rank == 1 { (in_shape[0], 1) } else { (in_shape[rank - 2], in_shape[rank - 1]) };
        if k != wc {
            return Err(mismatch());
        }
        let batch: usize = numel(in_shape) / (k * n);
        for b in 0..batch {
            for m in 0..wr {
                for col in 0..n {
                    rows.push((0..k).map(|kk| ((b * k + kk) * n + col, w.data[m * wc + kk])).collect());
                }
            }
        }
        if rank == 1 {
            vec![wr]
        } else {
            let mut s = in_shape[..rank - 2].to_vec();
            s.extend([wr, n]);
            s
        }
    };
    Ok((SparseMatrix::from_rows(numel(in_shape), rows), out_shape))
}

/// BatchNormalization (inference) on `[1, C, …]` as a diagonal affine map.
pub fn batch_norm(in_shape: &[usize], p: [&ConstTensor; 4], eps: f64) -> R<Layer> {
    let [scale, shift, mean, var] = p;
    let c = *in_shape.get(1).filter(|&&c| c > 0).ok_or("BatchNormalization input needs a channel axis")?;
    if [scale, shift, mean, var].iter().any(|t| t.data.len() != c) {
        return Err(format!("BatchNormalization parameters must have {c} values"));
    }
    let per = numel(in_shape) / c;
    let s: Vec<f64> = (0..c).map(|i| scale.data[i] / (var.data[i] + eps).sqrt()).collect();
    let diag: Vec<f64> = (0..c).flat_map(|i| std::iter::repeat_n(s[i], per)).collect();
    let bias = (0..c).flat_map(|i| std::iter::repeat_n(shift.data[i] - mean.data[i] * s[i], per)).collect();
    Ok(Layer::Affine(Affine { weights: SparseMatrix::diagonal(&diag), bias }))
}

/// Element-wise arithmetic between the activation and a constant that broadcasts to its shape.
#[derive(Clone, Copy, Debug)]
pub enum Elementwise {
    Add,
    /// activation − constant
    Sub,
    /// constant − activation
    SubFrom,
    Mul,
    /// activation / constant
    Div,
}

pub fn elementwise(in_shape: &[usize], c: &ConstTensor, op: Elementwise) -> R<Layer> {
    let c = c.broadcast_to(in_shape).map_err(|_| {
        format!("constant of shape {:?} would broadcast the activation {in_shape:?} to a larger shape", c.shape)
    })?;
    let n = c.data.len();
    let (diag, bias): (Vec<f64>, Vec<f64>) = match op {
        Elementwise::Add => (vec![1.0; n], c.data),
        Elementwise::Sub => (vec![1.0; n], c.data.iter().map(|v| -v).collect()),
        Elementwise::SubFrom => (vec![-1.0; n], c.data),
        Elementwise::Mul => (c.data, vec![0.0; n]),
        Elementwise::Div => {
            if c.data.contains(&0.0) {
                return Err("division by a constant containing zero".into());
            }
            (c.data.iter().map(|v| 1.0 / v).collect(), vec![0.0; n])
        }
    };
    Ok(Layer::Affine(Affine { weights: SparseMatrix::diagonal(&diag), bias }))
}
