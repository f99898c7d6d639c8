//! The SVG chart: success rate and p99 latency per second for both gateways, with the
//! outage window shaded.

use std::path::Path;

use plotters::prelude::*;

use super::report::Report;

const NAIVE: RGBColor = RGBColor(214, 69, 65);
const HARDENED: RGBColor = RGBColor(38, 115, 191);
const OUTAGE: RGBColor = RGBColor(150, 150, 150);

/// Writes the chart of `report` to `path` (an SVG file).
///
/// # Errors
///
/// When the file cannot be written.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), resilience_core::BoxError> {
    let seconds = report
        .naive
        .seconds
        .len()
        .max(report.hardened.seconds.len())
        .max(1) as f64;
    let (outage_from, outage_to) = (report.outage.0.as_secs_f64(), report.outage.1.as_secs_f64());
    let gateways = [(&report.naive, NAIVE), (&report.hardened, HARDENED)];

    let root = SVGBackend::new(path, (960, 720)).into_drawing_area();
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(360);

    // Success rate per second.
    let mut chart = ChartBuilder::on(&top)
        .caption("requests answered 2xx, per second (%)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(48)
        .build_cartesian_2d(0_f64..seconds, 0_f64..105_f64)?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("% 2xx")
        .draw()?;
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(outage_from, 0.0), (outage_to, 105.0)],
            OUTAGE.mix(0.2).filled(),
        )))?
        .label("upstream outage")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], OUTAGE.mix(0.3).filled()));
    for (gateway, color) in gateways {
        let points = gateway
            .seconds
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((i as f64 + 0.5, 100.0 * s.success_rate()?)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(gateway.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;

    // p99 latency per second.
    let top_ms = gateways
        .iter()
        .flat_map(|(g, _)| g.seconds.iter().map(|s| s.p99.as_secs_f64() * 1000.0))
        .fold(100.0_f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&bottom)
        .caption("p99 latency per second (ms)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(32)
        .y_label_area_size(56)
        .build_cartesian_2d(0_f64..seconds, 0_f64..top_ms)?;
    chart
        .configure_mesh()
        .x_desc("seconds since start")
        .y_desc("ms")
        .draw()?;
    chart.draw_series(std::iter::once(Rectangle::new(
        [(outage_from, 0.0), (outage_to, top_ms)],
        OUTAGE.mix(0.2).filled(),
    )))?;
    for (gateway, color) in gateways {
        let points = gateway
            .seconds
            .iter()
            .enumerate()
            .filter(|(_, s)| s.attempts > 0)
            .map(|(i, s)| (i as f64 + 0.5, s.p99.as_secs_f64() * 1000.0));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(gateway.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;

    root.present()?;
    Ok(())
}
