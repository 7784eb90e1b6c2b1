//! Model reports (insight.report): one self-contained HTML page per model version, the model card
//! and the charts that fit its task, as inline SVG. No scripts, no styles or fonts fetched from
//! anywhere: the page reads the same offline, in a mail or in a browser that blocks scripts.
//!
//! Pure: the API layer gathers the catalog rows into a `Report`; this module only lays them out.
//! Every text that comes from users (names, columns, classes, options) is HTML-escaped here, and
//! plotters escapes the SVG text it writes.

pub mod charts;
pub(crate) mod sections;

use crate::ml::report_data::ReportData;
use serde_json::Value;

/// A deployment of the model's name.
pub struct Deployment {
    pub version: i32,
    pub at: String,
    pub by: String,
    pub cause: String,
    pub reason: String,
}

/// One measurement of the model's key metric over time.
pub struct HistoryPoint {
    pub version: i32,
    pub at: String,
    /// 'training', or the evaluation's source ('evaluate', 'retrain', 'champion').
    pub source: String,
    pub value: f64,
}

/// A drift check: the score's PSI and the largest PSI of an input.
pub struct DriftPoint {
    pub at: String,
    pub score_psi: Option<f64>,
    pub worst_input_psi: Option<f64>,
}

/// A segmentation's profile: per segment the z-score of each input's mean.
pub struct Profile {
    pub segments: Vec<i32>,
    pub customers: Vec<i64>,
    pub features: Vec<String>,
    /// segments x features
    pub z: Vec<Vec<f64>>,
}

/// Everything a report shows, gathered from the catalog.
pub struct Report {
    pub name: String,
    pub version: i32,
    pub algorithm: String,
    pub task: String,
    pub relation: String,
    pub target: Option<String>,
    pub features: Value,
    pub options: Value,
    pub metrics: Value,
    pub n_rows: i64,
    pub train_seconds: f64,
    pub created_at: String,
    pub created_by: String,
    pub deployed: bool,
    pub deployments: Vec<Deployment>,
    /// The metric `history` holds (e.g. roc_auc), and whether higher is better.
    pub key_metric: Option<(String, bool)>,
    pub history: Vec<HistoryPoint>,
    pub drift: Vec<DriftPoint>,
    pub importance: Vec<(String, f64)>,
    pub profile: Option<Profile>,
    /// The chart data, and where it comes from (a sentence).
    pub data: Option<ReportData>,
    pub data_source: String,
    pub generated_at: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The HTML of the page under construction.
pub struct Page {
    body: String,
    charts: Vec<String>,
}

impl Page {
    fn new() -> Page {
        Page {
            body: String::new(),
            charts: Vec::new(),
        }
    }

    fn heading(&mut self, text: &str) {
        self.body
            .push_str(&format!("<h2>{}</h2>\n", escape(text)));
    }

    fn paragraph(&mut self, text: &str) {
        self.body.push_str(&format!("<p>{}</p>\n", escape(text)));
    }

    /// A table of rows of cells (already plain text: escaped here).
    fn table(&mut self, class: &str, header: &[&str], rows: &[Vec<String>]) {
        let mut t = format!("<table class=\"{class}\">\n");
        if !header.is_empty() {
            t.push_str("<tr>");
            for h in header {
                t.push_str(&format!("<th>{}</th>", escape(h)));
            }
            t.push_str("</tr>\n");
        }
        for r in rows {
            t.push_str("<tr>");
            for c in r {
                t.push_str(&format!("<td>{}</td>", escape(c)));
            }
            t.push_str("</tr>\n");
        }
        t.push_str("</table>\n");
        self.body.push_str(&t);
    }

    /// A chart: `id` names it for tests and links (chart-<id>), `caption` says how to read it.
    fn chart(&mut self, id: &str, title: &str, caption: &str, svg: Result<String, charts::ChartError>) {
        let inner = match svg {
            Ok(svg) => svg,
            Err(e) => format!("<p class=\"missing\">This chart could not be drawn: {}</p>", escape(&e.0)),
        };
        self.charts.push(id.to_string());
        self.body.push_str(&format!(
            "<figure id=\"chart-{}\" class=\"chart\"><figcaption><strong>{}</strong> {}</figcaption>\n{}\n</figure>\n",
            escape(id),
            escape(title),
            escape(caption),
            inner
        ));
    }

    fn open_grid(&mut self) {
        self.body.push_str("<div class=\"grid\">\n");
    }

    fn close_grid(&mut self) {
        self.body.push_str("</div>\n");
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1240px;color:#222;padding:0 16px}\
h1{font-size:24px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.sub{color:#666;margin-top:0}table{border-collapse:collapse;margin:8px 0;font-size:13px}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}\
table.card td:first-child{font-weight:600;background:#fafafa}.grid{display:flex;flex-wrap:wrap;gap:16px}\
figure.chart{margin:0;border:1px solid #e4e4e4;padding:8px;width:560px}figcaption{font-size:13px;margin-bottom:4px;color:#444}\
figure svg{display:block;max-width:100%;height:auto}.missing{color:#a00}footer{color:#888;font-size:12px;margin-top:32px}";

/// The report as one HTML document; and the ids of the charts it holds (chart-<id>), for tests.
pub fn render(r: &Report) -> (String, Vec<String>) {
    let mut page = Page::new();
    sections::card(&mut page, r);
    sections::quality(&mut page, r);
    sections::importance(&mut page, r);
    sections::segments(&mut page, r);
    sections::history(&mut page, r);
    let title = format!("{} version {}", r.name, r.version);
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <title>{t}: pg_insight model report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>{t}</h1>\n<p class=\"sub\">{algo} ({task}) on {rel}</p>\n{body}\
         <footer>pg_insight model report, generated {gen}. Chart data: {src}</footer>\n</body>\n</html>\n",
        t = escape(&title),
        algo = escape(&r.algorithm),
        task = escape(&r.task.replace('_', " ")),
        rel = escape(&r.relation),
        body = page.body,
        gen = escape(&r.generated_at),
        src = escape(if r.data_source.is_empty() { "the catalog." } else { &r.data_source }),
    );
    (html, page.charts)
}

#[cfg(test)]
mod tests;
