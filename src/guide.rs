// The guide to backpropagation: one doc-only module per section of the article the project
// started from, each filled from a Markdown chapter in docs/guide/ so that every code block in
// it is compiled and run by `cargo test` (as clap's and serde's tutorials are). The only code
// here is a test that no chapter is left out.
//
// Pictures: a chapter shows `![…][chain-rule-svg]` and defines that label at its end with the
// path from docs/guide/ (right on GitHub and in an editor). rustdoc copies no images, so the
// label is defined here first, with the path from the rendered page under target/doc/ back to
// docs/img/ in the repository; in Markdown the first definition of a label wins. It works for
// `cargo doc` with the default target directory.
#![doc = "[micrograd-svg]: ../../../../docs/img/micrograd.svg\n"]
#![doc = include_str!("../docs/guide/README.md")]

#[doc = include_str!("../docs/guide/00-gradient-descent.md")]
pub mod gradient_descent {}

#[doc = include_str!("../docs/guide/01-gradient.md")]
pub mod gradient {}

#[doc = "[chain-rule-svg]: ../../../../../docs/img/chain-rule.svg\n"]
#[doc = include_str!("../docs/guide/02-chain-rule.md")]
pub mod chain_rule {}

#[doc = include_str!("../docs/guide/03-total-loss.md")]
pub mod total_loss {}

#[doc = "[lecture-svg]: ../../../../../docs/img/lecture.svg\n"]
#[doc = include_str!("../docs/guide/04-worked-neuron.md")]
pub mod worked_neuron {}

#[doc = include_str!("../docs/guide/05-forward-pass.md")]
pub mod forward_pass {}

#[doc = include_str!("../docs/guide/06-backward-pass.md")]
pub mod backward_pass {}

#[doc = include_str!("../docs/guide/07-summary.md")]
pub mod summary {}

#[doc = "[perceptron-svg]: ../../../../../docs/img/perceptron.svg\n"]
#[doc = include_str!("../docs/guide/08-perceptron.md")]
pub mod perceptron {}

#[doc = include_str!("../docs/guide/09-higher-order.md")]
pub mod higher_order {}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    /// How many code blocks of `markdown` rustdoc runs: those whose opening fence names no
    /// language, or Rust.
    fn rust_blocks(markdown: &str) -> usize {
        let mut inside = false;
        let mut count = 0;
        for line in markdown.lines().filter(|line| line.starts_with("```")) {
            if !inside && matches!(&line[3..], "" | "rust") {
                count += 1;
            }
            inside = !inside;
        }
        count
    }

    #[test]
    fn rust_blocks_skips_other_languages_and_closing_fences() {
        assert_eq!(rust_blocks("```sh\nls\n```\n```text\nx\n```\n"), 0);
        assert_eq!(rust_blocks("```\nlet x = 1;\n```\n```sh\nls\n```\n"), 1);
    }

    /// A chapter left out of this file would not be rendered, and its code would never run.
    #[test]
    fn every_chapter_is_included_and_has_code_that_runs() {
        let this_file = include_str!("guide.rs");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/guide");
        let mut chapters = Vec::new();
        for entry in fs::read_dir(&dir).expect("docs/guide/ exists") {
            let path = entry.expect("a readable directory").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".md") {
                continue;
            }
            let included = format!("include_str!(\"../docs/guide/{name}\")");
            assert!(
                this_file.contains(&included),
                "{name} is not included in src/guide.rs"
            );
            let text = fs::read_to_string(&path).expect("a readable chapter");
            assert!(rust_blocks(&text) > 0, "{name} has no Rust code block");
            chapters.push(name);
        }
        // The introduction, one chapter for each of the article's § 0–§ 8, and higher order.
        assert_eq!(chapters.len(), 11, "{chapters:?}");
    }
}
