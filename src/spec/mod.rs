//! The relational YAML spec users write: networks, data, region, analysis, solver and output.
//! Unknown keys are errors that name the key and the allowed ones; paths are relative to the file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bounds::{InputMap, Layout, Method, Normalisation};
use crate::data::{check_scale, parse_scale, read_samples, Sample};
use crate::encode::Mode;
use crate::error::{Error, Result};
use crate::solve::SolverConfig;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The networks, in order: `- {name: original, path: nets/a.onnx}`.
    pub networks: Vec<NetworkEntry>,
    pub data: DataSpec,
    /// Rows to use: `0..20`, `5` or a list `[0, 3, 7]` (default: all).
    #[serde(default)]
    pub samples: Option<Selection>,
    /// Analyse samples a network misclassifies too (default: correctly classified only).
    #[serde(default)]
    pub include_misclassified: bool,
    /// One radius or a list.
    pub delta: OneOrMany,
    /// Input domain `[low, high]` the region is clipped to.
    #[serde(default)]
    pub domain: Option<[f64; 2]>,
    #[serde(default)]
    pub analysis: AnalysisKind,
    /// Ordered pairs `[N1, N2]` (subject, reference) by name; default: every ordered pair.
    #[serde(default)]
    pub pairs: Option<Vec<[String; 2]>>,
    #[serde(default)]
    pub class_pairs: ClassPairs,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default = "default_bounds")]
    pub bounds: Method,
    /// Solve the LP/MILP (default true); false reports symbolic bounds only.
    #[serde(default = "yes")]
    pub solve: bool,
    /// Also run the independent baseline (default: true for lrom, false otherwise).
    #[serde(default)]
    pub independent: Option<bool>,
    #[serde(default)]
    pub implication_only: bool,
    #[serde(default)]
    pub threshold: f64,
    /// Certified bounds also hold for float32 inference (default false; see `--float-sound`).
    #[serde(default)]
    pub float_sound: bool,
    #[serde(default)]
    pub solver: SolverConfig,
    #[serde(default)]
    pub output: OutputSpec,
}

fn default_bounds() -> Method {
    Method::Lp
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkEntry {
    pub name: String,
    pub path: PathBuf,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// CSV rows "label,f1,…,fn".
    #[serde(default)]
    pub csv: Option<PathBuf>,
    /// Factor applied to the features: a number or a fraction such as "1/255".
    #[serde(default)]
    pub scale: Option<Scale>,
    /// Explicit centres instead of a CSV file.
    #[serde(default)]
    pub centers: Option<Vec<Center>>,
    /// Normalisation outside the network, network input = (pixel − mean_c)/std_c: one value or
    /// one per channel. `delta` and `domain` stay in pixel units (after `scale`).
    #[serde(default)]
    pub mean: Option<OneOrMany>,
    #[serde(default)]
    pub std: Option<OneOrMany>,
    /// Pixel order of the rows: `chw` (the network's, default) or `hwc` (transposed to CHW).
    #[serde(default)]
    pub layout: Layout,
}

impl DataSpec {
    /// The scale factor (1 when none is given): a finite number > 0.
    pub fn scale(&self) -> Result<f64> {
        match &self.scale {
            None => Ok(1.0),
            Some(Scale::Number(v)) => check_scale(*v),
            Some(Scale::Text(t)) => parse_scale(t),
        }
    }

    /// The normalisation and pixel order of the rows.
    pub fn normalisation(&self) -> Normalisation {
        Normalisation {
            mean: self.mean.as_ref().map(OneOrMany::values),
            std: self.std.as_ref().map(OneOrMany::values),
            layout: self.layout,
        }
    }

    /// The pixel → network map for inputs of shape `shape`, regions clipped to `domain`.
    pub fn map(&self, domain: Option<[f64; 2]>, shape: &[usize]) -> Result<InputMap> {
        InputMap::new(&self.normalisation(), domain.map(|[a, b]| (a, b)), shape)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Scale {
    Number(f64),
    Text(String),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Center {
    pub label: usize,
    pub x: Vec<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum Selection {
    One(usize),
    List(Vec<usize>),
    Range(String),
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(f64),
    Many(Vec<f64>),
}

impl OneOrMany {
    pub fn values(&self) -> Vec<f64> {
        match self {
            OneOrMany::One(v) => vec![*v],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// What is computed for every region.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AnalysisKind {
    /// LROM minimum and maximum for every class pair, with the independent baseline.
    #[default]
    Lrom,
    /// The implication verdict only (LROM minima).
    Implication,
    /// The implication matrix over every ordered pair of networks.
    Matrix,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClassPairs {
    /// (label, j) for every other class j.
    #[default]
    Label,
    /// Every ordered pair of classes.
    All,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    #[serde(default)]
    pub csv: Option<PathBuf>,
    #[serde(default)]
    pub json: Option<PathBuf>,
    /// JSON Lines file of finished units (default: the CSV's or JSON's path with `.jsonl`).
    #[serde(default)]
    pub jsonl: Option<PathBuf>,
}

/// Parses a sample selection written `A..B` (B excluded), `A..=B`, `A` or `A,B,C`.
pub fn parse_selection(text: &str) -> std::result::Result<Selection, String> {
    let t = text.trim();
    if t.contains("..") {
        return Ok(Selection::Range(t.to_string()));
    }
    let list: std::result::Result<Vec<usize>, _> = t.split(',').map(|p| p.trim().parse::<usize>()).collect();
    list.map(Selection::List).map_err(|_| format!("'{text}' is not a sample selection (use 0..100, 7 or 1,5,9)"))
}

/// The rows `selection` picks from `all` (every row when `None`), in the order it lists them.
pub fn select_rows(selection: Option<&Selection>, all: Vec<Sample>) -> Result<Vec<Sample>> {
    match selection {
        Some(sel) => Ok(sel.indices(all.len())?.into_iter().map(|i| all[i].clone()).collect()),
        None => Ok(all),
    }
}

impl Selection {
    /// The selected row indices among `n` rows.
    pub fn indices(&self, n: usize) -> Result<Vec<usize>> {
        let bad = |m: String| Error::Input(format!("samples: {m}"));
        let out: Vec<usize> = match self {
            Selection::One(i) => vec![*i],
            Selection::List(v) => v.clone(),
            Selection::Range(r) => {
                let (a, b) = r.split_once("..").ok_or_else(|| bad(format!("'{r}' is not a range A..B")))?;
                let (b, inclusive) = match b.strip_prefix('=') {
                    Some(b) => (b, true),
                    None => (b, false),
                };
                let a: usize = if a.trim().is_empty() {
                    0
                } else {
                    a.trim().parse().map_err(|_| bad(format!("'{a}' is not a row number")))?
                };
                let b: usize = if b.trim().is_empty() {
                    n
                } else {
                    b.trim().parse::<usize>().map_err(|_| bad(format!("'{b}' is not a row number")))?
                        + inclusive as usize
                };
                if a > b {
                    return Err(bad(format!("'{r}' is reversed (the first row is after the last)")));
                }
                if a >= n {
                    return Err(bad(format!("'{r}' starts after the last row ({n} rows)")));
                }
                (a..b.min(n)).collect()
            }
        };
        if let Some(i) = out.iter().find(|&&i| i >= n) {
            return Err(bad(format!("row {i} does not exist ({n} rows)")));
        }
        Ok(out)
    }
}

impl Spec {
    /// A spec with every default (as a file giving only `networks`, `data.csv` and no `delta`
    /// would have, with δ = 0.01): what the command-line flags start from.
    pub fn new(networks: Vec<NetworkEntry>, csv: PathBuf) -> Spec {
        Spec {
            networks,
            data: DataSpec { csv: Some(csv), scale: None, centers: None, mean: None, std: None, layout: Layout::Chw },
            samples: None,
            include_misclassified: false,
            delta: OneOrMany::One(0.01),
            domain: None,
            analysis: AnalysisKind::default(),
            pairs: None,
            class_pairs: ClassPairs::default(),
            mode: Mode::default(),
            bounds: default_bounds(),
            solve: yes(),
            independent: None,
            implication_only: false,
            threshold: 0.0,
            float_sound: false,
            solver: SolverConfig::default(),
            output: OutputSpec::default(),
        }
    }

    /// Reads and checks a spec file; relative paths in it become relative to its folder.
    pub fn load(path: &Path) -> Result<Spec> {
        let spec = Spec::read(path)?;
        spec.check()?;
        Ok(spec)
    }

    /// The spec as YAML with every path absolute, so that the file reads back as the same spec
    /// wherever it is saved (`lrom --print-spec`).
    pub fn to_yaml(&self) -> Result<String> {
        let mut spec = self.clone();
        let absolute = |p: &mut PathBuf| {
            if let Ok(a) = std::path::absolute(&*p) {
                *p = a;
            }
        };
        spec.networks.iter_mut().for_each(|n| absolute(&mut n.path));
        let out = &mut spec.output;
        spec.data.csv.iter_mut().chain(&mut out.csv).chain(&mut out.json).chain(&mut out.jsonl).for_each(absolute);
        serde_saphyr::to_string(&spec).map_err(|e| Error::Input(format!("cannot write the spec as YAML: {e}")))
    }

    /// Reads a spec file without checking it (the command line checks it once, after its flags
    /// are merged in); relative paths in it become relative to its folder.
    pub fn read(path: &Path) -> Result<Spec> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
        let mut spec: Spec =
            serde_saphyr::from_str(&text).map_err(|e| Error::Spec { path: path.into(), source: Box::new(e) })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        spec.networks.iter_mut().for_each(|n| rebase(&mut n.path));
        spec.data.csv.iter_mut().for_each(rebase);
        spec.output.csv.iter_mut().for_each(rebase);
        spec.output.json.iter_mut().for_each(rebase);
        spec.output.jsonl.iter_mut().for_each(rebase);
        spec.solver.keep_model.iter_mut().for_each(rebase);
        Ok(spec)
    }

    /// Rejects what cannot mean anything: fewer than two networks, repeated or unknown names,
    /// no radius or a non-finite or negative one, a non-finite or empty domain, a non-finite
    /// threshold or scale, non-finite centres, bad solver settings.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Input(format!("spec: {m}")));
        if self.networks.len() < 2 {
            return bad("list at least two networks".into());
        }
        for (i, n) in self.networks.iter().enumerate() {
            if self.networks[..i].iter().any(|m| m.name == n.name) {
                return bad(format!("network name '{}' is used twice", n.name));
            }
        }
        for [a, b] in self.pairs.iter().flatten() {
            for name in [a, b] {
                if self.network_index(name).is_none() {
                    let names: Vec<_> = self.networks.iter().map(|n| n.name.as_str()).collect();
                    return bad(format!("pair names unknown network '{name}' (networks: {})", names.join(", ")));
                }
            }
        }
        let deltas = self.delta.values();
        if deltas.is_empty() || deltas.iter().any(|d| !(d.is_finite() && *d >= 0.0)) {
            return bad(format!("delta must list at least one finite number ≥ 0 (got {deltas:?})"));
        }
        if let Some([lo, hi]) = self.domain.filter(|[lo, hi]| !(lo.is_finite() && hi.is_finite() && lo <= hi)) {
            return bad(format!("domain [{lo}, {hi}] must be two finite numbers, low ≤ high"));
        }
        if !self.threshold.is_finite() {
            return bad(format!("threshold {} must be a finite number", self.threshold));
        }
        self.data.scale()?;
        if let Some(c) = self.data.centers.iter().flatten().find(|c| c.x.iter().any(|v| !v.is_finite())) {
            return bad(format!("the centre with label {} has a value that is not a finite number", c.label));
        }
        self.solver.validate()?;
        match (&self.data.csv, &self.data.centers) {
            (Some(_), Some(_)) | (None, None) => bad("data needs exactly one of `csv` and `centers`".into()),
            _ => Ok(()),
        }
    }

    pub fn network_index(&self, name: &str) -> Option<usize> {
        self.networks.iter().position(|n| n.name == name)
    }

    /// Ordered pairs (N1, N2) by index: the listed ones, else every ordered pair.
    pub fn pair_indices(&self) -> Result<Vec<(usize, usize)>> {
        let index = |name: &str| {
            self.network_index(name).ok_or_else(|| Error::Input(format!("spec: pair names unknown network '{name}'")))
        };
        match &self.pairs {
            Some(p) => p.iter().map(|[a, b]| Ok((index(a)?, index(b)?))).collect(),
            None => {
                let n = self.networks.len();
                Ok((0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b))).collect())
            }
        }
    }

    /// The selected samples, scaled.
    pub fn samples(&self) -> Result<Vec<Sample>> {
        let all = match (&self.data.csv, &self.data.centers) {
            (Some(csv), _) => read_samples(csv, self.data.scale()?)?,
            (None, Some(centers)) => centers
                .iter()
                .enumerate()
                .map(|(index, c)| Sample { index, label: c.label, features: c.x.clone() })
                .collect(),
            (None, None) => return Err(Error::Input("spec: data needs `csv` or `centers`".into())),
        };
        select_rows(self.samples.as_ref(), all)
    }
}
