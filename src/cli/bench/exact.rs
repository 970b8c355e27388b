//! `twinverify bench --mode exact`: relaxed mode (the baseline) and exact mode's branch and bound
//! on the same regions, with seconds, how much tighter exact mode is and how many objectives it closes.

use std::time::Instant;

use serde::Serialize;

use super::BenchArgs;
use crate::analysis::lrom::{analyse, LromConfig, RegionResult, Verdict};
use crate::bounds::InputMap;
use crate::cli::load;
use crate::cli::progress::Progress;
use crate::data::Sample;
use crate::encode::Mode;
use crate::error::{Error, Result};
use crate::onnx::{OnnxModel, TractRunner};
use crate::report::median;

/// One compact twin at one radius, as written to `--csv` and `--json`.
#[derive(Serialize)]
struct Row {
    compact: String,
    delta: f64,
    samples: usize,
    relaxed_median_seconds: f64,
    exact_median_seconds: f64,
    exact_total_seconds: f64,
    /// Objectives (minima and maxima) whose bracket the branch and bound closed to the gap.
    objectives: usize,
    closed: usize,
    /// Minima not closed but decided (certified ≥ the threshold), which the search stops at.
    decided: usize,
    /// Mean over objectives of how much exact mode's certified bound is tighter than relaxed's.
    mean_tightening: f64,
    relaxed_established: usize,
    exact_established: usize,
    /// Regions where the two modes' verdicts differ in a way exact mode must never cause.
    contradictions: usize,
}

/// Objectives of one region: (closed, decided, total, tightening summed).
fn objectives(relaxed: &RegionResult, exact: &RegionResult, cfg: &LromConfig) -> (usize, usize, usize, f64) {
    let (mut closed, mut decided, mut total, mut tighter) = (0, 0, 0, 0.0);
    for (r, e) in relaxed.pairs.iter().zip(&exact.pairs) {
        let both = [(Some(&r.min), Some(&e.min), 1.0), (r.max.as_ref(), e.max.as_ref(), -1.0)];
        for (r, e, sign) in both {
            let (Some(r), Some(e)) = (r, e) else { continue };
            total += 1;
            tighter += sign * (e.certified() - r.certified());
            if e.attained().is_some_and(|a| (a - e.certified()).abs() <= cfg.bab.gap) {
                closed += 1;
            } else if sign > 0.0 && e.certified() >= cfg.threshold {
                decided += 1;
            }
        }
    }
    (closed, decided, total, tighter)
}

pub fn run(
    args: &BenchArgs,
    models: &[OnnxModel],
    all_runners: &[TractRunner],
    map: &InputMap,
    samples: &[Sample],
    deltas: &[f64],
) -> Result<()> {
    let relaxed_cfg = LromConfig { independent: false, ..Default::default() };
    let (exact_engine, bab) = args.exact.settings();
    let mut exact_cfg = LromConfig { exact_engine, bab, ..relaxed_cfg.clone() };
    exact_cfg.encode.mode = Mode::Exact;
    let original = &models[0].network;
    crate::say!(
        "Exact-mode benchmark: {} at delta {deltas:?}, first {} selected rows both networks classify correctly",
        original.name,
        args.count
    );
    crate::say!("baseline: relaxed mode (LP-tightened bounds, one certified joint LP per objective)");
    crate::say!(
        "exact:    {} engine, {} s and {} nodes per objective, closed when certified and attained are within {:e}\n",
        format!("{:?}", exact_cfg.exact_engine).to_lowercase(),
        exact_cfg.bab.seconds.map_or("no limit".into(), |s| s.to_string()),
        exact_cfg.bab.max_nodes,
        exact_cfg.bab.gap
    );
    crate::say!(
        "{:<28} {:>7} {:>7} {:>10} {:>10} {:>8} {:>8} {:>8} {:>10} {:>11}",
        "compact twin",
        "delta",
        "samples",
        "relaxed s",
        "exact s",
        "closed",
        "decided",
        "open",
        "tighter by",
        "established"
    );
    let mut rows = Vec::new();
    for (k, compact) in models.iter().enumerate().skip(1) {
        let nets = [original, &compact.network];
        let runners = [all_runners[0].clone(), all_runners[k].clone()];
        let picked = load::pick(samples.iter().cloned(), &nets, false, args.count)?.rows;
        if picked.is_empty() {
            return Err(Error::Input("no selected row is classified correctly by both networks".into()));
        }
        for &delta in deltas {
            let (mut tr, mut te) = (Vec::new(), Vec::new());
            let (mut closed, mut decided, mut total, mut tighter) = (0, 0, 0, 0.0);
            let (mut est, mut contradictions) = ([0usize; 2], 0);
            let bar = Progress::new(picked.len(), "samples");
            bar.set_message(format!("{} δ={delta}", compact.network.name));
            for s in &picked {
                let t = Instant::now();
                let r = analyse(nets, &runners, &s.features, s.label, delta, map, &relaxed_cfg)?;
                tr.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let e = analyse(nets, &runners, &s.features, s.label, delta, map, &exact_cfg)?;
                te.push(t.elapsed().as_secs_f64());
                let o = objectives(&r, &e, &exact_cfg);
                (closed, decided, total, tighter) = (closed + o.0, decided + o.1, total + o.2, tighter + o.3);
                est[0] += (r.verdict == Verdict::Established) as usize;
                est[1] += (e.verdict == Verdict::Established) as usize;
                // exact mode keeps every verdict relaxed mode decides
                contradictions += (r.verdict != Verdict::Unknown
                    && e.verdict != r.verdict
                    && !(r.verdict == Verdict::MarginNegative && e.verdict == Verdict::Violated))
                    as usize;
                bar.inc();
            }
            bar.finish();
            let total_exact = te.iter().sum::<f64>();
            let (mr, me) = (median(&mut tr).unwrap_or(f64::NAN), median(&mut te).unwrap_or(f64::NAN));
            let n = picked.len();
            let mean = tighter / total.max(1) as f64;
            let pct = |v: usize| 100.0 * v as f64 / total.max(1) as f64;
            crate::say!(
                "{:<28} {delta:>7} {n:>7} {mr:>10.3} {me:>10.3} {:>7.1}% {:>7.1}% {:>7.1}% {mean:>10.3e} {:>5}/{}",
                compact.network.name,
                pct(closed),
                pct(decided),
                pct(total - closed - decided),
                est[1],
                est[0]
            );
            rows.push(Row {
                compact: compact.network.name.clone(),
                delta,
                samples: n,
                relaxed_median_seconds: mr,
                exact_median_seconds: me,
                exact_total_seconds: total_exact,
                objectives: total,
                closed,
                decided,
                mean_tightening: mean,
                relaxed_established: est[0],
                exact_established: est[1],
                contradictions,
            });
        }
    }
    crate::say!("\nseconds are per-sample medians; 'closed': certified and attained within the gap; 'decided': a minimum proved ≥ the threshold (the search stops there); 'tighter by': mean gain of exact over relaxed certified bounds; 'established': exact/relaxed");
    if rows.iter().any(|r| r.contradictions > 0) {
        return Err(Error::Input("exact mode contradicted a verdict of relaxed mode (see the rows)".into()));
    }
    args.output.write(|| rows.iter().collect(), || serde_json::json!({ "original": original.name, "rows": rows }))
}
