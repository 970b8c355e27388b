//! Rigorous bounds from any dual vector (Neumaier–Shcherbina): whatever multipliers a solver
//! returns, the bound computed here holds for the model in exact arithmetic.
//!
//! For `min c·x + k` subject to rows `aᵣ·x (≥|≤|=) bᵣ` (each exact to within `εᵣ`) and finite
//! variable bounds `l ≤ x ≤ u`, every multiplier vector `y` with the right signs gives
//! `c·x ≥ Σᵣ (yᵣbᵣ − |yᵣ|εᵣ) + Σⱼ min(dⱼlⱼ, dⱼuⱼ)` where `d = c − Aᵀy`. `d` is computed in f64,
//! so each `dⱼ` carries an error bound that is charged at `max(|lⱼ|, |uⱼ|)`; all sums are widened
//! outward. Multipliers of the wrong sign are set to zero, so a wrong solver answer can only make
//! the bound weaker. Integrality is ignored, so for a MILP this bounds its LP relaxation.

use crate::encode::{LinExpr, LinearProgram, RowKind};
use crate::round::{gamma, Acc};

use super::Sense;

/// A rigorous lower bound of `objective` over the model from the row multipliers `duals`.
pub fn lower_bound(lp: &LinearProgram, objective: &LinExpr, duals: &[f64]) -> f64 {
    let n = lp.vars.len();
    let mut d = vec![0.0; n];
    let mut d_mag = vec![0.0; n];
    let mut d_terms = vec![1usize; n];
    for &(v, c) in &objective.terms {
        d[v] += c;
        d_mag[v] += c.abs();
    }
    let mut total = Acc::new(objective.constant);
    total.add_error(objective.error);
    for (row, &y) in lp.rows.iter().zip(duals) {
        let y = match row.kind {
            RowKind::Ge => y.max(0.0),
            RowKind::Le => y.min(0.0),
            RowKind::Eq => y,
        };
        if y == 0.0 || !y.is_finite() {
            continue;
        }
        total.add(y, row.rhs);
        total.add(-y.abs(), row.error);
        for &(v, a) in &row.coeffs {
            let p = y * a;
            d[v] -= p;
            d_mag[v] += p.abs();
            d_terms[v] += 1;
        }
    }
    for (j, var) in lp.vars.iter().enumerate() {
        let x = if d[j] >= 0.0 { var.lower } else { var.upper };
        total.add(d[j], x);
        total.add(-gamma(d_terms[j]) * d_mag[j], var.lower.abs().max(var.upper.abs()));
    }
    total.lower()
}

/// The best rigorous bound in the direction of `sense` that `duals` yield: a lower bound for
/// minimisation, an upper bound for maximisation. Solvers differ in the sign convention of
/// duals, so both signs are tried; each is valid on its own.
pub fn bound(lp: &LinearProgram, objective: &LinExpr, sense: Sense, duals: &[f64]) -> f64 {
    let neg: Vec<f64> = duals.iter().map(|v| -v).collect();
    match sense {
        Sense::Minimise => lower_bound(lp, objective, duals).max(lower_bound(lp, objective, &neg)),
        Sense::Maximise => {
            let flipped = LinExpr {
                terms: objective.terms.iter().map(|&(v, c)| (v, -c)).collect(),
                constant: -objective.constant,
                error: objective.error,
            };
            -(lower_bound(lp, &flipped, duals).max(lower_bound(lp, &flipped, &neg)))
        }
    }
}

/// The elastic version of `lp`: every row gets a slack (two for an equality) that may absorb
/// any violation, and the objective is the total slack. It is always feasible, and a certified
/// lower bound > 0 of its objective proves `lp` infeasible.
pub fn elastic(lp: &LinearProgram) -> (LinearProgram, LinExpr) {
    let mut out = LinearProgram { vars: lp.vars.clone(), rows: Vec::with_capacity(lp.rows.len()) };
    out.vars.iter_mut().for_each(|v| v.integer = false);
    let mag = lp.magnitudes();
    let mut objective = LinExpr::default();
    for row in &lp.rows {
        let mut reach = Acc::new(row.rhs.abs() + row.error);
        row.coeffs.iter().for_each(|&(v, a)| reach.add(a.abs(), mag[v]));
        let cap = 2.0 * reach.upper() + 1.0;
        let mut r = row.clone();
        let signs: &[f64] = match row.kind {
            RowKind::Ge => &[1.0],
            RowKind::Le => &[-1.0],
            RowKind::Eq => &[1.0, -1.0],
        };
        for &s in signs {
            let v = out.add_var(0.0, cap, false);
            r.coeffs.push((v, s));
            objective.terms.push((v, 1.0));
        }
        out.rows.push(r);
    }
    (out, objective)
}

/// Is `lp` certainly infeasible (certified total slack of its elastic version > 0, solved with
/// `cfg`)? A solver that fails on the elastic LP proves nothing.
pub fn proves_infeasible(lp: &LinearProgram, cfg: &super::SolverConfig) -> bool {
    let (elastic, objective) = elastic(lp);
    let Ok(mut session) = super::Session::new(&elastic, cfg, false) else { return false };
    match session.solve(&objective, Sense::Minimise) {
        Ok(sol) => sol.row_duals.is_some_and(|d| bound(&elastic, &objective, Sense::Minimise, &d) > 0.0),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// min x + y  s.t.  x + y ≥ 1,  0 ≤ x, y ≤ 2: optimum 1, dual 1.
    fn tiny() -> (LinearProgram, LinExpr) {
        let mut lp = LinearProgram::default();
        let (x, y) = (lp.add_var(0.0, 2.0, false), lp.add_var(0.0, 2.0, false));
        lp.add_row(LinExpr { terms: vec![(x, 1.0), (y, 1.0)], constant: 0.0, error: 0.0 }, RowKind::Ge, 1.0);
        (lp, LinExpr { terms: vec![(x, 1.0), (y, 1.0)], constant: 0.0, error: 0.0 })
    }

    #[test]
    fn exact_dual_gives_the_optimum_and_wrong_duals_stay_valid() {
        let (lp, obj) = tiny();
        let b = bound(&lp, &obj, Sense::Minimise, &[1.0]);
        assert!(b <= 1.0 && b > 1.0 - 1e-12, "{b}");
        // any multiplier gives a valid (weaker) bound: never above the optimum
        for y in [0.0, 0.3, 5.0, -7.0, f64::NAN] {
            assert!(bound(&lp, &obj, Sense::Minimise, &[y]) <= 1.0);
        }
        // maximum of x + y is 4 (both at 2): with no useful dual the box gives it
        let m = bound(&lp, &obj, Sense::Maximise, &[0.0]);
        assert!((4.0..4.0 + 1e-12).contains(&m), "{m}");
    }

    /// x + y ≥ 1 with x, y ≤ 0.4 is infeasible: the elastic total slack is ≥ 0.2, and the
    /// multiplier 1 on the slacked row certifies exactly that; with room (≤ 2) it is 0.
    #[test]
    fn elastic_bound_proves_infeasibility_only_when_infeasible() {
        let (mut lp, _) = tiny();
        let (el, obj) = elastic(&lp);
        assert_eq!(el.vars.len(), 3);
        assert!(lower_bound(&el, &obj, &[1.0]) <= 0.0, "feasible: no proof");
        lp.vars.iter_mut().for_each(|v| v.upper = 0.4);
        let (el, obj) = elastic(&lp);
        let b = lower_bound(&el, &obj, &[1.0]);
        assert!(b > 0.19 && b <= 0.2, "{b}");
    }
}
