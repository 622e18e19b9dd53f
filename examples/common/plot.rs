//! The training curves the examples draw: loss and accuracy per epoch, train and test, as SVG.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

/// One epoch of a training curve: loss and accuracy (0 to 1) on the training and test sets.
pub struct Row {
    pub train_loss: f64,
    pub test_loss: f64,
    pub train_acc: f64,
    pub test_acc: f64,
}

/// Two panels: loss per epoch (train, test) and accuracy per epoch (train, test).
pub fn curves(path: &Path, history: &[Row]) -> Result<(), Box<dyn Error>> {
    let root = SVGBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(500);
    let epochs = history.len() as f64;
    let max_loss = history.iter().map(|r| r.train_loss.max(r.test_loss)).fold(0.0, f64::max);

    let mut chart = ChartBuilder::on(&left)
        .caption("Loss per epoch (softmax cross-entropy)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..epochs, 0.0..max_loss * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("mean loss")
        .draw()?;
    for (name, color, get) in
        [("train", BLUE, (|r: &Row| r.train_loss) as fn(&Row) -> f64), ("test", RED, |r: &Row| r.test_loss)]
    {
        chart
            .draw_series(LineSeries::new(
                history.iter().enumerate().map(|(i, r)| (i as f64 + 1.0, get(r))),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE.mix(0.8)).draw()?;

    let min_acc = history.iter().map(|r| r.train_acc.min(r.test_acc)).fold(1.0, f64::min);
    let mut chart = ChartBuilder::on(&right)
        .caption("Accuracy per epoch", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(50)
        .build_cartesian_2d(1.0..epochs, (100.0 * min_acc - 2.0).max(0.0)..100.0)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_desc("accuracy (%)")
        .draw()?;
    for (name, color, get) in
        [("train", BLUE, (|r: &Row| r.train_acc) as fn(&Row) -> f64), ("test", RED, |r: &Row| r.test_acc)]
    {
        chart
            .draw_series(LineSeries::new(
                history.iter().enumerate().map(|(i, r)| (i as f64 + 1.0, 100.0 * get(r))),
                color.stroke_width(2),
            ))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}
