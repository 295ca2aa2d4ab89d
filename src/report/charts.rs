//! Drawing charts with plotters: one description ([`Chart`]) rendered as inline SVG for the
//! page and as a PNG beside it. Text in PNGs uses the bundled DejaVu Sans, registered once, so
//! no system font package is needed; SVG text names `sans-serif` and the browser picks a face.
//! This module knows lines, axes and shading; what the lines mean is `series`'s business.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The face every chart's text is set in.
const FONT: &str = "sans-serif";
const FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 400;
/// The column right of the plot that holds the legend.
const LEGEND_WIDTH: u32 = 200;
const LEGEND_TOP: i32 = 56;
const LEGEND_ROW: i32 = 20;
const BAND_SHADE: RGBAColor = RGBAColor(120, 120, 120, 0.15);
/// Bounds and marked points, apart from every line's colour.
const RULE: RGBColor = RGBColor(180, 30, 30);

/// Distinct on white and for the common kinds of colour blindness (Okabe and Ito's set).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// One chart, ready to draw.
#[derive(Debug, Clone)]
pub struct Chart {
    /// A file-name-safe identifier, unique within a report (`job-randread-throughput`).
    pub id: String,
    pub title: String,
    pub x: Axis,
    pub y: Axis,
    pub lines: Vec<Line>,
    /// Shaded stretches of the x axis, such as warmup.
    pub bands: Vec<Band>,
    /// The x axis's extent when it should not follow the data (a time axis spans the run).
    pub x_span: Option<(f64, f64)>,
    /// Drawn over the lines: dots on a line's points, a bound, a marked point.
    pub marks: Vec<Mark>,
    /// A sentence under the chart, such as what it leaves out.
    pub note: Option<String>,
}

/// Something drawn over a chart's lines.
#[derive(Debug, Clone)]
pub enum Mark {
    /// Each point of the line at this index drawn as a dot in its colour, for lines whose
    /// points are measurements rather than samples of a curve.
    Dots(usize),
    /// A horizontal rule across the plot, such as an objective's bound, named at its left
    /// end and in the legend.
    Horizontal { name: String, y: f64 },
    /// A vertical rule up the plot, named at its top and in the legend.
    Vertical { name: String, x: f64 },
    /// One point ringed and named, such as the knee; in the legend.
    Point { name: String, at: (f64, f64) },
    /// A line of text in the legend alone, for what has no place on the axes.
    Note(String),
}

#[derive(Debug, Clone)]
pub struct Axis {
    /// With its unit: `time since measurement began (s)`.
    pub label: String,
    pub scale: Scale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    Linear,
    Log,
    /// Values are log10(1/(1-p)); ticks read 0 %, 90 %, 99 %, 99.9 %...
    Percentile,
}

#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("cannot draw chart {id}: {message}")]
    Draw { id: String, message: String },
}

/// The chart as an SVG document, to be inlined in the page.
pub fn to_svg(chart: &Chart) -> Result<String, ChartError> {
    register_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw(chart, &root).map_err(|message| failed(chart, message))?;
        root.present().map_err(|e| failed(chart, e.to_string()))?;
    }
    Ok(svg)
}

/// The chart as a PNG file.
pub fn to_png(chart: &Chart, path: &Path) -> Result<(), ChartError> {
    register_font();
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    draw(chart, &root).map_err(|message| failed(chart, message))?;
    root.present().map_err(|e| failed(chart, e.to_string()))
}

fn failed(chart: &Chart, message: String) -> ChartError {
    ChartError::Draw {
        id: chart.id.clone(),
        message,
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The bytes are our own bundled file, checked by the tests that draw a chart.
            plotters::style::register_font(FONT, style, FONT_BYTES)
                .unwrap_or_else(|_| panic!("the bundled font is a valid TrueType file"));
        }
    });
}

/// The box that holds every point (and band), widened a little so lines clear the frame.
struct Bounds {
    x: (f64, f64),
    y: (f64, f64),
}

fn bounds(chart: &Chart) -> Bounds {
    let points = || chart.lines.iter().flat_map(|l| l.points.iter());
    let fold = |vals: &mut dyn Iterator<Item = f64>| {
        vals.filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            })
    };
    let bands = chart.bands.iter().flat_map(|b| [b.from, b.to]);
    let marked_x = chart.marks.iter().filter_map(|m| match m {
        Mark::Vertical { x, .. } => Some(*x),
        _ => None,
    });
    let x = fold(&mut points().map(|p| p.0).chain(bands).chain(marked_x));
    let marked_y = chart.marks.iter().filter_map(|m| match m {
        Mark::Horizontal { y, .. } => Some(*y),
        _ => None,
    });
    let y = fold(&mut points().map(|p| p.1).chain(marked_y));
    Bounds {
        x: chart.x_span.unwrap_or_else(|| widen(x, chart.x.scale)),
        y: widen(y, chart.y.scale),
    }
}

fn widen((lo, hi): (f64, f64), scale: Scale) -> (f64, f64) {
    match scale {
        _ if !lo.is_finite() => (if scale == Scale::Log { 1.0 } else { 0.0 }, 10.0),
        Scale::Linear => (lo.min(0.0), if hi > lo.min(0.0) { hi * 1.08 } else { 1.0 }),
        Scale::Log => (lo.max(1e-9) / 1.6, hi.max(lo * 10.0) * 1.6),
        Scale::Percentile => (0.0, hi.ceil().max(1.0)),
    }
}

fn draw<DB: DrawingBackend>(chart: &Chart, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    // The legend gets its own column, so it never hides a line.
    let (plot_area, legend_area) = root.split_horizontally(WIDTH - LEGEND_WIDTH);
    let b = bounds(chart);
    let (x, y) = (b.x.0..b.x.1, b.y.0..b.y.1);
    match (chart.x.scale == Scale::Log, chart.y.scale == Scale::Log) {
        (false, false) => plot(chart, &plot_area, x, y),
        (false, true) => plot(chart, &plot_area, x, y.log_scale()),
        (true, false) => plot(chart, &plot_area, x.log_scale(), y),
        (true, true) => plot(chart, &plot_area, x.log_scale(), y.log_scale()),
    }?;
    draw_legend(chart, &legend_area).map_err(|e| e.to_string())
}

/// One row per line (and band): a swatch in its colour, then its name.
fn draw_legend<DB: DrawingBackend>(
    chart: &Chart,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font = (FONT, 13).into_font().color(&BLACK);
    let row = |k: usize| LEGEND_TOP + k as i32 * LEGEND_ROW;
    let mut k = 0;
    for band in &chart.bands {
        let y = row(k);
        area.draw(&Rectangle::new(
            [(4, y - 6), (26, y + 6)],
            BAND_SHADE.filled(),
        ))?;
        area.draw(&Text::new(band.label.clone(), (32, y - 7), font.clone()))?;
        k += 1;
    }
    for (i, line) in chart.lines.iter().enumerate() {
        let y = row(k);
        let style = PALETTE[i % PALETTE.len()].stroke_width(3);
        area.draw(&PathElement::new([(4, y), (26, y)], style))?;
        area.draw(&Text::new(line.name.clone(), (32, y - 7), font.clone()))?;
        k += 1;
    }
    for mark in &chart.marks {
        let y = row(k);
        match mark {
            Mark::Dots(_) => continue,
            Mark::Horizontal { name, .. } => {
                area.draw(&PathElement::new([(4, y), (26, y)], RULE.stroke_width(2)))?;
                area.draw(&Text::new(name.clone(), (32, y - 7), font.clone()))?;
            }
            Mark::Vertical { name, .. } => {
                area.draw(&PathElement::new(
                    [(15, y - 7), (15, y + 7)],
                    RULE.stroke_width(2),
                ))?;
                area.draw(&Text::new(name.clone(), (32, y - 7), font.clone()))?;
            }
            Mark::Point { name, .. } => {
                area.draw(&Circle::new((15, y), 6, RULE.stroke_width(2)))?;
                area.draw(&Text::new(name.clone(), (32, y - 7), font.clone()))?;
            }
            Mark::Note(text) => {
                area.draw(&Text::new(text.clone(), (4, y - 7), font.clone()))?;
            }
        }
        k += 1;
    }
    Ok(())
}

fn plot<DB, X, Y>(chart: &Chart, root: &DrawingArea<DB, Shift>, x: X, y: Y) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut ctx = ChartBuilder::on(root)
        .caption(&chart.title, (FONT, 20).into_font().style(FontStyle::Bold))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(|e| err(&e))?;
    let x_ticks = x_tick_count(chart);
    ctx.configure_mesh()
        .x_desc(&chart.x.label)
        .y_desc(&chart.y.label)
        .axis_desc_style((FONT, 15))
        .label_style((FONT, 13))
        .x_labels(x_ticks)
        .y_labels(8)
        .x_label_formatter(&|v| tick_label(*v, chart.x.scale))
        .y_label_formatter(&|v| tick_label(*v, chart.y.scale))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
        .map_err(|e| err(&e))?;
    draw_bands(chart, &mut ctx).map_err(|e| err(&e))?;
    draw_lines(chart, &mut ctx).map_err(|e| err(&e))?;
    draw_marks(chart, &mut ctx).map_err(|e| err(&e))
}

/// Percentile axes tick once per nine (90 %, 99 %, ...); others let plotters choose.
fn x_tick_count(chart: &Chart) -> usize {
    match chart.x.scale {
        Scale::Percentile => bounds(chart).x.1 as usize + 1,
        _ => 10,
    }
}

type Ctx<'a, DB, X, Y> = ChartContext<'a, DB, Cartesian2d<X, Y>>;

fn draw_bands<DB, X, Y>(
    chart: &Chart,
    ctx: &mut Ctx<'_, DB, X, Y>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (y0, y1) = (ctx.y_range().start, ctx.y_range().end);
    for band in &chart.bands {
        ctx.draw_series(std::iter::once(Rectangle::new(
            [(band.from, y0), (band.to, y1)],
            BAND_SHADE.filled(),
        )))?;
    }
    Ok(())
}

fn draw_lines<DB, X, Y>(
    chart: &Chart,
    ctx: &mut Ctx<'_, DB, X, Y>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (i, line) in chart.lines.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let style = color.stroke_width(2);
        let points = line
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        ctx.draw_series(LineSeries::new(points, style))?;
    }
    Ok(())
}

fn draw_marks<DB, X, Y>(
    chart: &Chart,
    ctx: &mut Ctx<'_, DB, X, Y>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let finite = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let (x0, x1) = (ctx.x_range().start, ctx.x_range().end);
    let (y0, y1) = (ctx.y_range().start, ctx.y_range().end);
    let label = (FONT, 12).into_font().color(&RULE);
    // Rules at one height (two objectives with one bound) stack their names.
    let mut named_at: Vec<f64> = Vec::new();
    for mark in &chart.marks {
        match mark {
            Mark::Dots(i) => {
                let Some(line) = chart.lines.get(*i) else {
                    continue;
                };
                let color = PALETTE[i % PALETTE.len()];
                let dots = line.points.iter().copied().filter(finite);
                ctx.draw_series(dots.map(|p| Circle::new(p, 4, color.filled())))?;
            }
            Mark::Horizontal { name, y } => {
                let rule = [(x0, *y), (x1, *y)];
                ctx.draw_series(std::iter::once(PathElement::new(
                    rule,
                    RULE.stroke_width(2),
                )))?;
                let below = named_at.iter().filter(|at| **at == *y).count() as i32;
                named_at.push(*y);
                let name = Text::new(name.clone(), (6, -16 - 14 * below), label.clone());
                ctx.draw_series(std::iter::once(EmptyElement::at((x0, *y)) + name))?;
            }
            Mark::Vertical { name, x } => {
                let rule = [(*x, y0), (*x, y1)];
                ctx.draw_series(std::iter::once(PathElement::new(
                    rule,
                    RULE.stroke_width(2),
                )))?;
                let name = Text::new(name.clone(), (6, 4), label.clone());
                ctx.draw_series(std::iter::once(EmptyElement::at((*x, y1)) + name))?;
            }
            Mark::Point { at, .. } if finite(at) => {
                ctx.draw_series(std::iter::once(Circle::new(*at, 9, RULE.stroke_width(2))))?;
            }
            Mark::Point { .. } | Mark::Note(_) => {}
        }
    }
    Ok(())
}

/// Tick text: percentiles as `99.9%`, other numbers with at most three significant digits.
fn tick_label(v: f64, scale: Scale) -> String {
    match scale {
        Scale::Percentile => percentile_label(v),
        _ => number_label(v),
    }
}

fn percentile_label(x: f64) -> String {
    let nines = x.round() as i32;
    if nines <= 0 {
        return "0%".to_owned();
    }
    let percent = 100.0 * (1.0 - 10f64.powi(-nines));
    format!("{percent:.*}%", (nines - 2).max(0) as usize)
}

fn number_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".to_owned()
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6, 2))
    } else if a >= 1e3 {
        format!("{}k", trim(v / 1e3, 2))
    } else if a >= 1.0 {
        trim(v, 2)
    } else {
        let digits = (-a.log10()).ceil() as usize + 1;
        trim(v, digits)
    }
}

fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_ticks_read_as_nines() {
        let labels: Vec<String> = (0..5).map(|x| percentile_label(x as f64)).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number_label(0.0), "0");
        assert_eq!(number_label(2.5), "2.5");
        assert_eq!(number_label(0.05), "0.05");
        assert_eq!(number_label(25_000.0), "25k");
        assert_eq!(number_label(1_500_000.0), "1.5M");
    }
}
