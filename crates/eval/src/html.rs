//! The report as one self-contained HTML page: inline CSS, an inline SVG chart, no scripts
//! and no external resources, so it can be mailed, archived or opened offline and still look
//! the same. Every text from the suite or a model is escaped: answers and reasons quote model
//! output, which must never become markup.

use std::fmt::Write as _;

use crate::format::{percent, test_label, usd};
use crate::{Report, RouteRun};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}\
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.pass{background:#e8f6e8}.fail{background:#fbeaea}.error{background:#fdf3dc}\
ul{margin:.2em 0;padding-left:1.2em}li.fail{color:#a11}li.ng{color:#946200}.small{color:#666;font-size:.85em}\
svg text{font:12px system-ui,sans-serif}";

/// Width of a bar at 100 %.
const BAR: f64 = 220.0;
/// Height of one route's row in the chart.
const ROW: f64 = 28.0;

impl Report {
    /// One self-contained HTML page.
    pub fn to_html(&self) -> String {
        let title = match &self.description {
            Some(d) => format!("Frugal eval: {}", esc(d)),
            None => "Frugal eval".to_string(),
        };
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{title}</title>\n\
<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
        );
        out.push_str("<h2>Routes</h2>\n");
        out.push_str(&self.chart());
        out.push_str(&self.route_table());
        if self.judge_cost_usd > 0.0 {
            let _ = writeln!(out, "<p>Judge cost (not included above): {}</p>", usd(self.judge_cost_usd));
        }
        out.push_str(&self.test_table());
        out.push_str(&self.gate_tables());
        out.push_str("</body>\n</html>\n");
        out
    }

    /// Two bar panels: pass rate (of 100 %) and cost per passed test (of the highest).
    fn chart(&self) -> String {
        let n = self.routes.len() as f64;
        let height = 30.0 + n * ROW;
        let max_cost = self.routes.iter().filter_map(|r| r.cost_per_passed).fold(0.0_f64, f64::max);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"{height}\" viewBox=\"0 0 820 {height}\" \
role=\"img\" aria-label=\"Pass rate and cost per passed test per route\">\n\
<text x=\"130\" y=\"14\" font-weight=\"bold\">Pass rate</text>\n\
<text x=\"530\" y=\"14\" font-weight=\"bold\">Cost per passed test</text>\n"
        );
        for (i, r) in self.routes.iter().enumerate() {
            let y = 24.0 + i as f64 * ROW;
            let route = esc(&r.route);
            let rate_w = BAR * r.pass_rate.clamp(0.0, 1.0);
            let _ = writeln!(
                svg,
                "<text x=\"122\" y=\"{ty}\" text-anchor=\"end\">{route}</text>\
<rect x=\"130\" y=\"{y}\" width=\"{rate_w:.1}\" height=\"18\" fill=\"#4a9d5b\"/>\
<text x=\"{tx:.1}\" y=\"{ty}\">{rate}</text>",
                ty = y + 13.0,
                tx = 136.0 + rate_w,
                rate = percent(r.pass_rate),
            );
            let (cost_w, cost_label) = match r.cost_per_passed {
                Some(c) if max_cost > 0.0 => (BAR * c / max_cost, usd(c)),
                Some(c) => (0.0, usd(c)),
                None => (0.0, "nothing passed".to_string()),
            };
            let _ = writeln!(
                svg,
                "<text x=\"522\" y=\"{ty}\" text-anchor=\"end\">{route}</text>\
<rect x=\"530\" y=\"{y}\" width=\"{cost_w:.1}\" height=\"18\" fill=\"#3b6fb6\"/>\
<text x=\"{tx:.1}\" y=\"{ty}\">{cost_label}</text>",
                ty = y + 13.0,
                tx = 536.0 + cost_w,
            );
        }
        svg.push_str("</svg>\n");
        svg
    }

    fn route_table(&self) -> String {
        let mut out = String::from(
            "<table>\n<tr><th>Route</th><th>Tests</th><th>Passed</th><th>Pass rate</th><th>Cost</th>\
<th>Cost per passed</th><th>p50 ms</th><th>p95 ms</th><th>Tokens</th><th>Errors</th><th>Not graded</th></tr>\n",
        );
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        for r in &self.routes {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&r.route),
                r.tests,
                r.passed,
                percent(r.pass_rate),
                usd(r.cost_usd),
                r.cost_per_passed.map_or("-".to_string(), usd),
                ms(r.p50_latency_ms),
                ms(r.p95_latency_ms),
                r.tokens,
                r.errors,
                r.not_graded,
            );
        }
        out.push_str("</table>\n");
        out
    }

    fn test_table(&self) -> String {
        let mut out = String::from("<h2>Tests</h2>\n<table>\n<tr><th>Test</th><th>Task</th>");
        for r in &self.routes {
            let _ = write!(out, "<th>{}</th>", esc(&r.route));
        }
        out.push_str("</tr>\n");
        for t in &self.tests {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td>",
                esc(&test_label(t.test_index, t.description.as_deref())),
                esc(&t.task)
            );
            for route in &self.routes {
                match t.runs.iter().find(|r| r.route == route.route) {
                    Some(run) => out.push_str(&cell(run)),
                    None => out.push_str("<td></td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    }

    fn gate_tables(&self) -> String {
        let mut out = String::from("<h2>Gate: the tasks' checks against the tests</h2>\n");
        if self.gate.tasks.is_empty() {
            out.push_str("<p>No graded results with checks.</p>\n");
            return out;
        }
        out.push_str(
            "<table>\n<tr><th>Task</th><th>Shown</th><th>True accept</th><th>False accept</th>\
<th>False-accept rate</th><th>True reject</th><th>False escalation</th></tr>\n",
        );
        for t in &self.gate.tasks {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&t.task),
                t.shown(),
                t.true_accept,
                t.false_accept,
                t.false_accept_rate.map_or("-".to_string(), percent),
                t.true_reject,
                t.false_escalation,
            );
        }
        out.push_str("</table>\n");
        if !self.gate.checks.is_empty() {
            out.push_str(
                "<table>\n<tr><th>Check</th><th>Task</th><th>Passed</th><th>Failed</th>\
<th>Passed, test failed</th><th>Failed, test passed</th></tr>\n",
            );
            for c in &self.gate.checks {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
<td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(&c.check),
                    esc(&c.task),
                    c.passed,
                    c.failed,
                    c.passed_but_test_failed,
                    c.failed_but_test_passed,
                );
            }
            out.push_str("</table>\n");
        }
        out
    }
}

/// One test on one route: the verdict, then each assertion with its reason.
fn cell(run: &RouteRun) -> String {
    let facts = format!("{} · {} · {} ms", esc(&run.model), usd(run.cost_usd), run.latency_ms);
    if let Some(error) = &run.error {
        return format!("<td class=\"error\"><b>error</b>: {}<div class=\"small\">{facts}</div></td>", esc(error));
    }
    let (class, verdict) = if run.passed { ("pass", "pass") } else { ("fail", "fail") };
    let score = run.score.map(|s| format!(" {s:.2}")).unwrap_or_default();
    let mut out = format!("<td class=\"{class}\"><b>{verdict}</b>{score}<div class=\"small\">{facts}</div><ul>");
    for g in &run.graded {
        let (class, mark) = match g.passed {
            Some(true) => ("pass", "✓"),
            Some(false) => ("fail", "✗"),
            None => ("ng", "?"),
        };
        let _ = write!(out, "<li class=\"{class}\">{mark} {}: {}</li>", esc(&g.kind), esc(&g.reason));
    }
    out.push_str("</ul></td>");
    out
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tests::{result, sample, Spec};

    #[test]
    fn escapes_every_text() {
        assert_eq!(esc("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;");
        let graded: &[(&str, Option<bool>, &str)] =
            &[("contains", Some(false), "missing \"<script>alert(1)</script>\"")];
        let results =
            [result(Spec { description: Some("<b>bold</b> & co"), route: "evil<route>", graded, ..Spec::default() })];
        let html = Report::new(&results, Some("<img src=x onerror=alert(1)>"), 0.0).to_html();
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>bold"), "{html}");
        assert!(!html.contains("evil<route>"));
        assert!(html.contains("<title>Frugal eval: &lt;img src=x onerror=alert(1)&gt;</title>"));
        assert!(html.contains("missing &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"));
        assert!(html.contains("test 1 (&quot;&lt;b&gt;bold&lt;/b&gt; &amp; co&quot;)"));
        assert!(html.contains(">evil&lt;route&gt;</text>"));
    }

    #[test]
    fn one_self_contained_page_with_chart_and_tables() {
        let html = Report::new(&sample(), Some("Standups"), 0.0042).to_html();
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        assert!(html.ends_with("</body>\n</html>\n"));
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("src=\"http"));
        assert!(!html.contains("url("));
        // Pass-rate bars: local 40 % of 220 px, premium full; cost bars relative to premium's $0.012.
        assert!(html.contains("<rect x=\"130\" y=\"24\" width=\"88.0\" height=\"18\""), "{html}");
        assert!(html.contains("<rect x=\"130\" y=\"52\" width=\"220.0\""));
        assert!(html.contains("<rect x=\"530\" y=\"24\" width=\"9.2\""), "local $0.0005 of $0.012");
        assert!(html.contains(">nothing passed</text>"));
        assert!(html.contains("<td>local</td><td class=\"n\">5</td><td class=\"n\">2</td><td class=\"n\">40.0%</td>"));
        assert!(html.contains("<p>Judge cost (not included above): $0.0042</p>"));
        assert!(html.contains("<td class=\"error\"><b>error</b>: model crashed"));
        assert!(html.contains("<li class=\"fail\">✗ icontains: missing &quot;tom&quot;</li>"));
        assert!(html.contains("<li class=\"ng\">? contains: r</li>"));
        assert!(html.contains("<td>summarize</td><td class=\"n\">13</td>"));
        assert!(html.contains("<td>grounded</td><td>summarize</td>"));
    }
}
