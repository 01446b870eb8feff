//! chemomech-report: one self-contained HTML file (inline SVG and PNG, no
//! network) from sections of figures and tables. Charts and images are pure
//! functions of numbers ([`charts`], [`raster`]); the pipeline's `report`
//! stage gathers the numbers from the stage outputs and writes the file.
//!
//! ```
//! use chemomech_report::{render, Body, Figure, Report, Section};
//! let svg = chemomech_report::charts::histogram("ESD", &[5.0, 6.0, 7.5], 4, "ESD (µm)", chemomech_report::charts::PALETTE[0]).unwrap();
//! let r = Report {
//!     title: "demo".into(),
//!     subtitle: String::new(),
//!     sections: vec![Section { id: "p".into(), title: "Particles".into(), intro: String::new(), figures: vec![Figure::new("esd", "ESD", Body::Svg(svg))] }],
//! };
//! let html = render(&r);
//! assert!(html.contains("<svg") && html.contains("data-figure=\"esd\""));
//! ```

pub mod charts;
pub mod raster;

/// What a figure shows.
#[derive(Debug, Clone)]
pub enum Body {
    /// An SVG chart, as SVG text.
    Svg(String),
    /// A PNG data URI shown at `width` CSS pixels, with a caption bar (SVG) below.
    Image {
        /// The PNG as a `data:` URI.
        uri: String,
        /// Display width in CSS pixels.
        width: usize,
        /// Alternative text.
        alt: String,
        /// Caption bar (SVG text) shown below the image, if any.
        colorbar: Option<String>,
    },
    /// Ready-made HTML (tables).
    Html(String),
}

/// One figure with its caption and the CSV of its data (relative link).
#[derive(Debug, Clone)]
pub struct Figure {
    /// Identifier, used in the HTML `id` and `data-figure` attributes.
    pub id: String,
    /// Heading shown above the figure.
    pub title: String,
    /// Caption text (HTML-escaped); empty for none.
    pub caption: String,
    /// What the figure shows.
    pub body: Body,
    /// Relative link to the CSV of the figure's data.
    pub csv: Option<String>,
    /// Spans the whole row.
    pub wide: bool,
}

impl Figure {
    /// A figure with no caption, CSV link or full-row span.
    pub fn new(id: &str, title: &str, body: Body) -> Self {
        Self { id: id.into(), title: title.into(), caption: String::new(), body, csv: None, wide: false }
    }
    /// Sets the caption.
    pub fn caption(mut self, c: impl Into<String>) -> Self {
        self.caption = c.into();
        self
    }
    /// Sets the relative link to the figure's CSV.
    pub fn csv(mut self, rel: impl Into<String>) -> Self {
        self.csv = Some(rel.into());
        self
    }
    /// Makes the figure span the whole row.
    pub fn wide(mut self) -> Self {
        self.wide = true;
        self
    }
}

/// A titled group of figures.
#[derive(Debug, Clone)]
pub struct Section {
    /// Identifier, used as the HTML anchor.
    pub id: String,
    /// Heading of the section.
    pub title: String,
    /// Short text (HTML-escaped) above the figures.
    pub intro: String,
    /// The figures, in order.
    pub figures: Vec<Figure>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    /// Title of the page and its header.
    pub title: String,
    /// Subtitle shown in the header.
    pub subtitle: String,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An HTML table (cells escaped).
pub fn table_html(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in headers {
        s.push_str(&format!("<th>{}</th>", escape(h)));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for c in r {
            s.push_str(&format!("<td>{}</td>", escape(c)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

const STYLE: &str = r#"
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
header{background:#1f3b57;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:24px}header p{margin:0;opacity:.85}
nav{padding:8px 28px;background:#e8edf2;font-size:14px}nav a{margin-right:14px;color:#1f3b57}
section{padding:10px 28px 18px}h2{border-bottom:2px solid #1f3b57;padding-bottom:4px}
.intro{max-width:1000px;font-size:14px;line-height:1.45}
.grid{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
figure{background:#fff;border:1px solid #d5dbe1;border-radius:6px;margin:0;padding:10px;max-width:100%}
figure.wide{flex-basis:100%}
figure h3{margin:0 0 6px;font-size:15px}figcaption{font-size:13px;color:#444;max-width:660px;margin-top:6px}
figure img{image-rendering:pixelated;display:block;max-width:100%}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccd3da;padding:3px 8px;text-align:left}th{background:#eef2f6}
pre{font-size:12px;white-space:pre-wrap;word-break:break-all;max-width:1200px}
"#;

/// Renders the report as one HTML document. A small script counts the
/// figures that have content and records it on `<html data-figures-ok>`
/// (used by the headless-browser test).
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.push_str(&format!("<title>{}</title><style>{STYLE}</style></head><body>\n", escape(&r.title)));
    h.push_str(&format!("<header><h1>{}</h1><p>{}</p></header>\n<nav>", escape(&r.title), escape(&r.subtitle)));
    for s in &r.sections {
        h.push_str(&format!("<a href=\"#{}\">{}</a>", escape(&s.id), escape(&s.title)));
    }
    h.push_str("</nav>\n");
    for s in &r.sections {
        h.push_str(&format!("<section id=\"{}\"><h2>{}</h2>", escape(&s.id), escape(&s.title)));
        if !s.intro.is_empty() {
            h.push_str(&format!("<p class=\"intro\">{}</p>", escape(&s.intro)));
        }
        h.push_str("<div class=\"grid\">");
        for f in &s.figures {
            h.push_str(&format!(
                "<figure class=\"fig{}\" id=\"fig-{}\" data-figure=\"{}\"><h3>{}</h3>",
                if f.wide { " wide" } else { "" },
                escape(&f.id),
                escape(&f.id),
                escape(&f.title)
            ));
            match &f.body {
                Body::Svg(svg) => {
                    h.push_str(svg.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim())
                }
                Body::Image { uri, width, alt, colorbar } => {
                    h.push_str(&format!("<img src=\"{uri}\" width=\"{width}\" alt=\"{}\">", escape(alt)));
                    if let Some(cb) = colorbar {
                        h.push_str(cb.trim_start_matches("<?xml version=\"1.0\" encoding=\"UTF-8\"?>").trim());
                    }
                }
                Body::Html(x) => h.push_str(x),
            }
            if !f.caption.is_empty() || f.csv.is_some() {
                h.push_str("<figcaption>");
                h.push_str(&escape(&f.caption));
                if let Some(c) = &f.csv {
                    h.push_str(&format!(" <a href=\"{}\">data (CSV)</a>", escape(c)));
                }
                h.push_str("</figcaption>");
            }
            h.push_str("</figure>\n");
        }
        h.push_str("</div></section>\n");
    }
    h.push_str(
        "<script>(function(){var f=document.querySelectorAll('figure.fig');var ok=0;f.forEach(function(e){if(e.querySelector('svg,img,table,pre'))ok++;});document.documentElement.setAttribute('data-figures',String(f.length));document.documentElement.setAttribute('data-figures-ok',String(ok));})();</script>\n",
    );
    h.push_str("</body></html>\n");
    h
}
