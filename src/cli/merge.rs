//! `twinverify merge`: joins the JSON Lines files of a batch's shards into one and rebuilds its
//! CSV, JSON document and summary (matrix, chart) as a single run would have written them.

use std::path::{Path, PathBuf};

use clap::Args;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{boundary, instances, lrom, resilience, robust};
use crate::analysis::batch::Outcome;
use crate::analysis::boundary::pair::PairRadius;
use crate::analysis::boundary::BoundaryResult;
use crate::analysis::resilience::ClassResilience;
use crate::error::{Error, Result};
use crate::report::plot::{draw_figure, implication_figure, DEFAULT_FONT};
use crate::report::units::{self, Destination, Header, Store};
use crate::report::{self, CsvRow};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The merged JSON Lines file to write (never an existing one); the CSV and JSON go beside
    /// it (OUT.csv, OUT.json).
    pub out: PathBuf,
    /// The shards' JSON Lines files (`--shard K/N` runs of one batch), in any order.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Also draw the implication chart of an `lrom` batch (.svg or .png; see `twinverify plot`).
    #[arg(long)]
    pub chart: Option<PathBuf>,
}

/// Checks the shards, writes their units as one finished batch and returns them in the batch's
/// order.
fn join<T, R>(args: &MergeArgs, rows: impl Fn(&T) -> Vec<R> + 'static) -> Result<Vec<T>>
where
    T: Serialize + DeserializeOwned,
    R: Serialize,
{
    let (header, merged) = units::merge::<T>(&args.shards)?;
    let keys = merged.iter().map(|(_, key, _)| key.clone()).collect();
    let to = Destination { jsonl: Some(args.out.clone()), csv: Some(args.out.with_extension("csv")) };
    let total = header.total;
    let mut store = Store::open(header, keys, &to, false, rows)?;
    for (i, _, unit) in merged {
        store.push(i, unit, false)?;
    }
    store.finish()?;
    log::info!("merged {total} units from {} shard files into {}", args.shards.len(), args.out.display());
    Ok(store.into_units())
}

fn context<C: DeserializeOwned>(header: &Header) -> Result<C> {
    serde_json::from_value(header.context.clone())
        .map_err(|e| Error::Input(format!("the shards' header has no valid `{}` context: {e}", header.command)))
}

pub fn run(args: MergeArgs) -> Result<()> {
    if let Some(p) = args.shards.iter().find(|p| same_file(p, &args.out)) {
        return Err(Error::Input(format!("{}: the merged file must not be one of the shards", p.display())));
    }
    let csv = args.out.with_extension("csv");
    let json = args.out.with_extension("json");
    let header = units::read_header(&args.shards[0])?;
    match header.command.as_str() {
        "lrom" => {
            let cx: lrom::Context = context(&header)?;
            let names = cx.networks.clone();
            let outcomes = join(&args, move |o: &Outcome| report::csv_rows(std::slice::from_ref(o), &names))?;
            lrom::report(&outcomes, &cx, Some(&csv), Some(&json))?;
            if let Some(chart) = &args.chart {
                let rows: Vec<CsvRow> = report::read_csv(&csv)?;
                draw_figure(&implication_figure(&rows, None, None)?, chart, Some(Path::new(DEFAULT_FONT)))?;
                crate::say!("wrote {}", chart.display());
            }
            Ok(())
        }
        "robust" => {
            let cx: robust::Context = context(&header)?;
            let merged = join(&args, |r: &robust::Row| vec![r.clone()])?;
            robust::report(&merged, &cx, Some(&csv), Some(&json))
        }
        "boundary" => {
            let cx: boundary::Context = context(&header)?;
            if cx.pair_view() {
                let merged = join(&args, |u: &boundary::Unit<PairRadius>| vec![boundary::pair_row(u)])?;
                boundary::report_pairs(&merged, &cx, Some(&csv), Some(&json))
            } else {
                let merged = join(&args, |u: &boundary::Unit<BoundaryResult>| vec![boundary::row(u)])?;
                boundary::report_distances(&merged, &cx, Some(&csv), Some(&json))
            }
        }
        "resilience" => {
            let cx: resilience::Context = context(&header)?;
            let merged = join(&args, |r: &ClassResilience| vec![resilience::Row::from(r)])?;
            resilience::report(&merged, &cx, Some(&csv), Some(&json))
        }
        "run-instances" => {
            let merged = join(&args, |r: &instances::InstanceResult| vec![r.clone()])?;
            instances::report(&merged, &csv)
        }
        other => Err(Error::Input(format!("{}: merging `{other}` results is not supported", args.shards[0].display()))),
    }
}

/// Whether two paths name one file (the same path, or the same existing file).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}
