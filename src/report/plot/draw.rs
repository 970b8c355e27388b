//! Drawing an implication [`Figure`] with plotters: grouped bars per compact variant, one facet per
//! radius side by side, written as SVG (text left to the viewer's sans-serif) or PNG (rasterised).
//!
//! plotters measures text to lay a chart out even for SVG, so both formats need a TrueType font. It
//! is read at run time — DejaVu Sans from Debian's fonts-dejavu-core (scripts/deps.sh installs it) or
//! `--font` — and handled by `typeset.rs` in pure Rust: building needs no system font library.

use std::io::Write;
use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::typeset::{Typeface, Typeset};
use super::{Facet, Figure, Share, VariantBars};
use crate::error::{Error, Result};
use crate::report::units::create_file as create;

/// Where Debian's fonts-dejavu-core installs DejaVu Sans.
pub const DEFAULT_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

const FAMILY: &str = "sans-serif";
const NAME_SIZE: f64 = 15.0;
const TITLE_SIZE: f64 = 22.0;
/// Bars of "compact ⇒ original" and "original ⇒ compact" (Paul Tol's colour-blind safe blue, orange).
const COLOURS: [RGBColor; 2] = [RGBColor(0x44, 0x77, 0xAA), RGBColor(0xEE, 0x77, 0x33)];
const GRID: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const Y_LABEL_W: u32 = 70;
/// Space left and right of each facet's chart.
const MARGINS: (u32, u32) = (10, 24);
const LEGEND_H: u32 = 34;
const PLOT_H: u32 = 400;
/// Horizontal space of one variant's pair of bars, in pixels.
const GROUP_W: u32 = 120;
/// Chart units: a variant's group is `GROUP` wide (bars `BAR_W`, first at `BAR_X0`), and the y axis
/// counts tenths of a percent (plotters sets its own ticks only on integer axes).
const GROUP: i32 = 100;
const BAR_W: i32 = 36;
const BAR_X0: i32 = 13;
const TENTHS: f64 = 10.0;

/// Canvas size, the x-label area and whether variant names turn 90° (when wider than their group).
struct Layout {
    size: (u32, u32),
    x_label_h: u32,
    rotate: bool,
}

fn title(fig: &Figure) -> String {
    format!("Established implication: {} and its compact variants", fig.original)
}

fn layout(fig: &Figure, face: &Typeface) -> Layout {
    let n = fig.facets[0].bars.len() as u32;
    let widest = fig.facets[0].bars.iter().map(|b| face.measure(NAME_SIZE, &b.variant).0).max().unwrap_or(0);
    let rotate = widest + 12 > GROUP_W;
    let x_label_h = if rotate { widest + 56 } else { 56 };
    let facets = (MARGINS.0 + Y_LABEL_W + GROUP_W * n + MARGINS.1).max(380) * fig.facets.len() as u32;
    let width = facets.max(face.measure(TITLE_SIZE, &title(fig)).0 + 40);
    Layout { size: (width, 40 + LEGEND_H + PLOT_H + x_label_h), rotate, x_label_h }
}

fn shares(b: &VariantBars) -> [Option<Share>; 2] {
    [b.compact_implies_original, b.original_implies_compact]
}

/// "50%" for whole percentages, "33.3%" otherwise.
fn percent_label(p: f64) -> String {
    if (p - p.round()).abs() < 0.05 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// "δ = 0.01, n = 20" (or "n = 18–20" when the sample counts differ between bars).
fn caption(facet: &Facet) -> String {
    let counts: Vec<usize> = facet.bars.iter().flat_map(shares).flatten().map(|s| s.samples).collect();
    let (lo, hi) = (counts.iter().min(), counts.iter().max());
    match (lo, hi) {
        (Some(lo), Some(hi)) if lo != hi => format!("δ = {}, n = {lo}–{hi}", facet.delta),
        (Some(n), _) => format!("δ = {}, n = {n}", facet.delta),
        _ => format!("δ = {}", facet.delta),
    }
}

type Drawn<DB> = std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, labels: [String; 2]) -> Drawn<DB> {
    let font = TextStyle::from((FAMILY, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut widths = Vec::new();
    for label in &labels {
        widths.push(area.estimate_text_size(label, &font)?.0);
    }
    let total = widths.iter().map(|w| w + 24).sum::<u32>() + 32;
    let mut x = (area.dim_in_pixel().0.saturating_sub(total) / 2) as i32;
    let y = LEGEND_H as i32 / 2;
    for ((label, width), colour) in labels.iter().zip(widths).zip(COLOURS) {
        area.draw(&Rectangle::new([(x, y - 8), (x + 16, y + 8)], colour.filled()))?;
        area.draw(&Text::new(label.as_str(), (x + 24, y), font.clone()))?;
        x += (width + 24 + 32) as i32;
    }
    Ok(())
}

fn draw_facet<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, facet: &Facet, l: &Layout, first: bool) -> Drawn<DB> {
    let n = facet.bars.len() as i32;
    let centres: Vec<i32> = (0..n).map(|i| i * GROUP + GROUP / 2).collect();
    let ticks: Vec<i32> = (0..=5).map(|i| i * 200).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(caption(facet), (FAMILY, 17))
        .margin_left(MARGINS.0)
        .margin_right(MARGINS.1)
        .x_label_area_size(l.x_label_h)
        .y_label_area_size(Y_LABEL_W)
        // headroom above 100 for the value labels
        .build_cartesian_2d((0..n * GROUP).with_key_points(centres), (0..1080).with_key_points(ticks))?;
    // variant names are drawn below: plotters centres rotated tick labels on the axis
    let no_name = |_: &i32| String::new();
    let percent = |y: &i32| format!("{}", y / 10);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .bold_line_style(GRID)
        .x_label_formatter(&no_name)
        .y_label_formatter(&percent)
        .y_label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 15))
        .x_desc("compact variant");
    if first {
        mesh.y_desc("established implication (% of samples)");
    }
    mesh.draw()?;
    let names = match l.rotate {
        // reads upwards and ends just below the axis
        true => TextStyle::from((FAMILY, NAME_SIZE).into_font().transform(FontTransform::Rotate270))
            .pos(Pos::new(HPos::Right, VPos::Center)),
        false => TextStyle::from((FAMILY, NAME_SIZE).into_font()).pos(Pos::new(HPos::Center, VPos::Top)),
    };
    chart.draw_series(facet.bars.iter().enumerate().map(|(i, b)| {
        EmptyElement::at((i as i32 * GROUP + GROUP / 2, 0)) + Text::new(b.variant.clone(), (0, 10), names.clone())
    }))?;
    for (k, colour) in COLOURS.iter().enumerate() {
        let x0 = |i: usize| i as i32 * GROUP + BAR_X0 + (BAR_W + 2) * k as i32;
        let height = |p: f64| (p * TENTHS).round() as i32;
        let bars = facet.bars.iter().enumerate().filter_map(|(i, b)| shares(b)[k].map(|s| (i, s.percent())));
        chart.draw_series(
            bars.map(|(i, p)| Rectangle::new([(x0(i), 0), (x0(i) + BAR_W, height(p))], colour.filled())),
        )?;
        let value_font = TextStyle::from((FAMILY, 13).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
        chart.draw_series(facet.bars.iter().enumerate().map(|(i, b)| {
            let (text, p) =
                shares(b)[k].map_or(("n/a".to_string(), 0.0), |s| (percent_label(s.percent()), s.percent()));
            EmptyElement::at((x0(i) + BAR_W / 2, height(p))) + Text::new(text, (0, -3), value_font.clone())
        }))?;
    }
    Ok(())
}

fn render<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure, l: &Layout) -> Drawn<DB> {
    root.fill(&WHITE)?;
    let o = &fig.original;
    let body = root.titled(&title(fig), (FAMILY, TITLE_SIZE))?;
    let (legend, body) = body.split_vertically(LEGEND_H);
    draw_legend(&legend, [format!("compact ⇒ {o}"), format!("{o} ⇒ compact")])?;
    for (i, (area, facet)) in body.split_evenly((1, fig.facets.len())).iter().zip(&fig.facets).enumerate() {
        draw_facet(area, facet, l, i == 0)?;
    }
    root.present()
}

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

fn write_png(out: &Path, rgb: &[u8], (w, h): (u32, u32)) -> Result<()> {
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(create(out)?), w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let err = |e: png::EncodingError| Error::write(out, std::io::Error::other(e));
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)
}

/// Draws `fig` to `out`: SVG or PNG by the file extension. `font` defaults to [`DEFAULT_FONT`].
pub fn draw_figure(fig: &Figure, out: &Path, font: Option<&Path>) -> Result<()> {
    if fig.facets.is_empty() || fig.facets.iter().any(|f| f.bars.is_empty()) {
        return Err(Error::Input("nothing to plot: the figure has no radius or no compact variant".into()));
    }
    let ext = out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let (svg, png) = (ext.as_deref() == Some("svg"), ext.as_deref() == Some("png"));
    if !svg && !png {
        return Err(Error::Input(format!("{}: write the chart as .svg or .png", out.display())));
    }
    let face = Typeface::load(font.unwrap_or(Path::new(DEFAULT_FONT)))?;
    let l = layout(fig, &face);
    let size = l.size;
    if svg {
        let mut text = String::new();
        let inner = SVGBackend::with_string(&mut text, size);
        render(Typeset { inner, face: &face, raster: false }.into_drawing_area(), fig, &l).map_err(plot_error)?;
        create(out)?.write_all(text.as_bytes()).map_err(|e| Error::write(out, e))
    } else {
        let mut rgb = vec![0; size.0 as usize * size.1 as usize * 3];
        let inner = BitMapBackend::with_buffer(&mut rgb, size);
        render(Typeset { inner, face: &face, raster: true }.into_drawing_area(), fig, &l).map_err(plot_error)?;
        write_png(out, &rgb, size)
    }
}
