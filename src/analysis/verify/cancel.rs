//! Disjuncts that contradict themselves exactly: two networks that compute the same function
//! (identical layers, reading the same input variables) make two of its items cancel term by term.
//!
//! "A prefers class i, B prefers class j ≠ i" over a faithful re-export is such a disjunct:
//! `A_j − A_i < 0` and `B_i − B_j < 0` add up to `0 < 0`. An LP cannot refute it, since the two
//! relaxed constraints meet on the decision boundary (the bound is 0 up to rounding), but the sum
//! refutes it exactly (real arithmetic of the IR; float-sound mode does not use it).

use std::collections::BTreeMap;

use super::{Checker, Item};

/// Whether two items of `items` add up to a false comparison between constants: their input and
/// output terms cancel exactly once every network `n` is replaced by `same[n]`, the first one
/// identical to it (`representatives`).
pub fn contradicts(same: &[usize], items: &[Item]) -> bool {
    let terms = |item: &Item| {
        let mut sum: BTreeMap<(usize, usize, usize), f64> = BTreeMap::new();
        for &(a, g) in &item.inputs {
            *sum.entry((0, g, 0)).or_default() += a;
        }
        for &(a, n, i) in &item.outputs {
            *sum.entry((1, same[n], i)).or_default() += a;
        }
        sum
    };
    let summed: Vec<BTreeMap<_, f64>> = items.iter().map(terms).collect();
    (0..items.len()).any(|p| {
        (p + 1..items.len()).any(|q| {
            let mut total = summed[p].clone();
            for (k, a) in &summed[q] {
                *total.entry(*k).or_default() += a;
            }
            // e_p + e_q ≡ 0, so e_p ≤ r_p and e_q ≤ r_q need 0 ≤ r_p + r_q (< with a strict one);
            // -r_q ≤ r_p decides it without rounding
            let (rp, rq) = (items[p].rhs, items[q].rhs);
            let strict = items[p].strict || items[q].strict;
            total.values().all(|&a| a == 0.0) && if strict { rp <= -rq } else { rp < -rq }
        })
    })
}

/// For every network, the first network that computes the same function on the same inputs.
pub fn representatives(checker: &Checker) -> Vec<usize> {
    let nets = checker.nets;
    let maps = &checker.space.maps;
    (0..nets.len())
        .map(|n| {
            (0..n)
                .find(|&m| {
                    maps[m] == maps[n]
                        && nets[m].layers.len() == nets[n].layers.len()
                        && nets[m].shared_prefix(nets[n]) == nets[n].layers.len()
                })
                .unwrap_or(n)
        })
        .collect()
}
