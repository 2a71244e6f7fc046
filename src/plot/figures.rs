//! Pareto scatter charts and mesh heat maps.

use super::{plot_err, Figure, Series, COLORS};
use crate::error::Result;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// The points not dominated by another: lower x, and higher y (or lower y
/// with `minimize_y`), sorted by x. Ties keep the first.
pub fn pareto_front(points: &[(f64, f64)], minimize_y: bool) -> Vec<(f64, f64)> {
    let better = |a: f64, b: f64| if minimize_y { a < b } else { a > b };
    let mut pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    // By x, and at equal x the best y first, so a sweep keeps it alone.
    pts.sort_by(|a, b| {
        a.0.total_cmp(&b.0).then(if minimize_y {
            a.1.total_cmp(&b.1)
        } else {
            b.1.total_cmp(&a.1)
        })
    });
    let mut front: Vec<(f64, f64)> = vec![];
    for p in pts {
        if front.last().is_none_or(|l| better(p.1, l.1)) {
            front.push(p);
        }
    }
    front
}

/// Points of several series, with the Pareto front over all of them drawn.
#[derive(Clone, Debug, Default)]
pub struct ParetoChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Lower y is better (latency); otherwise higher (accuracy).
    pub minimize_y: bool,
    /// Logarithmic x axis (energy spans decades).
    pub log_x: bool,
}

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> (f64, f64, f64, f64) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a { (b - a) * 0.06 } else { 0.5 };
        (a - d, b + d)
    };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0, y1);
    (x0, x1, y0, y1)
}

fn pow10_label(v: f64) -> String {
    // Two significant digits: log-axis ticks fall between round numbers.
    let p = 10f64.powf(v);
    let scale = 10f64.powf(p.log10().floor() - 1.0);
    super::tick((p / scale).round() * scale)
}

impl Figure for ParetoChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        let tx = |x: f64| if self.log_x { x.log10() } else { x };
        let keep =
            |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!self.log_x || x > 0.0);
        let series: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| s.points.iter().copied().filter(keep).collect())
            .collect();
        let all: Vec<(f64, f64)> = series.iter().flatten().copied().collect();
        let front = pareto_front(&all, self.minimize_y);
        let (x0, x1, y0, y1) = bounds(all.iter().map(|&(x, y)| (tx(x), y)));
        let mut chart = super::xy_chart(root, &self.title, x0..x1, y0..y1)?;
        let log_x = self.log_x;
        let x_fmt = move |v: &f64| {
            if log_x {
                pow10_label(*v)
            } else {
                super::tick(*v)
            }
        };
        chart
            .configure_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&|v| super::tick(*v))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(plot_err)?;
        for (i, (s, pts)) in self.series.iter().zip(&series).enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y)| Circle::new((tx(x), y), 4, color.filled())),
                )
                .map_err(plot_err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
        let line: Vec<(f64, f64)> = front.iter().map(|&(x, y)| (tx(x), y)).collect();
        chart
            .draw_series(LineSeries::new(line.iter().copied(), BLACK.stroke_width(2)))
            .map_err(plot_err)?
            .label("Pareto front")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(2)));
        chart
            .draw_series(
                line.iter()
                    .map(|&p| Circle::new(p, 7, BLACK.stroke_width(2))),
            )
            .map_err(plot_err)?;
        chart
            .configure_series_labels()
            .position(if self.minimize_y {
                SeriesLabelPosition::UpperRight
            } else {
                SeriesLabelPosition::LowerRight
            })
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(plot_err)?;
        Ok(())
    }
}

/// Viridis, by linear interpolation between five of its colours.
pub fn viridis(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    } * 4.0;
    let i = (t.floor() as usize).min(3);
    let f = t - i as f64;
    let (a, b) = (STOPS[i], STOPS[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn value_text(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A colour bar from `lo` to `hi` on the right strip of a figure.
fn colorbar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    label: &str,
) -> Result<()> {
    let mut chart = ChartBuilder::on(area)
        .margin_top(60)
        .margin_bottom(60)
        .margin_right(10)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..1f64, lo..hi.max(lo + 1e-9))
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .disable_y_mesh()
        .disable_x_axis()
        .y_desc(label)
        .axis_desc_style(("sans-serif", 14))
        .y_label_style(("sans-serif", 12))
        .y_label_formatter(&|v| value_text(*v))
        .draw()
        .map_err(plot_err)?;
    let steps = 64;
    let span = (hi - lo).max(1e-9);
    chart
        .draw_series((0..steps).map(|i| {
            let a = lo + span * i as f64 / steps as f64;
            let b = lo + span * (i + 1) as f64 / steps as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(i as f64 / (steps - 1) as f64).filled(),
            )
        }))
        .map_err(plot_err)?;
    Ok(())
}

/// Values over the tiles of a mesh (x to the right, y down, as tiles are
/// numbered); `None` tiles are drawn grey (no core in use).
#[derive(Clone, Debug)]
pub struct HeatMap {
    pub title: String,
    /// Name and unit of the values, for the colour bar.
    pub value_label: String,
    pub width: u32,
    pub height: u32,
    /// Row-major, `y * width + x`.
    pub values: Vec<Option<f64>>,
}

type MeshChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn mesh_axes<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    w: u32,
    h: u32,
) -> Result<MeshChart<'a, DB>> {
    // y grows downward like tile numbers: the axis runs from h to 0.
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(40)
        .build_cartesian_2d(-0.5..w as f64 - 0.5, h as f64 - 0.5..-0.5)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("tile x")
        .y_desc("tile y")
        .x_labels(w.min(16) as usize)
        .y_labels(h.min(16) as usize)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(plot_err)?;
    Ok(chart)
}

fn range_of(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if lo > hi {
        (0.0, 1.0)
    } else if lo == hi {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

impl Figure for HeatMap {
    fn size(&self) -> (u32, u32) {
        (820, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_err)?;
        let (main, bar) = root.split_horizontally(self.size().0 - 110);
        let (lo, hi) = range_of(self.values.iter().flatten().copied());
        let mut chart = mesh_axes(&main, &self.title, self.width, self.height)?;
        let labels = self.width <= 16 && self.height <= 16;
        for y in 0..self.height {
            for x in 0..self.width {
                let v = self.values[(y * self.width + x) as usize];
                let (fx, fy) = (x as f64, y as f64);
                let color = match v {
                    Some(v) => viridis((v - lo) / (hi - lo)),
                    None => RGBColor(220, 220, 220),
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(fx - 0.48, fy - 0.48), (fx + 0.48, fy + 0.48)],
                        color.filled(),
                    )))
                    .map_err(plot_err)?;
                if let (Some(v), true) = (v, labels) {
                    let light = (v - lo) / (hi - lo) < 0.6;
                    let style = TextStyle::from(("sans-serif", 14).into_font())
                        .color(if light { &WHITE } else { &BLACK })
                        .pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Center,
                            plotters::style::text_anchor::VPos::Center,
                        ));
                    chart
                        .draw_series(std::iter::once(Text::new(value_text(v), (fx, fy), style)))
                        .map_err(plot_err)?;
                }
            }
        }
        colorbar(&bar, lo, hi, &self.value_label)?;
        Ok(())
    }
}

/// Flits over each directed link of a mesh.
#[derive(Clone, Debug)]
pub struct LinkMap {
    pub title: String,
    pub width: u32,
    pub height: u32,
    /// (from tile, to tile, flits).
    pub links: Vec<([u32; 2], [u32; 2], f64)>,
}

impl Figure for LinkMap {
    fn size(&self) -> (u32, u32) {
        (820, 700)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()> {
        root.fill(&WHITE).map_err(plot_err)?;
        let (main, bar) = root.split_horizontally(self.size().0 - 110);
        let (lo, hi) = range_of(self.links.iter().map(|l| l.2));
        let mut chart = mesh_axes(&main, &self.title, self.width, self.height)?;
        let px = (600.0 / self.width.max(self.height) as f64).clamp(2.0, 60.0);
        let stroke = (px * 0.16).clamp(1.0, 10.0) as u32;
        for y in 0..self.height {
            for x in 0..self.width {
                let (fx, fy) = (x as f64, y as f64);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(fx - 0.2, fy - 0.2), (fx + 0.2, fy + 0.2)],
                        RGBColor(200, 200, 200).filled(),
                    )))
                    .map_err(plot_err)?;
            }
        }
        for &(from, to, flits) in &self.links {
            let (x0, y0) = (from[0] as f64, from[1] as f64);
            let (x1, y1) = (to[0] as f64, to[1] as f64);
            let (dx, dy) = (x1 - x0, y1 - y0);
            // Each direction on its own side of the centre line.
            let (ox, oy) = (-dy * 0.1, dx * 0.1);
            let a = (x0 + dx * 0.22 + ox, y0 + dy * 0.22 + oy);
            let b = (x1 - dx * 0.3 + ox, y1 - dy * 0.3 + oy);
            let color = viridis((flits - lo) / (hi - lo));
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![a, b],
                    color.stroke_width(stroke),
                )))
                .map_err(plot_err)?;
            // A filled arrow head at the receiving end.
            let len = (dx * dx + dy * dy).sqrt().max(1e-9);
            let (ux, uy) = (dx / len, dy / len);
            let tip = (b.0 + ux * 0.08, b.1 + uy * 0.08);
            let side = |k: f64| (b.0 - uy * k, b.1 + ux * k);
            chart
                .draw_series(std::iter::once(Polygon::new(
                    vec![tip, side(0.07), side(-0.07)],
                    color.filled(),
                )))
                .map_err(plot_err)?;
        }
        colorbar(&bar, lo, hi, "flits per link")?;
        Ok(())
    }
}
