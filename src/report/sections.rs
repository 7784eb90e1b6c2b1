//! The sections of a report, each drawn only when the model has what it needs.

use super::charts::{self, Axes, Line};
use super::{Page, Report};
use crate::ml::report_data::{
    BinaryCurves, MulticlassCurves, RankingCurves, RankingPoint, RegressionCurves, ReportData, SegmentMap,
    ValueDistributions,
};
use serde_json::Value;

/// A number for people: 4 significant digits, thousands as they are.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{}", v as i64);
    }
    let digits = (4 - 1 - v.abs().log10().floor() as i32).clamp(0, 8) as usize;
    format!("{v:.digits$}")
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), num),
        other => other.to_string(),
    }
}

/// How a feature is prepared, in a few words, from its stored encoding.
fn preprocessing(col: &Value, impute: &str) -> String {
    let enc = &col["encoding"];
    if let Some(s) = enc.get("Scaled") {
        if impute == "error" {
            return "as is; NULL is an error".into();
        }
        let (m, sd, fill) = (s["mean"].as_f64(), s["scale"].as_f64(), s["fill"].as_f64());
        return match (m, sd, fill) {
            (Some(m), Some(sd), Some(f)) if sd != 1.0 || m != 0.0 => {
                format!("scaled: (x - {}) / {}; NULL as {}", num(m), num(sd), num(f))
            }
            (_, _, Some(f)) => format!("as is; NULL as {}", num(f)),
            _ => "as is".into(),
        };
    }
    if let Some(o) = enc.get("OneHot") {
        let n = o["categories"].as_array().map_or(0, |a| a.len());
        return format!("one-hot: {n} categories and one for any other");
    }
    if let Some(o) = enc.get("Coded") {
        let n = o["categories"].as_array().map_or(0, |a| a.len());
        return format!("category codes: {n} categories and one for any other");
    }
    if enc.get("Text").is_some() {
        return "free text: word and character n-grams, a cross-fitted text model".into();
    }
    if enc.get("Embedded").is_some() {
        return "free text: sentence embeddings, a cross-fitted text model".into();
    }
    "as stored".into()
}

pub(super) fn card(page: &mut Page, r: &Report) {
    page.heading("Model card");
    let mut rows: Vec<Vec<String>> = vec![
        vec!["name".into(), r.name.clone()],
        vec!["version".into(), format!("{}{}", r.version, if r.deployed { " (deployed)" } else { "" })],
        vec!["algorithm".into(), r.algorithm.clone()],
        vec!["task".into(), r.task.replace('_', " ")],
        vec!["relation".into(), r.relation.clone()],
    ];
    if let Some(t) = &r.target {
        rows.push(vec!["target".into(), t.clone()]);
    }
    rows.push(vec!["rows".into(), r.n_rows.to_string()]);
    rows.push(vec!["trained".into(), format!("{} by {} in {} s", r.created_at, r.created_by, num(r.train_seconds))]);
    if let Value::Object(m) = &r.metrics {
        let scalars: Vec<String> = m
            .iter()
            .filter(|(k, v)| v.is_number() && !k.ends_with("_seconds") && *k != "threads")
            .map(|(k, v)| format!("{k} {}", json_text(v)))
            .collect();
        if !scalars.is_empty() {
            rows.push(vec!["metrics".into(), scalars.join(", ")]);
        }
    }
    if let Value::Object(o) = &r.options {
        let opts: Vec<String> = o
            .iter()
            .filter(|(_, v)| !v.is_object())
            .map(|(k, v)| format!("{k} {}", json_text(v)))
            .collect();
        if !opts.is_empty() {
            rows.push(vec!["options".into(), opts.join(", ")]);
        }
    }
    page.table("card", &[], &rows);

    if let Some(cols) = r.features["columns"].as_array() {
        let rows: Vec<Vec<String>> = cols
            .iter()
            .map(|c| {
                vec![
                    c["name"].as_str().unwrap_or("").to_string(),
                    c["type"].as_str().unwrap_or("").to_string(),
                    preprocessing(c, r.options["impute"].as_str().unwrap_or("")),
                ]
            })
            .collect();
        if !rows.is_empty() {
            page.heading("Features");
            page.table("features", &["column", "type", "preprocessing"], &rows);
        }
    }

    if !r.deployments.is_empty() {
        page.heading("Deployments");
        let rows: Vec<Vec<String>> = r
            .deployments
            .iter()
            .map(|d| vec![d.at.clone(), d.version.to_string(), d.cause.clone(), d.by.clone(), d.reason.clone()])
            .collect();
        page.table("deployments", &["when", "version", "why", "by", "reason"], &rows);
    }
}

pub(super) fn quality(page: &mut Page, r: &Report) {
    match &r.data {
        Some(ReportData::Binary(c)) => binary(page, c, r),
        Some(ReportData::Multiclass(c)) => multiclass(page, c),
        Some(ReportData::Regression(c)) => regression(page, c),
        Some(ReportData::Ranking(c)) => ranking(page, c),
        Some(ReportData::Value(v)) => value(page, v),
        Some(ReportData::Segments(_)) | None => {}
    }
    if r.data.is_none() && r.task != "segmentation" {
        page.heading("Evaluation");
        page.paragraph(&r.data_source);
    }
}

fn unit_axes<'a>(x: &'a str, y: &'a str) -> Axes<'a> {
    Axes { x_label: x, y_label: y, x: (0.0, 1.0), y: (0.0, 1.0) }
}

fn binary(page: &mut Page, c: &BinaryCurves, r: &Report) {
    page.heading("Evaluation");
    page.paragraph(&format!(
        "{} rows, {} positive ({:.1}%). {}",
        c.rows,
        c.positives,
        100.0 * c.positives as f64 / c.rows.max(1) as f64,
        r.data_source
    ));
    let pts = |v: &[[f64; 2]]| v.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>();
    page.open_grid();
    page.chart(
        "roc",
        "ROC curve",
        &format!("ROC AUC {:.4}: the share of buyers found (y) against the share of non-buyers flagged (x) as the threshold falls.", c.roc_auc),
        charts::lines(
            &unit_axes("false positive rate", "true positive rate"),
            &[
                Line { name: format!("model (AUC {:.3})", c.roc_auc), points: pts(&c.roc), reference: false, markers: false },
                Line { name: "chance".into(), points: vec![(0.0, 0.0), (1.0, 1.0)], reference: true, markers: false },
            ],
        ),
    );
    let base = c.positives as f64 / c.rows.max(1) as f64;
    page.chart(
        "precision-recall",
        "Precision-recall curve",
        "Of the customers flagged, the share that are positive (y), against the share of all positives flagged (x). The grey line is the positive rate.",
        charts::lines(
            &unit_axes("recall", "precision"),
            &[
                Line { name: "model".into(), points: pts(&c.precision_recall), reference: false, markers: false },
                Line { name: "positive rate".into(), points: vec![(0.0, base), (1.0, base)], reference: true, markers: false },
            ],
        ),
    );
    page.chart(
        "gains",
        "Cumulative gains",
        "Contacting the best-scored share of customers (x) finds this share of all positives (y).",
        charts::lines(
            &unit_axes("share of customers contacted", "share of positives found"),
            &[
                Line { name: "model".into(), points: pts(&c.gains), reference: false, markers: false },
                Line { name: "random".into(), points: vec![(0.0, 0.0), (1.0, 1.0)], reference: true, markers: false },
            ],
        ),
    );
    let deciles: Vec<String> = c.lift.iter().map(|b| b.bin.to_string()).collect();
    let lifts: Vec<f64> = c.lift.iter().map(|b| b.lift).collect();
    page.chart(
        "lift",
        "Lift by decile",
        "Customers ranked by score in ten equal groups, best first: each group's positive rate over the overall rate (1 = no better than random).",
        charts::bars("lift", &deciles, &[("lift".into(), lifts)], None),
    );
    let cal: Vec<(f64, f64)> = c.calibration.iter().map(|b| (b.predicted, b.observed)).collect();
    page.chart(
        "calibration",
        "Calibration",
        "Rows in ten equal groups by predicted probability: the mean prediction (x) against the observed positive rate (y). On the diagonal, a predicted 30% means 30%.",
        charts::lines(
            &unit_axes("mean predicted probability", "observed positive rate"),
            &[
                Line { name: "model".into(), points: cal, reference: false, markers: true },
                Line { name: "perfect".into(), points: vec![(0.0, 0.0), (1.0, 1.0)], reference: true, markers: false },
            ],
        ),
    );
    let classes = r.features["classes"].as_array();
    let class = |i: usize, or: &str| {
        classes
            .and_then(|a| a.get(i))
            .and_then(|v| v.as_str())
            .map_or(or.to_string(), |s| s.to_string())
    };
    let (neg, pos) = (class(0, "negative"), class(1, "positive"));
    page.chart(
        "scores",
        "Scores by class",
        "How the predicted probability is spread for each true class: the less they overlap, the better the model separates them.",
        charts::histogram(
            "predicted probability",
            c.scores.lo,
            c.scores.hi,
            &[(format!("{neg}"), &c.scores.counts[0]), (format!("{pos}"), &c.scores.counts.get(1).cloned().unwrap_or_default())],
        ),
    );
    let conf = c.confusion;
    let total = conf.iter().flatten().sum::<u64>().max(1) as f64;
    page.chart(
        "confusion",
        "Confusion matrix",
        &format!("At the threshold {}: rows are the true class, columns the predicted one.", num(c.threshold)),
        charts::heat_map(
            &[format!("true {neg}"), format!("true {pos}")],
            &[format!("predicted {neg}"), format!("predicted {pos}")],
            &[
                vec![conf[0][0] as f64, conf[0][1] as f64],
                vec![conf[1][0] as f64, conf[1][1] as f64],
            ],
            0.0,
            &|v| format!("{} ({:.1}%)", v as u64, 100.0 * v / total),
        ),
    );
    page.close_grid();
}

fn multiclass(page: &mut Page, c: &MulticlassCurves) {
    page.heading("Evaluation");
    let rows: Vec<String> = c.classes.iter().map(|l| format!("true {l}")).collect();
    let cols: Vec<String> = c.classes.iter().map(|l| format!("predicted {l}")).collect();
    // each row as shares of the true class: comparable across classes of different sizes
    let shares: Vec<Vec<f64>> = c
        .confusion
        .iter()
        .map(|r| {
            let n = r.iter().sum::<u64>().max(1) as f64;
            r.iter().map(|&v| v as f64 / n).collect()
        })
        .collect();
    page.open_grid();
    page.chart(
        "confusion",
        "Confusion matrix",
        "Each true class (row) as shares of its rows predicted as each class (column); the diagonal is right.",
        charts::heat_map(&rows, &cols, &shares, 0.0, &|v| format!("{:.0}%", 100.0 * v)),
    );
    let recall: Vec<f64> = shares.iter().enumerate().map(|(i, r)| r.get(i).copied().unwrap_or(0.0)).collect();
    page.chart(
        "class-recall",
        "Recall by class",
        "The share of each class's rows predicted right.",
        charts::bars("recall", &c.classes, &[("recall".into(), recall)], Some((0.0, 1.0))),
    );
    page.close_grid();
}

fn regression(page: &mut Page, c: &RegressionCurves) {
    page.heading("Evaluation");
    let pts: Vec<(f64, f64, usize)> = c.sample.iter().map(|p| (p[0], p[1], 0)).collect();
    let all = c.sample.iter().flat_map(|p| [p[0], p[1]]);
    let (lo, hi) = charts::range_of(all, false);
    page.open_grid();
    page.chart(
        "predicted-actual",
        "Predicted vs actual",
        &format!("{} of {} rows: on the diagonal the prediction is exact.", c.sample.len(), c.rows),
        charts::scatter(&Axes { x_label: "predicted", y_label: "actual", x: (lo, hi), y: (lo, hi) }, &pts, &[], true),
    );
    page.chart(
        "residuals",
        "Residuals",
        "actual - predicted over every row: centred on 0 when the model is unbiased.",
        charts::histogram("actual - predicted", c.residuals.lo, c.residuals.hi, &[("rows".into(), &c.residuals.counts[0])]),
    );
    page.close_grid();
}

fn ranking(page: &mut Page, c: &RankingCurves) {
    page.heading("Evaluation");
    page.paragraph(&format!("Held-out interactions of {} customers.", c.customers));
    let line = |name: &str, pts: &[RankingPoint], f: fn(&RankingPoint) -> f64, reference| Line {
        name: name.into(),
        points: pts.iter().map(|p| (p.k as f64, f(p))).collect(),
        reference,
        markers: true,
    };
    let kmax = c.model.iter().map(|p| p.k).max().unwrap_or(1) as f64;
    let top = |f: fn(&RankingPoint) -> f64| {
        charts::range_of(c.model.iter().chain(&c.popularity).map(f), true)
    };
    page.open_grid();
    type Measure = fn(&RankingPoint) -> f64;
    let measures: [(&str, &str, &str, Measure); 3] = [
        ("precision-at-k", "Precision@k", "precision", |p| p.precision),
        ("recall-at-k", "Recall@k", "recall", |p| p.recall),
        ("coverage-at-k", "Coverage@k", "coverage", |p| p.coverage),
    ];
    let baseline = if c.popularity.is_empty() {
        ""
    } else {
        "; the grey line recommends the most popular items to everyone"
    };
    for (id, title, what, f) in measures {
        page.chart(
            id,
            title,
            &format!("The {what} of each customer's top k recommendations against their held-out items{baseline}."),
            charts::lines(
                &Axes { x_label: "k (recommendations per customer)", y_label: what, x: (0.0, kmax + 1.0), y: top(f) },
                &[line("model", &c.model, f, false), line(if c.popularity.is_empty() { "" } else { "popularity" }, &c.popularity, f, true)],
            ),
        );
    }
    page.close_grid();
}

fn value(page: &mut Page, v: &ValueDistributions) {
    page.heading("Customers");
    page.paragraph(&format!("{} customers; horizon {} {}s.", v.customers, num(v.horizon), v.unit));
    page.open_grid();
    if let Some(h) = &v.expected {
        page.chart(
            "expected-purchases",
            "Expected purchases",
            &format!("How many purchases each customer is expected to make in the next {} {}s.", num(v.horizon), v.unit),
            charts::histogram("expected purchases", h.lo, h.hi, &[("customers".into(), &h.counts[0])]),
        );
    }
    if let Some(h) = &v.p_alive {
        page.chart(
            "p-alive",
            "P(alive)",
            "The probability that each customer is still active (has not churned silently).",
            charts::histogram("P(alive)", h.lo, h.hi, &[("customers".into(), &h.counts[0])]),
        );
    }
    if !v.deciles.is_empty() {
        let labels: Vec<String> = (1..=v.deciles.len()).map(|i| i.to_string()).collect();
        page.chart(
            "value-deciles",
            "Value by decile",
            &format!("Customers ranked by {} in ten equal groups, highest first: the mean of each group.", v.decile_measure),
            charts::bars(&v.decile_measure, &labels, &[("mean".into(), v.deciles.clone())], None),
        );
    }
    page.close_grid();
}

pub(super) fn importance(page: &mut Page, r: &Report) {
    if r.importance.is_empty() {
        return;
    }
    let mut imp = r.importance.clone();
    imp.truncate(20);
    let names: Vec<String> = imp.iter().map(|(f, _)| f.clone()).collect();
    let values: Vec<f64> = imp.iter().map(|(_, v)| *v).collect();
    page.heading("What drives it");
    page.chart(
        "importance",
        "Feature importance",
        "The drop of the test metric when the column's values are shuffled (permutation importance, at training): the larger, the more the model relies on it.",
        charts::bars("importance", &names, &[("importance".into(), values)], None),
    );
}

pub(super) fn segments(page: &mut Page, r: &Report) {
    let map = match &r.data {
        Some(ReportData::Segments(m)) => Some(m),
        _ => None,
    };
    if r.profile.is_none() && map.is_none() {
        return;
    }
    page.heading("Segments");
    if !r.data_source.is_empty() {
        page.paragraph(&r.data_source);
    }
    page.open_grid();
    if let Some(p) = &r.profile {
        let labels: Vec<String> = p.segments.iter().map(|s| format!("segment {s}")).collect();
        let sizes: Vec<f64> = p.customers.iter().map(|&c| c as f64).collect();
        page.chart(
            "segment-sizes",
            "Segment sizes",
            "Customers in each segment at training.",
            charts::bars("customers", &labels, &[("customers".into(), sizes)], None),
        );
        // inputs down, segments across: input names need the room, segment numbers do not
        let numbers: Vec<String> = p.segments.iter().map(|s| s.to_string()).collect();
        let by_input: Vec<Vec<f64>> = (0..p.features.len())
            .map(|f| p.z.iter().map(|row| row.get(f).copied().unwrap_or(f64::NAN)).collect())
            .collect();
        page.chart(
            "segment-profiles",
            "Segment profiles",
            "Each segment's (column) mean of each input (row), in standard deviations from the mean of all customers (z): red above, blue below.",
            charts::heat_map(&p.features, &numbers, &by_input, 0.0, &|v| format!("{v:.1}")),
        );
    }
    if let Some(m) = map {
        segment_map(page, m);
    }
    if let Some(curve) = r.metrics["k_curve"].as_array() {
        let pts = |f: &str| -> Vec<(f64, f64)> {
            curve.iter().filter_map(|p| Some((p["k"].as_f64()?, p[f].as_f64()?))).collect()
        };
        let sil = pts("silhouette");
        if !sil.is_empty() {
            let (x0, x1) = charts::range_of(sil.iter().map(|p| p.0), false);
            let (y0, y1) = charts::range_of(sil.iter().map(|p| p.1), false);
            page.chart(
                "k-curve",
                "Choice of k",
                "The silhouette of each number of segments tried (higher is better separated); the model kept the best.",
                charts::lines(&Axes { x_label: "segments (k)", y_label: "silhouette", x: (x0, x1), y: (y0, y1) }, &[Line { name: String::new(), points: sil, reference: false, markers: true }]),
            );
        }
    }
    page.close_grid();
}

fn segment_map(page: &mut Page, m: &SegmentMap) {
    let pts: Vec<(f64, f64, usize)> = m
        .points
        .iter()
        .zip(&m.segments)
        .map(|(p, &s)| (p[0] as f64, p[1] as f64, s as usize))
        .collect();
    let k = m.segments.iter().copied().max().unwrap_or(0) as usize;
    let legend: Vec<String> = (1..=k).map(|s| format!("segment {s}")).collect();
    let (x0, x1) = charts::range_of(pts.iter().map(|p| p.0), false);
    let (y0, y1) = charts::range_of(pts.iter().map(|p| p.1), false);
    page.chart(
        "segment-map",
        "Segment map",
        &format!(
            "{} of {} customers on the two principal components of the model's inputs ({:.0}% and {:.0}% of their variance), coloured by segment.",
            m.points.len(),
            m.rows,
            100.0 * m.explained[0],
            100.0 * m.explained[1]
        ),
        charts::scatter(&Axes { x_label: "component 1", y_label: "component 2", x: (x0, x1), y: (y0, y1) }, &pts, &legend, false),
    );
}

pub(super) fn history(page: &mut Page, r: &Report) {
    let Some((metric, _)) = &r.key_metric else { return };
    if r.history.len() < 2 && r.drift.is_empty() {
        return;
    }
    page.heading("Over time");
    page.open_grid();
    if r.history.len() >= 2 {
        let mut by_source: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
        for (i, h) in r.history.iter().enumerate() {
            let x = (i + 1) as f64;
            match by_source.iter_mut().find(|(s, _)| *s == h.source) {
                Some((_, v)) => v.push((x, h.value)),
                None => by_source.push((h.source.clone(), vec![(x, h.value)])),
            }
        }
        let (y0, y1) = charts::range_of(r.history.iter().map(|h| h.value), false);
        let lines: Vec<Line> = by_source
            .into_iter()
            .map(|(s, points)| Line { name: s, points, reference: false, markers: true })
            .collect();
        page.chart(
            "metric-history",
            &format!("{metric} over time"),
            "Every measurement in order: each version's test metric at training and every recorded evaluation (insight.evaluate with record, retrain's champion/challenger checks).",
            charts::lines(&Axes { x_label: "measurement", y_label: metric, x: (0.5, r.history.len() as f64 + 0.5), y: (y0, y1) }, &lines),
        );
        let rows: Vec<Vec<String>> = r
            .history
            .iter()
            .enumerate()
            .map(|(i, h)| vec![(i + 1).to_string(), h.at.clone(), h.version.to_string(), h.source.clone(), num(h.value)])
            .collect();
        page.close_grid();
        page.table("history", &["#", "when", "version", "source", metric], &rows);
        page.open_grid();
    }
    if !r.drift.is_empty() {
        let n = r.drift.len() as f64;
        let series = |f: fn(&super::DriftPoint) -> Option<f64>| -> Vec<(f64, f64)> {
            r.drift.iter().enumerate().filter_map(|(i, d)| f(d).map(|v| ((i + 1) as f64, v))).collect()
        };
        let score = series(|d| d.score_psi);
        let worst = series(|d| d.worst_input_psi);
        let (_, y1) = charts::range_of(score.iter().chain(&worst).map(|p| p.1).chain([0.25]), true);
        page.chart(
            "drift-history",
            "Drift over time",
            "Population stability index of the score and of the most shifted input at each recorded drift check; above 0.1 watch, above 0.25 act (grey lines).",
            charts::lines(
                &Axes { x_label: "drift check", y_label: "PSI", x: (0.5, n + 0.5), y: (0.0, y1) },
                &[
                    Line { name: "score".into(), points: score, reference: false, markers: true },
                    Line { name: "worst input".into(), points: worst, reference: false, markers: true },
                    Line { name: String::new(), points: vec![(0.5, 0.1), (n + 0.5, 0.1)], reference: true, markers: false },
                    Line { name: String::new(), points: vec![(0.5, 0.25), (n + 0.5, 0.25)], reference: true, markers: false },
                ],
            ),
        );
    }
    page.close_grid();
}
