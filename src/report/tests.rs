use super::*;
use crate::ml::report_data;
use serde_json::json;

fn report(data: Option<ReportData>, task: &str) -> Report {
    Report {
        name: "<script>alert(1)</script>".into(),
        version: 2,
        algorithm: "logistic".into(),
        task: task.into(),
        relation: "public.\"odd\"\"name\"".into(),
        target: Some("bought & kept".into()),
        features: json!({"classes": ["no <b>", "yes"], "columns": [
            {"name": "age", "type": "integer", "encoding": {"Scaled": {"mean": 40.0, "scale": 10.0, "fill": 40.0}}},
            {"name": "region'\"", "type": "text", "encoding": {"OneHot": {"categories": ["a", "b"]}}}]}),
        options: json!({"l2": 1.0, "note": "</td><img src=x>"}),
        metrics: json!({"roc_auc": 0.8, "train_seconds": 1.0}),
        n_rows: 100,
        train_seconds: 0.5,
        created_at: "2026-12-01 10:00:00+00".into(),
        created_by: "analyst".into(),
        deployed: true,
        deployments: vec![Deployment { version: 2, at: "2026-12-01".into(), by: "dba".into(), cause: "train".into(), reason: "<i>first</i>".into() }],
        key_metric: Some(("roc_auc".into(), true)),
        history: vec![
            HistoryPoint { version: 1, at: "a".into(), source: "training".into(), value: 0.7 },
            HistoryPoint { version: 2, at: "b".into(), source: "training".into(), value: 0.8 },
            HistoryPoint { version: 2, at: "c".into(), source: "evaluate".into(), value: 0.78 },
        ],
        drift: vec![DriftPoint { at: "c".into(), score_psi: Some(0.02), worst_input_psi: Some(0.3) }],
        importance: vec![("age".into(), 0.1), ("region'\"".into(), 0.02)],
        profile: None,
        data,
        data_source: "The test split at training.".into(),
        generated_at: "now".into(),
    }
}

/// The chart ids a page holds, read back from its HTML.
fn ids(html: &str) -> Vec<String> {
    html.split("id=\"chart-").skip(1).map(|s| s[..s.find('"').unwrap()].to_string()).collect()
}

#[test]
fn a_binary_report_draws_every_classifier_chart_and_escapes_user_text() {
    let s: Vec<f64> = (0..400).map(|i| (i as f64 * 0.37).fract()).collect();
    let y: Vec<bool> = s.iter().enumerate().map(|(i, &v)| v > 0.5 || i % 9 == 0).collect();
    let data = ReportData::Binary(report_data::binary(&s, &y, 0.5));
    let (html, charts) = render(&report(Some(data), "binary_classification"));
    for id in ["roc", "precision-recall", "gains", "lift", "calibration", "scores", "confusion", "importance", "metric-history", "drift-history"] {
        assert!(charts.iter().any(|c| c == id), "missing {id}: {charts:?}");
    }
    assert_eq!(ids(&html), charts);
    // every chart is an SVG with marks, no chart failed
    assert_eq!(html.matches("<svg").count(), charts.len());
    assert!(!html.contains("could not be drawn"));
    // nothing a user wrote becomes markup, and the page runs no script and fetches nothing
    for hostile in ["<script>", "<img", "<b>", "<i>", "'\""] {
        assert!(!html.contains(hostile), "{hostile} unescaped");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("http://") || html.matches("http://").all(|_| html.contains("xmlns=\"http://www.w3.org/2000/svg\"")));
    assert!(!html.contains("https://") && !html.contains(" src=\""));
    assert!(html.len() < 300_000, "{} bytes", html.len());
}

#[test]
fn regression_segment_ranking_and_value_reports_draw_their_charts() {
    let p: Vec<f64> = (0..500).map(|i| i as f64).collect();
    let a: Vec<f64> = p.iter().map(|v| v + (v * 0.7).sin() * 10.0).collect();
    let (_, charts) = render(&report(Some(ReportData::Regression(report_data::regression(&p, &a))), "regression"));
    assert!(charts.contains(&"predicted-actual".to_string()) && charts.contains(&"residuals".to_string()));

    let x = crate::ml::linalg::Matrix::from_rows(&(0..300).map(|i| vec![(i % 3) as f64, (i % 7) as f64]).collect::<Vec<_>>());
    let seg: Vec<usize> = (0..300).map(|i| i % 3 + 1).collect();
    let mut r = report(Some(ReportData::Segments(report_data::segment_map(&x, &seg, 1))), "segmentation");
    r.profile = Some(Profile {
        segments: vec![1, 2, 3],
        customers: vec![100, 100, 100],
        features: vec!["a".into(), "b".into()],
        z: vec![vec![-1.2, 0.0], vec![0.0, 0.3], vec![1.2, -0.3]],
    });
    r.metrics = json!({"k_curve": [{"k": 2, "silhouette": 0.4}, {"k": 3, "silhouette": 0.6}]});
    let (html, charts) = render(&r);
    for id in ["segment-sizes", "segment-profiles", "segment-map", "k-curve"] {
        assert!(charts.iter().any(|c| c == id), "missing {id}: {charts:?}");
    }
    assert!(html.matches("<circle").count() >= 300);

    let pt = |k, p| report_data::RankingPoint { k, precision: p, recall: p * k as f64, coverage: 0.5 };
    let ranking = ReportData::Ranking(report_data::RankingCurves {
        customers: 10,
        model: vec![pt(1, 0.3), pt(5, 0.2), pt(10, 0.1)],
        popularity: vec![pt(1, 0.1), pt(5, 0.05), pt(10, 0.03)],
    });
    let (_, charts) = render(&report(Some(ranking), "recommendation"));
    assert_eq!(&charts[..3], ["precision-at-k", "recall-at-k", "coverage-at-k"]);

    let v: Vec<f64> = (0..100).map(|i| i as f64 / 10.0).collect();
    let value = ReportData::Value(report_data::ValueDistributions {
        customers: 100,
        horizon: 52.0,
        unit: "week".into(),
        expected: Some(report_data::Histogram::of(&[&v], None)),
        p_alive: Some(report_data::Histogram::of(&[&v[..10]], Some((0.0, 1.0)))),
        deciles: report_data::deciles(&v),
        decile_measure: "expected purchases".into(),
    });
    let (_, charts) = render(&report(Some(value), "lifetime_value"));
    assert_eq!(&charts[..3], ["expected-purchases", "p-alive", "value-deciles"]);
}

#[test]
fn a_model_without_chart_data_says_why() {
    let mut r = report(None, "binary_classification");
    r.data_source = "Version 1 was trained before reports stored chart data: pass a relation.".into();
    let (html, charts) = render(&r);
    assert!(!charts.contains(&"roc".to_string()));
    assert!(html.contains("trained before reports"));
}

#[test]
fn numbers_read_well() {
    assert_eq!(sections::num(1234.0), "1234");
    assert_eq!(sections::num(0.812345), "0.8123");
    assert_eq!(sections::num(12.3456), "12.35");
    assert_eq!(sections::num(f64::NAN), "-");
}
