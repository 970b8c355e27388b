//! Text for the charts: a plotters backend wrapper that measures text with one TrueType font and,
//! for bitmaps, rasterises it itself (plotters' own text drops side bearings and the shared baseline).

use std::path::Path;

use ab_glyph::{point, Font, FontVec, Glyph, PxScale, ScaleFont};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind};

use crate::error::{Error, Result};

/// A TrueType or OpenType font read from a file.
pub struct Typeface {
    font: FontVec,
}

impl Typeface {
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Plot(format!(
                "cannot read the font {}: {e}. Install Debian's fonts-dejavu-core (scripts/deps.sh does) or \
                 pass --font FILE.ttf",
                path.display()
            ))
        })?;
        let font = FontVec::try_from_vec(bytes)
            .map_err(|_| Error::Plot(format!("{} is not a TrueType or OpenType font", path.display())))?;
        Ok(Typeface { font })
    }

    /// plotters' text size is 1.24 em (its SVG backend writes `font-size = size / 1.24`).
    fn scale(&self, size: f64) -> PxScale {
        let em = (size / 1.24) as f32;
        PxScale::from(em * self.font.height_unscaled() / self.font.units_per_em().unwrap_or(1000.0))
    }

    /// Glyphs on one line from x = 0 with the baseline at the ascent, the advance width and the height.
    fn layout(&self, size: f64, text: &str) -> (Vec<Glyph>, f32, f32) {
        let font = self.font.as_scaled(self.scale(size));
        let (mut caret, mut prev, mut glyphs) = (0.0, None, Vec::new());
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                caret += font.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(font.scale(), point(caret, font.ascent())));
            caret += font.h_advance(id);
            prev = Some(id);
        }
        (glyphs, caret, font.ascent() - font.descent())
    }

    /// Width and height of `text` in pixels at plotters size `size`.
    pub fn measure(&self, size: f64, text: &str) -> (u32, u32) {
        let (_, w, h) = self.layout(size, text);
        (w.ceil() as u32, h.ceil() as u32)
    }
}

/// `inner` with text measured in `face`; with `raster`, text is drawn as pixels too.
pub struct Typeset<'f, B> {
    pub inner: B,
    pub face: &'f Typeface,
    pub raster: bool,
}

type Drawn<B> = std::result::Result<(), DrawingErrorKind<<B as DrawingBackend>::ErrorType>>;

impl<B: DrawingBackend> DrawingBackend for Typeset<'_, B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }
    fn ensure_prepared(&mut self) -> Drawn<B> {
        self.inner.ensure_prepared()
    }
    fn present(&mut self) -> Drawn<B> {
        self.inner.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn<B> {
        self.inner.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Drawn<B> {
        self.inner.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(&mut self, a: BackendCoord, b: BackendCoord, style: &S, fill: bool) -> Drawn<B> {
        self.inner.draw_rect(a, b, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, path: I, style: &S) -> Drawn<B> {
        self.inner.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(&mut self, c: BackendCoord, r: u32, style: &S, fill: bool) -> Drawn<B> {
        self.inner.draw_circle(c, r, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(&mut self, v: I, style: &S) -> Drawn<B> {
        self.inner.fill_polygon(v, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, size: (u32, u32), src: &[u8]) -> Drawn<B> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        Ok(self.face.measure(style.size(), text))
    }

    /// Like plotters' default: the anchor is placed in unrotated text space, then the text turns.
    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, pos: BackendCoord) -> Drawn<B> {
        let color = style.color();
        if !self.raster {
            return self.inner.draw_text(text, style, pos);
        }
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (glyphs, w, h) = self.face.layout(style.size(), text);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0.0,
            VPos::Center => -h / 2.0,
            VPos::Bottom => -h,
        };
        let (dx, dy) = (dx.round() as i32, dy.round() as i32);
        let turn = style.transform();
        for glyph in glyphs {
            let Some(outline) = self.face.font.outline_glyph(glyph) else { continue };
            let min = outline.px_bounds().min;
            let mut pixels = Vec::new();
            outline.draw(|x, y, coverage| pixels.push((x, y, coverage)));
            for (x, y, coverage) in pixels {
                let (tx, ty) = turn.transform(min.x as i32 + x as i32 + dx, min.y as i32 + y as i32 + dy);
                let ink = BackendColor { alpha: color.alpha * f64::from(coverage), rgb: color.rgb };
                self.inner.draw_pixel((pos.0 + tx, pos.1 + ty), ink)?;
            }
        }
        Ok(())
    }
}
