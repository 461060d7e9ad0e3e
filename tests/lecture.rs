//! `examples/lecture.rs`, the article's § 4–§ 6 network: the products `∂z/∂w · ∂l/∂z` it prints
//! are the true gradients. The reference here is computed without tapegrad: the same network
//! written with plain `f64`s, differentiated by central differences.

#[path = "../examples/lecture.rs"]
mod lecture;

use lecture::{NAMES, T, THETA, X, lecture, report};

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The network's loss as plain arithmetic: `l = ½((σ(z′) − t1)² + (σ(z″) − t2)²)`, with
/// `z′ = a·w3 + b3`, `z″ = a·w4 + b4`, `a = σ(x1·w1 + x2·w2 + b)`.
fn loss(theta: [f64; 7]) -> f64 {
    let [w1, w2, b, w3, b3, w4, b4] = theta;
    let a = sigmoid(X[0] * w1 + X[1] * w2 + b);
    let (y1, y2) = (sigmoid(a * w3 + b3), sigmoid(a * w4 + b4));
    0.5 * ((y1 - T[0]).powi(2) + (y2 - T[1]).powi(2))
}

/// `∂l/∂θᵢ` by a central difference with step 1e-5 (truncation ~1e-11 here, rounding ~1e-11).
fn reference_gradient(i: usize) -> f64 {
    let h = 1e-5;
    let (mut up, mut down) = (THETA, THETA);
    up[i] += h;
    down[i] -= h;
    (loss(up) - loss(down)) / (up[i] - down[i])
}

/// The table's rows as printed: the weight's name and its `product` column.
fn printed_products(text: &str) -> Vec<(String, f64)> {
    let table = text
        .split("for every weight")
        .nth(1)
        .expect("the example prints the table of products");
    table
        .lines()
        .skip(2) // the rest of the title line, and the column header
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            // … ∂l/∂z, product, tapegrad, finite diff., check: the product is the fourth from the end.
            let product = cells[cells.len() - 4].parse().expect("a number");
            (cells[0].to_string(), product)
        })
        .collect()
}

#[test]
fn the_printed_products_are_the_gradients() {
    let printed = printed_products(&report(&lecture()));
    let names: Vec<&str> = printed.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, NAMES);
    for (i, (name, product)) in printed.iter().enumerate() {
        let reference = reference_gradient(i);
        // Printed with 10 decimals: off by at most 5e-11, plus the reference's own error.
        assert!(
            (product - reference).abs() < 2e-10,
            "∂l/∂{name}: printed {product}, reference {reference}"
        );
    }
}

#[test]
fn every_row_says_ok() {
    let text = report(&lecture());
    let rows: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("check"))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 7);
    assert!(rows.iter().all(|row| row.ends_with("  ok")), "{text}");
}

#[test]
fn the_forward_factor_is_the_input_and_the_backward_factor_is_shared_by_a_neuron() {
    let lecture = lecture();
    let a = sigmoid(4.0); // z = 1·1 + (−1)·(−2) + 1 = 4
    assert_eq!(lecture.forward_values[0], ("z", 4.0));
    let forward: Vec<f64> = lecture.rows.iter().map(|row| row.forward).collect();
    assert_eq!(forward[..3], [X[0], X[1], 1.0]); // z = x1·w1 + x2·w2 + 1·b
    assert_eq!([forward[4], forward[6]], [1.0, 1.0]); // the biases b3, b4
    for i in [3, 5] {
        // w3 and w4 multiply a = σ(z); σ may round differently from this formula by an ulp.
        assert!(
            (forward[i] - a).abs() < 1e-15,
            "∂z/∂{} = {}",
            NAMES[i],
            forward[i]
        );
    }
    let f = lecture.factors;
    let backward: Vec<f64> = lecture.rows.iter().map(|row| row.backward).collect();
    assert_eq!(
        backward,
        [
            f.z,
            f.z,
            f.z,
            f.z_prime,
            f.z_prime,
            f.z_double_prime,
            f.z_double_prime
        ]
    );
}

#[test]
fn the_hand_computed_backward_pass_is_tapegrads_to_the_bit() {
    // backward() applies the same multiplications in the same order, so nothing is rounded
    // differently: ∂l/∂z′, ∂l/∂z″, ∂l/∂z and every ∂l/∂w agree exactly.
    let lecture = lecture();
    assert_eq!(lecture.factors, lecture.tapegrad_factors);
    for row in &lecture.rows {
        assert_eq!(row.product, row.tapegrad, "∂l/∂{}", row.weight);
    }
}

#[test]
fn the_finite_differences_agree_with_the_products() {
    for row in &lecture().rows {
        assert!(
            (row.numeric - row.product).abs() < 1e-9,
            "∂l/∂{}: finite difference {}, product {}",
            row.weight,
            row.numeric,
            row.product
        );
    }
}

#[test]
fn the_guide_shows_the_table_the_example_prints() {
    // docs/guide/07-summary.md quotes the table; it must not drift from the example's output.
    let chapter = include_str!("../docs/guide/07-summary.md");
    let text = report(&lecture());
    let table_start = text.find("∂l/∂w = ∂z/∂w · ∂l/∂z for every weight").unwrap();
    let table = &text[table_start..];
    assert!(
        chapter.contains(table),
        "docs/guide/07-summary.md should quote, verbatim:\n{table}"
    );
}
