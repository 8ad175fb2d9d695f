//! An SVG picture of a decision graph, laid out without Graphviz (the
//! playground draws it in the browser, `warden compile --emit svg` on disk):
//! zones, then apis and resources, then endpoints, each followed by its steps
//! left to right, one row per endpoint.

use std::fmt::Write as _;

use crate::dot::{Drawing, drawing};
use crate::graph::Graph;

/// Font size of labels, in pixels.
const FONT: f64 = 11.0;
/// The width of one character of a label (a monospace estimate).
const CHAR_W: f64 = 6.7;
/// The height of one line of a label.
const LINE_H: f64 = 14.0;
/// Padding inside a box, and the gaps between columns and rows.
const PAD: f64 = 8.0;
const COL_GAP: f64 = 28.0;
const ROW_GAP: f64 = 10.0;
/// Labels longer than this are cut, with `…`.
const MAX_CHARS: usize = 60;

/// One box: its label's lines and its size.
struct Node {
    lines: Vec<String>,
    w: f64,
    h: f64,
}

impl Node {
    fn new(label: &str) -> Node {
        let lines: Vec<String> = label
            .lines()
            .map(|l| {
                if l.chars().count() > MAX_CHARS {
                    l.chars().take(MAX_CHARS - 1).collect::<String>() + "…"
                } else {
                    l.to_owned()
                }
            })
            .collect();
        let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        Node { w: chars as f64 * CHAR_W + 2.0 * PAD, h: lines.len().max(1) as f64 * LINE_H + PAD, lines }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The fill and stroke width of a box of `class`. Presentation attributes,
/// not a style sheet: a page whose content security policy refuses inline
/// styles still draws the picture.
fn look(class: &str) -> (&'static str, &'static str) {
    match class {
        "zone" => ("#e8eef7", "1"),
        "group" => ("#f3f0fa", "1"),
        "endpoint" => ("#ffffff", "2"),
        _ => ("#ffffff", "1"),
    }
}

/// Draws `node` with its top-left corner at (x, y), in `class`.
fn draw(out: &mut String, node: &Node, x: f64, y: f64, class: &str) {
    let (fill, stroke_width) = look(class);
    let _ = writeln!(
        out,
        r##"<g class="{class}"><rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" rx="4" fill="{fill}" stroke="#57606a" stroke-width="{stroke_width}"/>"##,
        node.w, node.h
    );
    for (i, line) in node.lines.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            x + PAD,
            y + PAD / 2.0 + (i as f64 + 1.0) * LINE_H - 3.0,
            escape(line)
        );
    }
    let _ = writeln!(out, "</g>");
}

/// An arrow from the right middle of one box to the left middle of another.
fn arrow(out: &mut String, from: (f64, f64), to: (f64, f64)) {
    let _ = writeln!(
        out,
        r##"<path class="edge" d="M{:.1},{:.1} C{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="none" stroke="#8c959f" marker-end="url(#arrow)"/>"##,
        from.0,
        from.1,
        from.0 + COL_GAP / 2.0,
        from.1,
        to.0 - COL_GAP / 2.0,
        to.1,
        to.0 - 2.0,
        to.1
    );
}

/// The graph as an SVG document.
pub fn to_svg(g: &Graph) -> String {
    layout(&drawing(g))
}

fn layout(d: &Drawing) -> String {
    let zones: Vec<Node> = d.zones.iter().map(|z| Node::new(z)).collect();
    let groups: Vec<Node> = d.groups.iter().map(|(label, _)| Node::new(label)).collect();
    // Endpoints in zone, then group order: a group's rows, and a zone's, are together.
    let mut order: Vec<usize> = (0..d.endpoints.len()).collect();
    let zone_of = |e: usize| d.endpoints.get(e).and_then(|ep| d.groups.get(ep.group)).map_or(0, |(_, z)| *z);
    order.sort_by_key(|&e| (zone_of(e), d.endpoints.get(e).map_or(0, |ep| ep.group), e));
    let rows: Vec<(Node, Vec<Node>, usize)> = order
        .iter()
        .filter_map(|&e| d.endpoints.get(e))
        .map(|ep| (Node::new(&ep.label), ep.steps.iter().map(|s| Node::new(s)).collect(), ep.group))
        .collect();
    // Column widths: zones, groups, endpoints, then each step position.
    let widest = |nodes: &mut dyn Iterator<Item = f64>| nodes.fold(0.0_f64, f64::max);
    let steps_max = rows.iter().map(|(_, s, _)| s.len()).max().unwrap_or(0);
    let mut cols = vec![
        widest(&mut zones.iter().map(|n| n.w)),
        widest(&mut groups.iter().map(|n| n.w)),
        widest(&mut rows.iter().map(|(n, _, _)| n.w)),
    ];
    for i in 0..steps_max {
        cols.push(widest(&mut rows.iter().filter_map(|(_, s, _)| s.get(i)).map(|n| n.w)));
    }
    let mut xs = Vec::with_capacity(cols.len());
    let mut x = PAD;
    for w in &cols {
        xs.push(x);
        x += w + COL_GAP;
    }
    let width = x - COL_GAP + PAD;
    let col_x = |i: usize| xs.get(i).copied().unwrap_or(PAD);
    // Rows, each as high as its tallest box and its share of its group's and zone's box.
    let rows_in_group = |gi: usize| rows.iter().filter(|(_, _, g)| *g == gi).count().max(1) as f64;
    let rows_in_zone =
        |z: u32| rows.iter().filter(|(_, _, g)| d.groups.get(*g).is_some_and(|(_, zz)| *zz == z)).count();
    let title_h = LINE_H + 2.0 * PAD;
    let mut y = title_h;
    let mut centers = Vec::with_capacity(rows.len());
    let mut body = String::new();
    for (endpoint, steps, gi) in &rows {
        let zone = d.groups.get(*gi).map_or(0, |(_, z)| *z);
        let share_g = groups.get(*gi).map_or(0.0, |n| n.h / rows_in_group(*gi));
        let share_z = zones.get(zone as usize).map_or(0.0, |n| n.h / rows_in_zone(zone).max(1) as f64);
        let h = steps.iter().map(|n| n.h).fold(endpoint.h, f64::max).max(share_g).max(share_z);
        let cy = y + h / 2.0;
        centers.push(cy);
        draw(&mut body, endpoint, col_x(2), cy - endpoint.h / 2.0, "endpoint");
        let mut prev = (col_x(2) + endpoint.w, cy);
        for (i, step) in steps.iter().enumerate() {
            let sx = col_x(3 + i);
            arrow(&mut body, prev, (sx, cy));
            draw(&mut body, step, sx, cy - step.h / 2.0, "step");
            prev = (sx + step.w, cy);
        }
        y += h + ROW_GAP;
    }
    // Groups centred on their rows; zones on their groups (or below, when empty).
    let mut group_centers = vec![None; groups.len()];
    for (gi, node) in groups.iter().enumerate() {
        let ys: Vec<f64> = rows.iter().zip(&centers).filter(|((_, _, g), _)| *g == gi).map(|(_, cy)| *cy).collect();
        let Some(cy) = mean(&ys) else { continue };
        draw(&mut body, node, col_x(1), cy - node.h / 2.0, "group");
        for ((_, _, g), row_cy) in rows.iter().zip(&centers) {
            if *g == gi {
                arrow(&mut body, (col_x(1) + node.w, cy), (col_x(2), *row_cy));
            }
        }
        if let Some(slot) = group_centers.get_mut(gi) {
            *slot = Some(cy);
        }
    }
    for (zi, node) in zones.iter().enumerate() {
        let mine: Vec<(usize, f64)> = d
            .groups
            .iter()
            .enumerate()
            .filter(|(_, (_, z))| *z as usize == zi)
            .filter_map(|(gi, _)| group_centers.get(gi).copied().flatten().map(|cy| (gi, cy)))
            .collect();
        let cy = match mean(&mine.iter().map(|(_, cy)| *cy).collect::<Vec<_>>()) {
            Some(cy) => cy,
            None => {
                let cy = y + node.h / 2.0;
                y += node.h + ROW_GAP;
                cy
            }
        };
        draw(&mut body, node, col_x(0), cy - node.h / 2.0, "zone");
        for (_, gy) in mine {
            arrow(&mut body, (col_x(0) + node.w, cy), (col_x(1), gy));
        }
    }
    let height = y + PAD;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="decision graph, {}">"#,
        escape(&d.title)
    );
    let _ = writeln!(out, "<title>decision graph, {}</title>", escape(&d.title));
    // Text attributes once, inherited by every label.
    let _ = writeln!(out, r##"<g font-family="monospace" font-size="{FONT}" fill="#1b1f24">"##);
    let _ = writeln!(
        out,
        r##"<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#8c959f"/></marker></defs>"##
    );
    let _ = writeln!(
        out,
        r#"<text class="title" font-weight="bold" x="{PAD}" y="{:.1}">{}</text>"#,
        PAD + LINE_H,
        escape(&d.title)
    );
    out.push_str(&body);
    out.push_str("</g>\n</svg>\n");
    out
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PolicySet, SourceFile};

    struct NoFiles;
    impl crate::Loader for NoFiles {
        fn read(&self, path: &str) -> Result<Vec<u8>, String> {
            Err(format!("no file {path}"))
        }
    }

    fn graph(text: &str) -> Graph {
        let set = PolicySet { files: vec![SourceFile::new("main.warden", text)] };
        match crate::compile(&set, &NoFiles) {
            Ok((g, _)) => g,
            Err(d) => panic!("{d:?}"),
        }
    }

    const POLICY: &str = r#"zone edge {
  issuer "https://idp.example" {
    jwks url "https://idp.example/jwks.json"
    audience "https://api.example"
  }
  require tls
}

api shop in zone edge {
  auth bearer
  route GET "/items/{id}" {
    scope "items:read"
    allow
  }
  route POST "/items" {
    scope "items:write"
    allow when claim.role == "admin"
  }
}
"#;

    #[test]
    fn every_zone_group_endpoint_and_step_is_drawn_once_with_escaped_labels() {
        let g = graph(POLICY);
        let svg = to_svg(&g);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        let d = drawing(&g);
        let steps: usize = d.endpoints.iter().map(|e| e.steps.len()).sum();
        assert_eq!(d.endpoints.len(), 2);
        assert!(steps >= 4, "{steps}");
        // One box per zone, group, endpoint and step; one arrow into each box but the zone.
        assert_eq!(svg.matches("<rect ").count(), 1 + 1 + 2 + steps);
        assert_eq!(svg.matches("class=\"edge\"").count(), 1 + 2 + steps);
        assert_eq!(svg.matches("<g class=\"endpoint\">").count(), 2);
        assert!(svg.contains(">GET /items/{id}</text>") && svg.contains(">POST /items</text>"));
        assert!(svg.contains(">zone edge</text>") && svg.contains(">api shop</text>"));
        assert!(svg.contains("claim.role == &quot;admin&quot;"), "{svg}");
        // No style sheet (a strict content security policy refuses one): every box says its colours.
        assert!(!svg.contains("<style"));
        assert_eq!(svg.matches(r##"stroke="#57606a""##).count(), svg.matches("<rect ").count());
    }

    #[test]
    fn markup_in_a_label_is_text_and_long_labels_are_cut() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let node = Node::new(&"x".repeat(200));
        assert_eq!(node.lines.len(), 1);
        assert_eq!(node.lines[0].chars().count(), MAX_CHARS);
        assert!(node.lines[0].ends_with('…'));
    }
}
