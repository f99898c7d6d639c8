//! The SVG chart of one scenario, three panels sharing the time axis, the event shaded:
//!
//! - **goodput**: payments answered 2xx per second;
//! - **duplicate charges**, cumulative: money taken twice, as it happens (the table adds
//!   those a queue still made after the run);
//! - **p99 latency of successful payments** (first try to 2xx) per second, leaving out
//!   seconds with fewer than [`MIN_FOR_P99`] of them.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::report::{GatewayReport, MIN_FOR_P99, Report, Second};

const NAIVE: RGBColor = RGBColor(214, 69, 65);
const HARDENED: RGBColor = RGBColor(38, 115, 191);
const EVENT: RGBColor = RGBColor(150, 150, 150);
const GRID: RGBColor = RGBColor(232, 232, 232);
const FINE_GRID: RGBColor = RGBColor(246, 246, 246);

type Panel<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One panel: a title, a y-axis label, a value per second (`None`: not plotted), and
/// where its legend stays clear of the lines.
struct Series {
    title: String,
    y_desc: &'static str,
    value: fn(&Second) -> Option<f64>,
    legend: SeriesLabelPosition,
}

/// Writes the chart of `report` to `path` (an SVG file).
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), resilience_core::BoxError> {
    let root = SVGBackend::new(path, (960, 900)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "{}: naive vs hardened gateway ({} shaded)",
            report.scenario, report.timeline.noun
        ),
        ("sans-serif", 22),
    )?;
    let panels = root.split_evenly((3, 1));
    let series = [
        Series {
            title: "goodput: payments answered 2xx per second".into(),
            y_desc: "payments/s",
            value: |s| Some(s.goodput as f64),
            legend: SeriesLabelPosition::LowerLeft,
        },
        Series {
            title: "duplicate charges (money taken twice) during the run, cumulative".into(),
            y_desc: "charges",
            value: |s| Some(s.duplicates as f64),
            legend: SeriesLabelPosition::UpperLeft,
        },
        Series {
            title: format!(
                "p99 latency of successful payments, first try to 2xx (seconds with {MIN_FOR_P99}+ of them)"
            ),
            y_desc: "seconds",
            value: |s| s.p99.map(|d| d.as_secs_f64()),
            legend: SeriesLabelPosition::UpperLeft,
        },
    ];
    for (panel, series) in panels.iter().zip(&series) {
        draw_panel(panel, report, series)?;
    }
    root.present()?;
    Ok(())
}

fn draw_panel(
    panel: &Panel<'_>,
    report: &Report,
    series: &Series,
) -> Result<(), resilience_core::BoxError> {
    let gateways: [(&GatewayReport, RGBColor); 2] =
        [(&report.naive, NAIVE), (&report.hardened, HARDENED)];
    let seconds = gateways
        .iter()
        .map(|(g, _)| g.seconds.len())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let top = gateways
        .iter()
        .flat_map(|(g, _)| g.seconds.iter().filter_map(series.value))
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let event = report.timeline.event;
    let (from, to) = (event.start.as_secs_f64(), event.end().as_secs_f64());

    let mut chart = ChartBuilder::on(panel)
        .caption(&series.title, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(56)
        .build_cartesian_2d(0_f64..seconds, 0_f64..top)?;
    chart
        .configure_mesh()
        .bold_line_style(GRID)
        .light_line_style(FINE_GRID)
        .x_desc("seconds since start")
        .y_desc(series.y_desc)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if top < 10.0 {
                format!("{y:.1}")
            } else {
                format!("{y:.0}")
            }
        })
        .draw()?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(from, 0.0), (to, top)],
            EVENT.mix(0.18).filled(),
        )))?
        .label(report.timeline.noun)
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], EVENT.mix(0.3).filled()));
    let end = report.timeline.end.as_secs_f64();
    chart
        .draw_series(std::iter::once(PathElement::new(
            [(end, 0.0), (end, top)],
            EVENT.stroke_width(1),
        )))?
        .label("payments stop arriving")
        .legend(|(x, y)| PathElement::new([(x + 8, y - 6), (x + 8, y + 6)], EVENT.stroke_width(1)));
    for (gateway, color) in gateways {
        // A gap where a second has no value: the line breaks rather than bridging it.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (i, second) in gateway.seconds.iter().enumerate() {
            match (series.value)(second) {
                Some(v) => runs.last_mut().map_or((), |r| r.push((i as f64 + 0.5, v))),
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| r.len() == 1) {
            chart.draw_series(run.iter().map(|p| Circle::new(*p, 2, color.filled())))?;
        }
        let mut labelled = false;
        for run in runs.into_iter().filter(|r| r.len() > 1) {
            let drawn = chart.draw_series(LineSeries::new(run, color.stroke_width(2)))?;
            if !labelled {
                drawn.label(gateway.name).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
                labelled = true;
            }
        }
    }
    chart
        .configure_series_labels()
        .position(series.legend.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}
