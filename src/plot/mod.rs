//! Charts as SVG and PNG with plotters. A chart is a `Figure`: drawn once
//! on any plotters backend, it renders to an SVG string (text left to the
//! viewer) and to a PNG image (text drawn with the embedded DejaVu Sans).
//! Charts are built in memory and written with `write_atomic`.

pub mod figures;
pub mod report;
pub mod sweep;

use crate::error::{write_atomic, Error, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixel size of every chart.
pub const SIZE: (u32, u32) = (900, 560);

/// Something that draws itself on a plotters drawing area.
pub trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>;
    fn size(&self) -> (u32, u32) {
        SIZE
    }
}

pub fn to_svg(f: &impl Figure) -> Result<String> {
    // Plotters measures text with the font even when the viewer draws it.
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, f.size()).into_drawing_area();
        f.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    Ok(svg)
}

static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The embedded font parses, so registration cannot fail.
            let _ = plotters::style::register_font("sans-serif", style, FONT);
        }
    });
}

pub fn to_png(f: &impl Figure) -> Result<Vec<u8>> {
    register_font();
    let (w, h) = f.size();
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        f.draw(&root)?;
        root.present().map_err(plot_err)?;
    }
    let mut out = vec![];
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(plot_err)?;
        writer.write_image_data(&rgb).map_err(plot_err)?;
    }
    Ok(out)
}

/// Writes a figure as `path` when it ends in `.svg` or `.png`, else as
/// both `path.svg` and `path.png`. Returns the files written.
pub fn write(f: &impl Figure, path: &Path) -> Result<Vec<PathBuf>> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "" | "svg" | "png") {
        return Err(crate::error::Error::invalid(
            &path.display().to_string(),
            "--out",
            format!(".{ext}"),
            ".svg, .png, or no extension (both)",
        ));
    }
    let mut written = vec![];
    if ext != "png" {
        let p = if ext == "svg" {
            path.to_path_buf()
        } else {
            with_ext(path, "svg")
        };
        write_atomic(&p, to_svg(f)?.as_bytes())?;
        written.push(p);
    }
    if ext != "svg" {
        let p = if ext == "png" {
            path.to_path_buf()
        } else {
            with_ext(path, "png")
        };
        write_atomic(&p, &to_png(f)?)?;
        written.push(p);
    }
    Ok(written)
}

fn with_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// One named line of points.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Error bars: `(low, high)` of each point, in `points` order; empty
    /// for none (line charts draw them, Pareto charts do not).
    pub errors: Vec<(f64, f64)>,
}

/// A line chart of one or more series.
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Logarithmic y axis (values must be positive; others are dropped).
    pub log_y: bool,
    /// Vertical marker lines: (x, label).
    pub markers: Vec<(f64, String)>,
    /// Fit the linear y axis to the data instead of starting it at zero
    /// (for small differences, such as accuracies close together).
    pub fit_y: bool,
}

/// Series colours (matplotlib's tab10).
pub(crate) const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(crate) type XyChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A white chart with a title and room for axis labels.
pub(crate) fn xy_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<XyChart<'a, DB>> {
    root.fill(&WHITE).map_err(plot_err)?;
    ChartBuilder::on(root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(plot_err)
}

/// A tick label: no trailing zeros, exponent form for very large or small values.
pub(crate) fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 || (a < 1e-3 && a > 0.0) {
        return format!("{v:.2e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_string()
    }
}

pub(crate) fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Usage(format!("cannot draw the chart: {e}"))
}

/// Renders `c` as an SVG document.
pub fn line_chart_svg(c: &LineChart) -> Result<String> {
    to_svg(c)
}

impl Figure for LineChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let c = self;
        // A log axis is drawn as log10 on a linear axis with labels 10^v.
        let ty = |y: f64| if c.log_y { y.log10() } else { y };
        let series: Vec<Vec<(f64, f64)>> = c
            .series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter(|(x, y)| x.is_finite() && y.is_finite() && (!c.log_y || *y > 0.0))
                    .map(|&(x, y)| (x, ty(y)))
                    .collect()
            })
            .collect();
        // Error bars as vertical segments, dropped where the axis cannot
        // show them (a low end at or below zero on a log axis).
        let bars: Vec<Vec<(f64, f64, f64)>> = c
            .series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .zip(&s.errors)
                    .filter(|((x, _), (lo, hi))| {
                        x.is_finite() && lo.is_finite() && hi.is_finite() && (!c.log_y || *lo > 0.0)
                    })
                    .map(|(&(x, _), &(lo, hi))| (x, ty(lo), ty(hi)))
                    .collect()
            })
            .collect();
        let all = series.iter().flatten();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in all {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        for &(_, lo, hi) in bars.iter().flatten() {
            y0 = y0.min(lo);
            y1 = y1.max(hi);
        }
        for (x, _) in &c.markers {
            x0 = x0.min(*x);
            x1 = x1.max(*x);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let pad = |a: f64, b: f64| {
            let d = if b > a { (b - a) * 0.05 } else { 0.5 };
            (a - d, b + d)
        };
        let (x0, x1) = pad(x0, x1);
        let (y0, y1) = if c.log_y {
            (y0.floor(), y1.ceil().max(y0.floor() + 1.0))
        } else {
            let (a, b) = pad(if c.fit_y { y0 } else { y0.min(0.0) }, y1);
            (a, b)
        };
        {
            let mut chart = xy_chart(root, &c.title, x0..x1, y0..y1)?;
            let log_y = c.log_y;
            let y_fmt = move |v: &f64| {
                if log_y {
                    let p = 10f64.powf(*v);
                    if p >= 1.0 {
                        format!("{p:.0}")
                    } else {
                        format!("{p:.2}")
                    }
                } else {
                    tick(*v)
                }
            };
            // On a log axis, label the powers of ten only.
            let y_labels = if log_y { (y1 - y0) as usize + 1 } else { 10 };
            chart
                .configure_mesh()
                .y_labels(y_labels)
                .x_desc(c.x_label.as_str())
                .y_desc(c.y_label.as_str())
                .y_label_formatter(&y_fmt)
                .x_label_formatter(&|v| tick(*v))
                .axis_desc_style(("sans-serif", 16))
                .draw()
                .map_err(plot_err)?;
            for (i, (s, pts)) in c.series.iter().zip(&series).enumerate() {
                let color = COLORS[i % COLORS.len()];
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                    .map_err(plot_err)?
                    .label(s.name.as_str())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        pts.iter()
                            .map(|&(x, y)| Circle::new((x, y), 3, color.filled())),
                    )
                    .map_err(plot_err)?;
                if !bars[i].is_empty() {
                    chart
                        .draw_series(bars[i].iter().map(|&(x, lo, hi)| {
                            PathElement::new(vec![(x, lo), (x, hi)], color.stroke_width(1))
                        }))
                        .map_err(plot_err)?;
                }
            }
            for (x, label) in &c.markers {
                let grey = RGBColor(90, 90, 90);
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(*x, y0), (*x, y1)],
                        6,
                        4,
                        grey.stroke_width(1),
                    ))
                    .map_err(plot_err)?
                    .label(label.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()
                .map_err(plot_err)?;
        }
        Ok(())
    }
}
