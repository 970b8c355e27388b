//! Small constant tensors and the numpy-style operations ONNX shape sub-graphs use (Gather,
//! Concat, Reshape, Expand, Where, Slice, Pad, Transpose…), evaluated so they fold away.

/// A constant tensor; integer tensors keep `is_int` so integer division truncates.
#[derive(Clone, Debug, PartialEq)]
pub struct ConstTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f64>,
    pub is_int: bool,
}

type R<T> = std::result::Result<T, String>;

fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Resolves a possibly negative axis against a rank (`rank` may be one more for Unsqueeze).
pub fn axis(a: i64, rank: usize) -> R<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(format!("axis {a} out of range for rank {rank}"))
    }
}

/// The most elements a tensor built by the front-end (constant or activation) may have.
pub const MAX_ELEMENTS: usize = 1 << 26;

/// The number of elements of a shape, or an error when it exceeds `MAX_ELEMENTS`.
pub fn checked_numel(shape: &[usize]) -> R<usize> {
    shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= MAX_ELEMENTS)
        .ok_or_else(|| format!("a tensor of shape {shape:?} would have more than {MAX_ELEMENTS} elements"))
}

/// The numpy broadcast of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> R<Vec<usize>> {
    let n = a.len().max(b.len());
    (0..n)
        .map(|i| {
            let da = if i + a.len() >= n { a[i + a.len() - n] } else { 1 };
            let db = if i + b.len() >= n { b[i + b.len() - n] } else { 1 };
            match (da, db) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => Err(format!("shapes {a:?} and {b:?} do not broadcast")),
            }
        })
        .collect()
}

impl ConstTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f64>, is_int: bool) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        ConstTensor { shape, data, is_int }
    }

    pub fn scalar(v: f64, is_int: bool) -> Self {
        Self::new(vec![], vec![v], is_int)
    }

    pub fn vector(v: Vec<f64>, is_int: bool) -> Self {
        Self::new(vec![v.len()], v, is_int)
    }

    /// The tensor `[0, 1, …, n-1]` of the given shape: applying a data-movement operation to it
    /// tells where each output element comes from.
    pub fn iota(shape: &[usize]) -> Self {
        let n = shape.iter().product::<usize>();
        Self::new(shape.to_vec(), (0..n).map(|i| i as f64).collect(), true)
    }

    /// Every value must be finite: a NaN or an infinity in a weight, bias or constant would make
    /// every bound and verdict downstream meaningless. `name` names the tensor in the error.
    pub fn check_finite(&self, name: &str) -> R<()> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(format!(
                "input '{name}' holds {} (at flat index {i} of {}); weights, biases and constants must be finite \
                 numbers",
                self.data[i],
                self.data.len()
            )),
        }
    }

    /// Values as integers (for shapes, axes, indices).
    pub fn as_ints(&self) -> Vec<i64> {
        self.data.iter().map(|&v| v as i64).collect()
    }

    /// The tensor broadcast to `shape` (numpy rules, `shape` must be the broadcast result).
    pub fn broadcast_to(&self, shape: &[usize]) -> R<ConstTensor> {
        let out = broadcast_shapes(&self.shape, shape)?;
        if out != shape {
            return Err(format!("cannot broadcast {:?} to {:?}", self.shape, shape));
        }
        checked_numel(shape)?;
        let src = strides(&self.shape);
        let off = shape.len() - self.shape.len();
        let bstr: Vec<usize> =
            (0..shape.len()).map(|i| if i < off || self.shape[i - off] == 1 { 0 } else { src[i - off] }).collect();
        let n = shape.iter().product::<usize>();
        let ostr = strides(shape);
        let data = (0..n)
            .map(|flat| {
                let idx: usize = (0..shape.len()).map(|d| (flat / ostr[d]) % shape[d] * bstr[d]).sum();
                self.data[idx]
            })
            .collect();
        Ok(ConstTensor::new(shape.to_vec(), data, self.is_int))
    }

    /// Element-wise binary operation with broadcasting.
    pub fn binary(&self, other: &ConstTensor, f: impl Fn(f64, f64) -> f64) -> R<ConstTensor> {
        let shape = broadcast_shapes(&self.shape, &other.shape)?;
        let a = self.broadcast_to(&shape)?;
        let b = other.broadcast_to(&shape)?;
        let data = a.data.iter().zip(&b.data).map(|(&x, &y)| f(x, y)).collect();
        Ok(ConstTensor::new(shape, data, self.is_int && other.is_int))
    }

    /// `Div`, truncating for integer tensors as ONNX does.
    pub fn div(&self, other: &ConstTensor) -> R<ConstTensor> {
        let ints = self.is_int && other.is_int;
        if ints && other.data.contains(&0.0) {
            return Err("integer division by zero".into());
        }
        self.binary(other, |a, b| if ints { (a / b).trunc() } else { a / b })
    }

    pub fn where_(cond: &ConstTensor, a: &ConstTensor, b: &ConstTensor) -> R<ConstTensor> {
        let shape = broadcast_shapes(&broadcast_shapes(&cond.shape, &a.shape)?, &b.shape)?;
        let (c, a2, b2) = (cond.broadcast_to(&shape)?, a.broadcast_to(&shape)?, b.broadcast_to(&shape)?);
        let data = (0..c.data.len()).map(|i| if c.data[i] != 0.0 { a2.data[i] } else { b2.data[i] }).collect();
        Ok(ConstTensor::new(shape, data, a.is_int && b.is_int))
    }

    pub fn reshape(&self, target: &[i64], allow_zero: bool) -> R<ConstTensor> {
        let shape = reshape_target(&self.shape, target, allow_zero)?;
        Ok(ConstTensor::new(shape, self.data.clone(), self.is_int))
    }

    pub fn gather(&self, indices: &ConstTensor, ax: i64) -> R<ConstTensor> {
        let ax = axis(ax, self.shape.len())?;
        let dim = self.shape[ax] as i64;
        let outer: usize = self.shape[..ax].iter().product();
        let inner: usize = self.shape[ax + 1..].iter().product();
        let mut data = Vec::with_capacity(outer * indices.data.len() * inner);
        for o in 0..outer {
            for &i in &indices.data {
                let i = i as i64;
                let i = if i < 0 { i + dim } else { i };
                if !(0..dim).contains(&i) {
                    return Err(format!("Gather index {i} out of range {dim}"));
                }
                let base = (o * self.shape[ax] + i as usize) * inner;
                data.extend_from_slice(&self.data[base..base + inner]);
            }
        }
        let mut shape = self.shape[..ax].to_vec();
        shape.extend(&indices.shape);
        shape.extend(&self.shape[ax + 1..]);
        Ok(ConstTensor::new(shape, data, self.is_int))
    }

    pub fn unsqueeze(&self, axes: &[i64]) -> R<ConstTensor> {
        let rank = self.shape.len() + axes.len();
        let mut axes = axes.iter().map(|&a| axis(a, rank)).collect::<R<Vec<_>>>()?;
        axes.sort_unstable();
        if axes.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!("Unsqueeze axes {axes:?} repeat an axis"));
        }
        let mut shape = self.shape.clone();
        for a in axes {
            shape.insert(a, 1);
        }
        Ok(ConstTensor::new(shape, self.data.clone(), self.is_int))
    }

    pub fn squeeze(&self, axes: Option<&[i64]>) -> R<ConstTensor> {
        let rank = self.shape.len();
        let drop: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&a| axis(a, rank)).collect::<R<_>>()?,
            None => (0..rank).filter(|&i| self.shape[i] == 1).collect(),
        };
        if drop.iter().any(|&a| self.shape[a] != 1) {
            return Err(format!("Squeeze of a non-unit axis in shape {:?}", self.shape));
        }
        let shape = (0..rank).filter(|i| !drop.contains(i)).map(|i| self.shape[i]).collect();
        Ok(ConstTensor::new(shape, self.data.clone(), self.is_int))
    }

    pub fn concat(parts: &[&ConstTensor], ax: i64) -> R<ConstTensor> {
        let first = parts.first().ok_or("Concat of nothing")?;
        let ax = axis(ax, first.shape.len())?;
        let outer: usize = first.shape[..ax].iter().product();
        let mut shape = first.shape.clone();
        shape[ax] = 0;
        for p in parts {
            if p.shape.len() != first.shape.len() || (0..p.shape.len()).any(|d| d != ax && p.shape[d] != first.shape[d])
            {
                return Err(format!("Concat of shapes {:?} and {:?}", first.shape, p.shape));
            }
            shape[ax] += p.shape[ax];
        }
        let mut data = Vec::new();
        for o in 0..outer {
            for p in parts {
                let chunk: usize = p.shape[ax..].iter().product();
                data.extend_from_slice(&p.data[o * chunk..(o + 1) * chunk]);
            }
        }
        Ok(ConstTensor::new(shape, data, parts.iter().all(|p| p.is_int)))
    }

    /// Moves data by an index function: output element at multi-index `o` takes input element
    /// `src(o)` (a flat index) or `fill` where `src` gives `None`.
    fn gather_by(&self, shape: Vec<usize>, fill: f64, src: impl Fn(&[usize]) -> Option<usize>) -> ConstTensor {
        let n: usize = shape.iter().product();
        let ostr = strides(&shape);
        let mut idx = vec![0; shape.len()];
        let data = (0..n)
            .map(|flat| {
                for d in 0..shape.len() {
                    idx[d] = (flat / ostr[d]) % shape[d];
                }
                src(&idx).map_or(fill, |i| self.data[i])
            })
            .collect();
        ConstTensor::new(shape, data, self.is_int)
    }

    pub fn transpose(&self, perm: Option<&[i64]>) -> R<ConstTensor> {
        let rank = self.shape.len();
        let perm: Vec<usize> = match perm {
            Some(p) => p.iter().map(|&a| axis(a, rank)).collect::<R<_>>()?,
            None => (0..rank).rev().collect(),
        };
        let mut seen = vec![false; rank];
        if perm.len() != rank || perm.iter().any(|&p| std::mem::replace(&mut seen[p], true)) {
            return Err(format!("Transpose perm {perm:?} is not a permutation of rank {rank}"));
        }
        let istr = strides(&self.shape);
        let shape = perm.iter().map(|&p| self.shape[p]).collect();
        Ok(self.gather_by(shape, 0.0, |o| Some(o.iter().zip(&perm).map(|(&i, &p)| i * istr[p]).sum())))
    }

    /// Constant padding; `pads` is ONNX's `[b_1…b_n, e_1…e_n]` (no negative pads).
    pub fn pad(&self, pads: &[i64], value: f64) -> R<ConstTensor> {
        let rank = self.shape.len();
        if pads.len() != 2 * rank || pads.iter().any(|&p| p < 0) {
            return Err(format!("Pad needs {} non-negative pads, got {pads:?}", 2 * rank));
        }
        let istr = strides(&self.shape);
        let shape: Vec<usize> =
            (0..rank).map(|d| self.shape[d].saturating_add((pads[d] + pads[d + rank]) as usize)).collect();
        checked_numel(&shape)?;
        Ok(self.gather_by(shape, value, |o| {
            let mut flat = 0;
            for d in 0..rank {
                let i = o[d] as i64 - pads[d];
                if i < 0 || i >= self.shape[d] as i64 {
                    return None;
                }
                flat += i as usize * istr[d];
            }
            Some(flat)
        }))
    }

    pub fn slice(&self, starts: &[i64], ends: &[i64], axes: Option<&[i64]>, steps: Option<&[i64]>) -> R<ConstTensor> {
        let rank = self.shape.len();
        let axes: Vec<usize> = match axes {
            Some(a) => a.iter().map(|&a| axis(a, rank)).collect::<R<_>>()?,
            None => (0..starts.len()).collect(),
        };
        let k = starts.len();
        if ends.len() != k || axes.len() != k || steps.is_some_and(|s| s.len() != k) || k > rank {
            return Err(format!(
                "Slice starts, ends, axes and steps must have the same length, at most the rank {rank}"
            ));
        }
        let mut start = vec![0i64; rank];
        let mut step = vec![1i64; rank];
        let mut shape = self.shape.clone();
        for (k, &a) in axes.iter().enumerate() {
            let dim = self.shape[a] as i64;
            let st = steps.map_or(1, |s| s[k]);
            if st == 0 {
                return Err("Slice step 0".into());
            }
            let clamp = |v: i64, lo: i64, hi: i64| v.clamp(lo, hi);
            let norm = |v: i64| if v < 0 { v + dim } else { v };
            let (s, e) = if st > 0 {
                (clamp(norm(starts[k]), 0, dim), clamp(norm(ends[k]), 0, dim))
            } else {
                (clamp(norm(starts[k]), -1, dim - 1), clamp(norm(ends[k]), -1, dim - 1))
            };
            let len = if st > 0 { (e - s + st - 1).div_euclid(st) } else { (s - e - st - 1).div_euclid(-st) };
            shape[a] = len.max(0) as usize;
            start[a] = s;
            step[a] = st;
        }
        let istr = strides(&self.shape);
        Ok(self.gather_by(shape, 0.0, |o| {
            Some((0..rank).map(|d| (start[d] + o[d] as i64 * step[d]) as usize * istr[d]).sum())
        }))
    }
}

/// ONNX Reshape semantics: 0 copies the input dimension (unless `allow_zero`), -1 is inferred.
pub fn reshape_target(input: &[usize], target: &[i64], allow_zero: bool) -> R<Vec<usize>> {
    let total: usize = input.iter().product();
    let mut infer = None;
    let mut shape = Vec::with_capacity(target.len());
    for (i, &t) in target.iter().enumerate() {
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            0 if !allow_zero => shape.push(*input.get(i).ok_or("Reshape 0 beyond input rank")?),
            t if t >= 0 => shape.push(t as usize),
            _ => return Err(format!("invalid Reshape target {target:?}")),
        }
    }
    let known = checked_numel(&shape)?;
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {input:?} to {target:?}"));
        }
        shape[i] = total / known;
    }
    if shape.iter().product::<usize>() != total {
        return Err(format!("cannot reshape {input:?} ({total} values) to {target:?}"));
    }
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_idioms_fold() {
        let t = ConstTensor::iota(&[2, 3]);
        assert_eq!(t.transpose(None).unwrap().data, vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let p = t.pad(&[0, 1, 0, 0], -1.0).unwrap();
        assert_eq!(p.shape, vec![2, 4]);
        assert_eq!(p.data, vec![-1.0, 0.0, 1.0, 2.0, -1.0, 3.0, 4.0, 5.0]);
        let s = t.slice(&[0, -1], &[2, -4], Some(&[0, 1]), Some(&[1, -2])).unwrap();
        assert_eq!(s.data, vec![2.0, 0.0, 5.0, 3.0]);
        assert_eq!(reshape_target(&[1, 3, 4], &[0, -1], false).unwrap(), vec![1, 12]);
        let g = ConstTensor::vector(vec![1.0, 784.0], true).gather(&ConstTensor::scalar(0.0, true), 0).unwrap();
        assert_eq!((g.shape.clone(), g.data.clone()), (vec![], vec![1.0]));
        let c = ConstTensor::concat(&[&g.unsqueeze(&[0]).unwrap(), &ConstTensor::vector(vec![-1.0], true)], 0).unwrap();
        assert_eq!(c.data, vec![1.0, -1.0]);
        let seven = ConstTensor::scalar(7.0, true);
        assert_eq!(seven.div(&ConstTensor::scalar(2.0, true)).unwrap().data, vec![3.0]);
    }

    #[test]
    fn inconsistent_attributes_are_errors_not_panics() {
        let t = ConstTensor::iota(&[2, 3]);
        assert!(t.slice(&[0, 0], &[1], None, None).is_err(), "ends shorter than starts");
        assert!(t.slice(&[0], &[1], None, Some(&[])).is_err(), "steps shorter than starts");
        assert!(t.slice(&[0, 0, 0], &[1, 1, 1], None, None).is_err(), "more axes than the rank");
        assert!(t.unsqueeze(&[2, 2]).is_err(), "a repeated axis");
        assert!(t.pad(&[0, 0, 1 << 40, 0], 0.0).is_err(), "a huge pad");
        assert!(checked_numel(&[1 << 40, 1 << 40]).is_err() && checked_numel(&[2, 3]) == Ok(6));
        assert!(reshape_target(&[6], &[1 << 40, 1 << 40, -1], false).is_err());
    }
}
