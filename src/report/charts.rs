//! The chart shapes a model report draws, each as one SVG string drawn by plotters' SVG backend
//! (no fonts are read: text is SVG text the browser sets, plotters estimates its size).
//!
//! Every chart is small and fixed-size; data come already summarised (ml::report_data), so a
//! chart holds at most a few thousand elements.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

pub const WIDTH: u32 = 560;
pub const HEIGHT: u32 = 360;

/// Tableau 10, colour-blind friendlier than plotters' primaries; cycles past ten.
const PALETTE: [RGBColor; 10] = [
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

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A drawing failure (plotters' errors on a String backend are layout errors: say which chart).
#[derive(Debug)]
pub struct ChartError(pub String);

type Result<T> = std::result::Result<T, ChartError>;

fn err<E: std::fmt::Debug>(what: &'static str) -> impl Fn(E) -> ChartError {
    move |e| ChartError(format!("{what}: {e:?}"))
}

fn draw(f: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>) -> Result<String> {
    draw_sized(HEIGHT, f)
}

fn draw_sized(height: u32, f: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err("background"))?;
        f(&root)?;
        root.present().map_err(err("present"))?;
    }
    Ok(svg)
}

type Plane<'a> = ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The plot area every x-y chart uses: the same margins and room for axis labels.
fn plane<'a>(root: &DrawingArea<SVGBackend<'a>, Shift>, x: std::ops::Range<f64>, y: std::ops::Range<f64>) -> Result<Plane<'a>> {
    ChartBuilder::on(root)
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x, y)
        .map_err(err("axes"))
}

fn draw_legend(chart: &mut Plane, at: SeriesLabelPosition) -> Result<()> {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(err("legend"))
}

/// One line of a line chart.
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// A reference line (chance, perfect calibration): grey and dashed-looking (thin).
    pub reference: bool,
    /// Draw a dot at each point as well (few points: deciles, versions, k).
    pub markers: bool,
}

pub struct Axes<'a> {
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub x: (f64, f64),
    pub y: (f64, f64),
}

/// Padded range of values (a flat series gets a unit-wide range).
pub fn range_of(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
    if lo > hi {
        return (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    let pad = (hi - lo) * 0.05;
    (if from_zero && lo == 0.0 { 0.0 } else { lo - pad }, hi + pad)
}

pub fn lines(axes: &Axes, lines: &[Line]) -> Result<String> {
    draw(|root| {
        let mut chart = plane(root, axes.x.0..axes.x.1, axes.y.0..axes.y.1)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .draw()
            .map_err(err("mesh"))?;
        let mut coloured = 0;
        for l in lines {
            let style = if l.reference {
                RGBColor(160, 160, 160).stroke_width(1)
            } else {
                coloured += 1;
                colour(coloured - 1).stroke_width(2)
            };
            let series = chart
                .draw_series(LineSeries::new(l.points.iter().copied(), style))
                .map_err(err("line"))?;
            if !l.name.is_empty() {
                series
                    .label(l.name.as_str())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
            }
            if l.markers {
                chart
                    .draw_series(
                        l.points
                            .iter()
                            .map(|&p| Circle::new(p, 3, style.color.filled())),
                    )
                    .map_err(err("markers"))?;
            }
        }
        if lines.iter().any(|l| !l.name.is_empty()) {
            draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        }
        Ok(())
    })
}

/// Bars over named categories, one colour per group (groups side by side in a category).
pub fn bars(
    y_label: &str,
    categories: &[String],
    groups: &[(String, Vec<f64>)],
    y_range: Option<(f64, f64)>,
) -> Result<String> {
    let n = categories.len().max(1);
    let g = groups.len().max(1);
    let (y0, y1) = y_range.unwrap_or_else(|| {
        range_of(groups.iter().flat_map(|(_, v)| v.iter().copied()), true)
    });
    draw(|root| {
        let mut chart = plane(root, 0f64..n as f64, y0..y1)?;
        let chars = ((WIDTH as usize - 80) / n / 6).clamp(3, 16);
        let label = |x: &f64| centre_label(*x, categories, chars);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .max_light_lines(0)
            .x_labels(n * 2 + 1)
            .x_label_formatter(&label)
            .y_desc(y_label)
            .draw()
            .map_err(err("mesh"))?;
        let width = 0.8 / g as f64;
        for (gi, (name, values)) in groups.iter().enumerate() {
            let c = colour(gi);
            let series = chart
                .draw_series(values.iter().enumerate().filter(|(_, v)| v.is_finite()).map(
                    |(i, &v)| {
                        let x0 = i as f64 + 0.1 + gi as f64 * width;
                        Rectangle::new([(x0, y0.max(0.0).min(v)), (x0 + width, v.max(y0))], c.filled())
                    },
                ))
                .map_err(err("bars"))?;
            if groups.len() > 1 {
                series
                    .label(name.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
            }
        }
        if groups.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}

/// Histogram counts over equal bins from `lo` to `hi`, one translucent colour per group.
pub fn histogram(x_label: &str, lo: f64, hi: f64, groups: &[(String, &[u64])]) -> Result<String> {
    let top = groups
        .iter()
        .flat_map(|(_, c)| c.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    draw(|root| {
        let mut chart = plane(root, lo..hi, 0f64..top * 1.05)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc(x_label)
            .y_desc("rows")
            .draw()
            .map_err(err("mesh"))?;
        for (gi, (name, counts)) in groups.iter().enumerate() {
            let c = colour(gi);
            let w = (hi - lo) / counts.len().max(1) as f64;
            let series = chart
                .draw_series(counts.iter().enumerate().filter(|(_, &n)| n > 0).map(|(i, &n)| {
                    let x0 = lo + i as f64 * w;
                    Rectangle::new([(x0, 0.0), (x0 + w, n as f64)], c.mix(0.55).filled())
                }))
                .map_err(err("bins"))?;
            if groups.len() > 1 {
                series
                    .label(name.as_str())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], c.filled()));
            }
        }
        if groups.len() > 1 {
            draw_legend(&mut chart, SeriesLabelPosition::UpperMiddle)?;
        }
        Ok(())
    })
}

/// Points coloured by group (1-based group numbers; 0 draws grey), with an optional diagonal.
pub fn scatter(axes: &Axes, points: &[(f64, f64, usize)], legend: &[String], diagonal: bool) -> Result<String> {
    draw(|root| {
        let mut chart = plane(root, axes.x.0..axes.x.1, axes.y.0..axes.y.1)?;
        chart
            .configure_mesh()
            .max_light_lines(0)
            .x_desc(axes.x_label)
            .y_desc(axes.y_label)
            .draw()
            .map_err(err("mesh"))?;
        if diagonal {
            let lo = axes.x.0.max(axes.y.0);
            let hi = axes.x.1.min(axes.y.1);
            chart
                .draw_series(LineSeries::new([(lo, lo), (hi, hi)], RGBColor(160, 160, 160)))
                .map_err(err("diagonal"))?;
        }
        let groups = points.iter().map(|p| p.2).max().unwrap_or(0);
        for g in 0..=groups {
            let c = if g == 0 { RGBColor(90, 90, 90) } else { colour(g - 1) };
            let series = chart
                .draw_series(
                    points
                        .iter()
                        .filter(|p| p.2 == g)
                        .map(|p| Circle::new((p.0, p.1), 2, c.mix(0.6).filled())),
                )
                .map_err(err("points"))?;
            if let Some(name) = g.checked_sub(1).and_then(|i| legend.get(i)) {
                series
                    .label(name.as_str())
                    .legend(move |(x, y)| Circle::new((x + 5, y), 4, c.filled()));
            }
        }
        if !legend.is_empty() {
            draw_legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        }
        Ok(())
    })
}

/// A grid of values coloured from blue (low) through white to red (high) around `centre`,
/// each cell labelled with its value formatted by `fmt`. Taller than the other charts when
/// there are many rows (16 px a row), so that every row label stays readable.
pub fn heat_map(
    rows: &[String],
    cols: &[String],
    values: &[Vec<f64>],
    centre: f64,
    fmt: &dyn Fn(f64) -> String,
) -> Result<String> {
    let (nr, nc) = (rows.len().max(1), cols.len().max(1));
    let spread = values
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .map(|v| (v - centre).abs())
        .fold(0.0, f64::max)
        .max(1e-12);
    let height = HEIGHT.max(60 + 16 * nr as u32);
    // column labels as long as a column is wide (about 6 px a character)
    let col_chars = ((WIDTH as usize - 150) / nc / 6).max(3);
    draw_sized(height, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(130)
            .build_cartesian_2d(0f64..nc as f64, 0f64..nr as f64)
            .map_err(err("axes"))?;
        let xl = |x: &f64| short(&centre_label(*x, cols, usize::MAX), col_chars);
        // rows top to bottom in the given order
        let yl = |y: &f64| {
            let i = y.floor() as usize;
            if (y - i as f64 - 0.5).abs() < 1e-9 && i < rows.len() {
                short(&rows[rows.len() - 1 - i], 20)
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nc * 2 + 1)
            .y_labels(nr * 2 + 1)
            .x_label_formatter(&xl)
            .y_label_formatter(&yl)
            .draw()
            .map_err(err("mesh"))?;
        for (r, row) in values.iter().enumerate() {
            let y = (nr - 1 - r) as f64;
            for (c, &v) in row.iter().enumerate() {
                let t = if v.is_finite() { ((v - centre) / spread).clamp(-1.0, 1.0) } else { 0.0 };
                let fill = if t >= 0.0 {
                    RGBColor(255, (255.0 * (1.0 - 0.75 * t)) as u8, (255.0 * (1.0 - 0.8 * t)) as u8)
                } else {
                    RGBColor((255.0 * (1.0 + 0.8 * t)) as u8, (255.0 * (1.0 + 0.55 * t)) as u8, 255)
                };
                chart
                    .draw_series([Rectangle::new([(c as f64, y), (c as f64 + 1.0, y + 1.0)], fill.filled())])
                    .map_err(err("cell"))?;
                if nr * nc <= 400 {
                    chart
                        .draw_series([Text::new(
                            fmt(v),
                            (c as f64 + 0.5, y + 0.5),
                            ("sans-serif", 11).into_font().color(&BLACK).pos(plotters::style::text_anchor::Pos::new(
                                plotters::style::text_anchor::HPos::Center,
                                plotters::style::text_anchor::VPos::Center,
                            )),
                        )])
                        .map_err(err("cell text"))?;
                }
            }
        }
        Ok(())
    })
}

fn centre_label(x: f64, labels: &[String], max: usize) -> String {
    let i = x.floor() as usize;
    if (x - i as f64 - 0.5).abs() < 1e-9 && i < labels.len() {
        short(&labels[i], max)
    } else {
        String::new()
    }
}

/// At most `max` characters, with an ellipsis when cut.
pub fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(svg: &str, what: &str) -> usize {
        svg.matches(what).count()
    }

    #[test]
    fn line_chart_draws_every_line_and_escapes_names() {
        let svg = lines(
            &Axes { x_label: "false positive rate", y_label: "true positive rate", x: (0.0, 1.0), y: (0.0, 1.0) },
            &[
                Line { name: "model <script>".into(), points: vec![(0.0, 0.0), (0.2, 0.7), (1.0, 1.0)], reference: false, markers: false },
                Line { name: "chance".into(), points: vec![(0.0, 0.0), (1.0, 1.0)], reference: true, markers: false },
            ],
        )
        .unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(count(&svg, "<polyline") >= 2, "{svg}");
        assert!(!svg.contains("<script>") && svg.contains("&lt;script&gt;"));
    }

    #[test]
    fn bars_histogram_scatter_and_heat_map_draw_their_marks() {
        let cats: Vec<String> = (1..=4).map(|i| format!("segment {i}")).collect();
        let svg = bars("customers", &cats, &[("all".into(), vec![10.0, 20.0, 5.0, 0.0])], None).unwrap();
        // one rectangle per bar (the 0 bar has no height but is drawn) plus the background
        assert!(count(&svg, "<rect") >= 5, "{svg}");
        let svg = histogram("score", 0.0, 1.0, &[("no".into(), &[3, 0, 1]), ("yes".into(), &[0, 2, 4])]).unwrap();
        assert!(count(&svg, "<rect") >= 5);
        let svg = scatter(
            &Axes { x_label: "a", y_label: "b", x: (-1.0, 1.0), y: (-1.0, 1.0) },
            &[(0.0, 0.0, 1), (0.5, 0.5, 2), (0.1, -0.2, 2)],
            &["one".into(), "two".into()],
            true,
        )
        .unwrap();
        assert!(count(&svg, "<circle") >= 3);
        let svg = heat_map(
            &["1".into(), "2".into()],
            &["age".into(), "visits".into(), "spend".into()],
            &[vec![1.0, -2.0, 0.0], vec![0.5, 0.1, f64::NAN]],
            0.0,
            &|v| format!("{v:.1}"),
        )
        .unwrap();
        assert!(count(&svg, "<rect") >= 7 && svg.contains(">\n-2.0\n<") || svg.contains("-2.0"));
    }

    #[test]
    fn ranges_pad_and_survive_flat_or_empty_data() {
        assert_eq!(range_of([].into_iter(), false), (0.0, 1.0));
        assert_eq!(range_of([2.0, 2.0].into_iter(), false), (1.5, 2.5));
        let (lo, hi) = range_of([0.0, 10.0].into_iter(), true);
        assert!(lo == 0.0 && hi > 10.0);
        assert_eq!(short("abcdef", 4), "abc…");
    }
}
