//! `twinverify plot`: a bar chart (SVG or PNG) of established implication between an original
//! network and its compact variants, from the CSV that `twinverify lrom --csv` writes.

use std::path::PathBuf;

use clap::Args;

use crate::error::Result;
use crate::report::plot::{draw_figure, implication_figure, Share, DEFAULT_FONT};
use crate::report::read_csv;

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Results written by `twinverify lrom --csv`.
    pub results: PathBuf,
    /// The chart to write: .svg or .png.
    #[arg(long)]
    pub out: PathBuf,
    /// The original network (default: the name in the most network pairs of the CSV).
    #[arg(long)]
    pub original: Option<String>,
    /// Draw only this radius (default: one facet per radius, side by side).
    #[arg(long, value_parser = super::args::parse_nonnegative)]
    pub delta: Option<f64>,
    /// TrueType font for the chart's text.
    #[arg(long, default_value = DEFAULT_FONT)]
    pub font: PathBuf,
}

fn share(s: Option<Share>) -> String {
    s.map_or("n/a".into(), |s| format!("{:.1}% ({}/{})", s.percent(), s.established, s.samples))
}

pub fn run(args: PlotArgs) -> Result<()> {
    let fig = implication_figure(&read_csv(&args.results)?, args.original.as_deref(), args.delta)?;
    draw_figure(&fig, &args.out, Some(&args.font))?;
    let o = &fig.original;
    println!("{:>8} {:<20} {:>22} {:>22}", "delta", "variant", format!("compact ⇒ {o}"), format!("{o} ⇒ compact"));
    for f in &fig.facets {
        for b in &f.bars {
            let (c, r) = (share(b.compact_implies_original), share(b.original_implies_compact));
            println!("{:>8} {:<20} {c:>22} {r:>22}", f.delta, b.variant);
        }
    }
    println!("wrote {}", args.out.display());
    Ok(())
}
