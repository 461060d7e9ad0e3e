//! The guide's pictures are up to date: each DOT file committed under `docs/img/` is what
//! `examples/guide_pictures.rs` makes now. A change to one of the graphs, or to
//! `Tape::to_dot`, fails here until the pictures are regenerated (the command is in
//! `docs/img/README.md`).

#[path = "../examples/guide_pictures.rs"]
mod guide_pictures;

use guide_pictures::{DIR, for_picture, micrograd_expression, pictures};
use std::path::Path;
use tapegrad::Tape;

#[test]
fn the_committed_pictures_are_regenerated() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIR);
    let regenerate = "regenerate them: cargo run --example guide_pictures, then \
                      for f in docs/img/*.dot; do dot -Tsvg \"$f\" -o \"${f%.dot}.svg\"; done";
    for (name, dot) in pictures() {
        let path = dir.join(format!("{name}.dot"));
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("{}: {error}; {regenerate}", path.display()));
        assert!(
            committed == dot,
            "{} is out of date; {regenerate}",
            path.display()
        );
        let svg = dir.join(format!("{name}.svg"));
        let svg = std::fs::read_to_string(&svg)
            .unwrap_or_else(|error| panic!("{}: {error}; {regenerate}", svg.display()));
        // The SVG was drawn from this DOT: one node per box, each box's first line in it.
        let boxes = dot.lines().filter(|line| line.contains("[label=")).count();
        assert_eq!(svg.matches("class=\"node\"").count(), boxes, "{name}.svg");
        let first_lines = dot
            .lines()
            .filter_map(|line| line.split_once("[label=\"")?.1.split_once("\\l"))
            .map(svg_text);
        for first in first_lines {
            assert!(
                svg.contains(&first),
                "{name}.svg lacks {first:?}; {regenerate}"
            );
        }
    }
}

#[test]
fn the_pictures_are_drawn_without_source_lines() {
    let tape = Tape::new();
    let g = micrograd_expression(&tape);
    let grads = g.backward();
    let original = tape.to_dot(Some(&grads));
    let picture = for_picture(&original);
    assert!(original.contains("tooltip=") && !picture.contains("tooltip="));
    // Nothing else changes: the same boxes, the same edges.
    let without_tooltips: Vec<String> = original
        .lines()
        .map(|line| match line.split_once(", tooltip=\"") {
            Some((head, tail)) => {
                format!("{head}{}", &tail[tail.find("\", style=").unwrap() + 1..])
            }
            None => line.to_string(),
        })
        .collect();
    assert_eq!(picture.lines().collect::<Vec<_>>(), without_tooltips);
    // micrograd's README: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773.
    assert!(picture.contains("g = add(n24, n25)\\lshape []\\lvalue 24.70408163265306\\l"));
    assert!(picture.contains("a\\lparam\\lshape []\\lvalue -4.0\\lgrad 138.83381924198252\\l"));
    assert!(picture.contains("b\\lparam\\lshape []\\lvalue 2.0\\lgrad 645.5772594752186\\l"));
}

/// `label` as Graphviz writes it into an SVG's text: XML-escaped, and `-` as `&#45;`.
fn svg_text((label, _): (&str, &str)) -> String {
    label
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('-', "&#45;")
}
