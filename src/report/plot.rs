//! Implication bar charts from `lrom --csv` results, like paper 000's Figure 2: per compact
//! variant, the share of samples where "compact ⇒ original" and "original ⇒ compact" is established.
//!
//! How both directions are read from the CSV (a region is one sample × δ × (n1, n2)):
//! - a region with `n1 = A`, `n2 = B` decides "B ⇒ A": established iff its verdict is
//!   `established` (the verdict repeats on the region's rows; rows that disagree are an error);
//! - when every class-pair row of that region has `certified_max` (analysis `lrom` computes min and
//!   max), the region also decides "A ⇒ B": since LROM(B, A) = −LROM(A, B), it is established iff
//!   `certified_max ≤ 0` on every row (threshold 0, the default of `lrom`);
//! - when a sample has both an explicit region for a direction and a derived one, the explicit
//!   verdict wins.
//!
//! A percentage is over the distinct samples on which that direction was decided for that pair and δ;
//! a direction decided on no sample is drawn as "n/a". The original is `--original` or else the name in
//! the most distinct network pairs (ties: first in the CSV); its variants are the networks paired with
//! it, in CSV order; other pairs are ignored. Several radii become facets side by side in one file,
//! sharing the y axis (`--delta` keeps one). Drawing (`plot/draw.rs`): SVG or PNG, text in a TrueType
//! font loaded at run time.

mod draw;
mod typeset;

use std::collections::{BTreeMap, HashMap};

use super::{verdict_name, CsvRow};
use crate::analysis::lrom::Verdict;
use crate::error::{Error, Result};

pub use draw::{draw_figure, DEFAULT_FONT};

/// One direction of one pair at one radius: established on `established` of `samples` samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Share {
    pub established: usize,
    pub samples: usize,
}

impl Share {
    /// The share in percent (`samples` is never 0).
    pub fn percent(&self) -> f64 {
        100.0 * self.established as f64 / self.samples as f64
    }
}

/// The two bars of one compact variant; `None`: the CSV decides that direction on no sample.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantBars {
    pub variant: String,
    pub compact_implies_original: Option<Share>,
    pub original_implies_compact: Option<Share>,
}

/// The bars at one radius, one group per variant (every facet lists the same variants).
#[derive(Clone, Debug, PartialEq)]
pub struct Facet {
    pub delta: f64,
    pub bars: Vec<VariantBars>,
}

/// Everything a chart shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub original: String,
    pub facets: Vec<Facet>,
}

/// What one region says: "n2 ⇒ n1" explicitly, and "n1 ⇒ n2" when every row has a maximum.
struct Region {
    established: bool,
    max_all_nonpositive: bool,
    max_complete: bool,
    verdict: String,
}

impl Region {
    fn reverse(&self) -> Option<bool> {
        self.max_complete.then_some(self.max_all_nonpositive)
    }
}

type RegionKey<'a> = (usize, u64, &'a str, &'a str);

fn regions(rows: &[CsvRow]) -> Result<HashMap<RegionKey<'_>, Region>> {
    let established = verdict_name(Verdict::Established);
    let mut regions: HashMap<RegionKey, Region> = HashMap::new();
    for r in rows.iter().filter(|r| r.n1 != r.n2) {
        if !r.delta.is_finite() {
            return Err(Error::Input(format!("sample {}: delta {} is not a number", r.sample, r.delta)));
        }
        let key = (r.sample, r.delta.to_bits(), r.n1.as_str(), r.n2.as_str());
        let max_ok = r.certified_max.is_some_and(|m| m <= 0.0);
        match regions.get_mut(&key) {
            Some(g) if g.verdict != r.verdict => {
                return Err(Error::Input(format!(
                    "sample {}, delta {}, {} / {}: rows of one region disagree on the verdict ('{}' and '{}')",
                    r.sample, r.delta, r.n1, r.n2, g.verdict, r.verdict
                )))
            }
            Some(g) => {
                g.max_all_nonpositive &= max_ok;
                g.max_complete &= r.certified_max.is_some();
            }
            None => {
                let region = Region {
                    established: r.verdict == established,
                    max_all_nonpositive: max_ok,
                    max_complete: r.certified_max.is_some(),
                    verdict: r.verdict.clone(),
                };
                regions.insert(key, region);
            }
        }
    }
    Ok(regions)
}

/// "from ⇒ to" at `delta`: explicit regions (n1 = to, n2 = from) override derived ones.
fn direction(regions: &HashMap<RegionKey, Region>, delta: f64, from: &str, to: &str) -> Option<Share> {
    let mut decided = BTreeMap::new();
    let at = |k: &RegionKey, n1: &str, n2: &str| k.1 == delta.to_bits() && k.2 == n1 && k.3 == n2;
    for (k, g) in regions.iter().filter(|(k, _)| at(k, from, to)) {
        if let Some(v) = g.reverse() {
            decided.insert(k.0, v);
        }
    }
    for (k, g) in regions.iter().filter(|(k, _)| at(k, to, from)) {
        decided.insert(k.0, g.established);
    }
    let samples = decided.len();
    (samples > 0).then(|| Share { established: decided.values().filter(|&&v| v).count(), samples })
}

/// Distinct values in first-appearance order.
fn distinct<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for x in items {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

/// `wanted` if it is a network of the CSV, else the name in the most distinct pairs.
fn choose_original(names: &[&str], pairs: &[(&str, &str)], wanted: Option<&str>) -> Result<String> {
    if let Some(w) = wanted {
        return match names.contains(&w) {
            true => Ok(w.to_string()),
            false => {
                Err(Error::Input(format!("unknown network '{w}' for --original; the CSV has {}", names.join(", "))))
            }
        };
    }
    let count = |n: &str| pairs.iter().filter(|(a, b)| *a == n || *b == n).count();
    // First name with the highest count: max_by_key keeps the last maximum, so scan in reverse.
    names
        .iter()
        .rev()
        .max_by_key(|n| count(n))
        .map(|n| n.to_string())
        .ok_or_else(|| Error::Input("the CSV has no pair of two different networks (no result rows?)".into()))
}

/// Radii sorted ascending, or only `wanted` (compared with a relative tolerance of 1e-9).
fn choose_deltas(deltas: impl Iterator<Item = f64>, wanted: Option<f64>) -> Result<Vec<f64>> {
    let mut deltas = distinct(deltas);
    deltas.sort_by(f64::total_cmp);
    let Some(w) = wanted else { return Ok(deltas) };
    match deltas.iter().find(|&&d| (d - w).abs() <= 1e-9 * d.abs().max(w.abs())) {
        Some(&d) => Ok(vec![d]),
        None => {
            let have: Vec<String> = deltas.iter().map(|d| d.to_string()).collect();
            Err(Error::Input(format!("no results at delta {w}; the CSV has {}", have.join(", "))))
        }
    }
}

/// The chart's content: both implication directions between the original and each variant, per δ.
pub fn implication_figure(rows: &[CsvRow], original: Option<&str>, delta: Option<f64>) -> Result<Figure> {
    let regions = regions(rows)?;
    let paired = || rows.iter().filter(|r| r.n1 != r.n2);
    let names = distinct(paired().flat_map(|r| [r.n1.as_str(), r.n2.as_str()]));
    let pairs = distinct(paired().map(|r| if r.n1 < r.n2 { (&*r.n1, &*r.n2) } else { (&*r.n2, &*r.n1) }));
    let original = choose_original(&names, &pairs, original)?;
    let o = original.as_str();
    let variants: Vec<&str> =
        names.iter().copied().filter(|&n| n != o && pairs.iter().any(|p| *p == (o, n) || *p == (n, o))).collect();
    let facets = choose_deltas(paired().filter(|r| r.n1 == o || r.n2 == o).map(|r| r.delta), delta)?
        .into_iter()
        .map(|d| Facet {
            delta: d,
            bars: variants
                .iter()
                .map(|&v| VariantBars {
                    variant: v.to_string(),
                    compact_implies_original: direction(&regions, d, v, o),
                    original_implies_compact: direction(&regions, d, o, v),
                })
                .collect(),
        })
        .collect();
    Ok(Figure { original, facets })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A class-pair row; `max` None leaves `certified_max` empty.
    fn row(sample: usize, delta: f64, n1: &str, n2: &str, j: usize, max: Option<f64>, verdict: &str) -> CsvRow {
        CsvRow {
            sample,
            label: 0,
            delta,
            n1: n1.into(),
            n2: n2.into(),
            c: 0,
            j,
            certified_min: 0.0,
            attained_min: 0.0,
            certificate_min: "dual".into(),
            certified_max: max,
            attained_max: max,
            independent_min: None,
            independent_max: None,
            implication_only_min: None,
            verdict: verdict.into(),
            seconds: 0.0,
            unstable_n1: 0,
            unstable_n2: 0,
            note: None,
            nodes_min: None,
            nodes_max: None,
        }
    }

    fn share(established: usize, samples: usize) -> Option<Share> {
        Some(Share { established, samples })
    }

    #[test]
    fn explicit_verdicts_count_per_sample() {
        let rows = [
            row(0, 0.1, "orig", "small", 1, None, "established"),
            row(0, 0.1, "orig", "small", 2, None, "established"),
            row(1, 0.1, "orig", "small", 1, None, "refuted"),
            row(2, 0.1, "orig", "small", 1, None, "unknown"),
            row(3, 0.1, "orig", "small", 1, None, "established"),
        ];
        let f = implication_figure(&rows, None, None).unwrap();
        assert_eq!(f.original, "orig");
        let b = &f.facets[0].bars[0];
        assert_eq!(b.variant, "small");
        assert_eq!(b.compact_implies_original, share(2, 4));
        assert_eq!(b.original_implies_compact, None, "no maximum, no reverse region");
        assert_eq!(share(2, 4).unwrap().percent(), 50.0);
    }

    #[test]
    fn the_maximum_decides_the_reverse_direction_only_when_every_row_is_nonpositive() {
        let rows = [
            // "small ⇒ orig" explicit; "orig ⇒ small" from the maxima
            row(0, 0.1, "orig", "small", 1, Some(-0.5), "established"),
            row(0, 0.1, "orig", "small", 2, Some(0.0), "established"),
            row(1, 0.1, "orig", "small", 1, Some(-0.5), "refuted"),
            row(1, 0.1, "orig", "small", 2, Some(0.25), "refuted"),
            row(2, 0.1, "orig", "small", 1, None, "refuted"),
        ];
        let b = &implication_figure(&rows, None, None).unwrap().facets[0].bars[0];
        assert_eq!(b.compact_implies_original, share(1, 3));
        assert_eq!(b.original_implies_compact, share(1, 2), "sample 2 has no maximum: undecided, not counted");
    }

    #[test]
    fn an_explicit_verdict_wins_over_the_derived_one() {
        let rows = [
            // derived: "small ⇒ orig" on samples 0 and 1 (max ≤ 0) …
            row(0, 0.1, "small", "orig", 1, Some(-1.0), "refuted"),
            row(1, 0.1, "small", "orig", 1, Some(-1.0), "refuted"),
            // … but sample 1 was analysed explicitly and refuted
            row(1, 0.1, "orig", "small", 1, None, "refuted"),
        ];
        let b = &implication_figure(&rows, Some("orig"), None).unwrap().facets[0].bars[0];
        assert_eq!(b.compact_implies_original, share(1, 2));
        assert_eq!(b.original_implies_compact, share(0, 2));
    }

    #[test]
    fn original_defaults_to_the_name_in_most_pairs_and_other_pairs_are_ignored() {
        let rows = [
            row(0, 0.1, "a", "b", 1, None, "established"),
            row(0, 0.1, "c", "b", 1, None, "established"),
            row(0, 0.1, "b", "c", 1, None, "refuted"),
            row(0, 0.1, "d", "d", 1, None, "established"),
        ];
        let f = implication_figure(&rows, None, None).unwrap();
        assert_eq!(f.original, "b");
        let names: Vec<&str> = f.facets[0].bars.iter().map(|b| b.variant.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(f.facets[0].bars[1].original_implies_compact, share(1, 1));
        assert_eq!(f.facets[0].bars[1].compact_implies_original, share(0, 1));
        let f = implication_figure(&rows, Some("a"), None).unwrap();
        assert_eq!(f.facets[0].bars.len(), 1, "a is paired with b only");
        // ties go to the first name of the CSV
        assert_eq!(implication_figure(&rows[..1], None, None).unwrap().original, "a");
    }

    #[test]
    fn one_facet_per_delta_sorted_or_the_chosen_one() {
        let rows = [
            row(0, 0.05, "o", "v", 1, None, "refuted"),
            row(0, 0.01, "o", "v", 1, None, "established"),
            row(1, 0.01, "o", "v", 1, None, "established"),
        ];
        let f = implication_figure(&rows, None, None).unwrap();
        let deltas: Vec<f64> = f.facets.iter().map(|f| f.delta).collect();
        assert_eq!(deltas, [0.01, 0.05]);
        assert_eq!(f.facets[0].bars[0].compact_implies_original, share(2, 2));
        assert_eq!(f.facets[1].bars[0].compact_implies_original, share(0, 1));
        let f = implication_figure(&rows, None, Some(0.05)).unwrap();
        assert_eq!(f.facets.len(), 1);
        assert_eq!(f.facets[0].delta, 0.05);
    }

    #[test]
    fn bad_input_is_an_error() {
        let rows = [row(0, 0.1, "o", "v", 1, None, "established")];
        let e = implication_figure(&rows, Some("x"), None).unwrap_err().to_string();
        assert!(e.contains("'x'") && e.contains("o, v"), "{e}");
        let e = implication_figure(&rows, None, Some(0.2)).unwrap_err().to_string();
        assert!(e.contains("0.2") && e.contains("0.1"), "{e}");
        assert!(implication_figure(&[], None, None).is_err());
        let split = [row(0, 0.1, "o", "v", 1, None, "established"), row(0, 0.1, "o", "v", 2, None, "refuted")];
        let e = implication_figure(&split, None, None).unwrap_err().to_string();
        assert!(e.contains("disagree"), "{e}");
    }
}
