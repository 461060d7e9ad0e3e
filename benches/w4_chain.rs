//! W4, the deep chain: `x = 0.5`, then N times `x = x·1.0000001 + 0.0000001`, and the backward
//! pass from the end: 2N + 1 scalar nodes, for N = 10⁴, 10⁵ and 10⁶. It measures the cost of a
//! node itself, with almost no arithmetic in it.
//!
//! Two modes:
//!
//! - `cargo bench -p tapegrad-benches --bench w4_chain`: criterion times `forward` (recording the chain on a
//!   cleared tape) and `forward_backward`, per node;
//! - `W4_MEMORY=10000000 cargo bench -p tapegrad-benches --bench w4_chain`: builds one chain of that N on a new
//!   tape, runs the backward pass, and prints the nanoseconds per node of each pass and the peak
//!   memory per node (growth of the resident set, from `/proc/self/status`; Linux only).

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group};
use std::time::{Duration, Instant};
use tapegrad::{Tape, Var};

const LINKS: [usize; 3] = [10_000, 100_000, 1_000_000];
/// From this length on, take the fewest samples criterion allows (10), in flat sampling mode.
const LONG: usize = 1_000_000;
const SCALE: f64 = 1.0000001;
const SHIFT: f64 = 0.0000001;

/// Records the chain of `links` links on `tape` and returns its end.
fn chain(tape: &Tape, links: usize) -> Var<'_> {
    let mut x = tape.param(0.5);
    for _ in 0..links {
        x = x * SCALE + SHIFT;
    }
    x
}

/// The number of nodes a chain of `links` links records.
fn nodes(links: usize) -> usize {
    2 * links + 1
}

/// Benchmarks, for each chain length, `step` on a reused tape, per node.
fn bench_lengths<O>(c: &mut Criterion, group: &str, step: impl Fn(&Tape, usize) -> O) {
    let mut group = c.benchmark_group(format!("w4_chain/{group}"));
    let mut tape = Tape::new();
    for links in LINKS {
        group.throughput(Throughput::Elements(nodes(links) as u64));
        if links >= LONG {
            group.sample_size(10).sampling_mode(SamplingMode::Flat);
        }
        group.bench_function(BenchmarkId::from_parameter(links), |b| {
            b.iter(|| {
                tape.clear();
                step(&tape, links)
            });
        });
    }
    group.finish();
}

fn deep_chain(c: &mut Criterion) {
    bench_lengths(c, "forward", |tape, links| {
        chain(tape, links).value().item()
    });
    bench_lengths(c, "forward_backward", |tape, links| {
        chain(tape, links).backward()
    });
}

criterion_group!(benches, deep_chain);

/// Builds and differentiates one chain of `links` links, and prints the time and peak memory
/// it takes per node.
fn measure_memory(links: usize) {
    let rss_before = status_bytes("VmRSS");
    let tape = Tape::new();
    let start = Instant::now();
    let end = chain(&tape, links);
    let forward = start.elapsed();
    let start = Instant::now();
    let _grads = end.backward(); // dropped after the peak is read
    let backward = start.elapsed();
    let peak_growth = status_bytes("VmHWM") - rss_before;
    let nodes = tape.len();
    let per_node = |time: Duration| time.as_secs_f64() * 1e9 / nodes as f64;
    println!("w4 chain of {links} links: {nodes} nodes");
    println!("  forward:  {:.1} ns/node", per_node(forward));
    println!("  backward: {:.1} ns/node", per_node(backward));
    println!(
        "  peak memory growth: {:.1} bytes/node ({} MiB)",
        peak_growth as f64 / nodes as f64,
        peak_growth >> 20
    );
}

/// A memory figure of this process from `/proc/self/status` (`VmRSS`, `VmHWM`, …), in bytes.
fn status_bytes(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux)");
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: usize = line
        .trim()
        .strip_suffix(" kB")
        .and_then(|kib| kib.parse().ok())
        .unwrap_or_else(|| panic!("unexpected {field} line: {line}"));
    kib * 1024
}

fn main() {
    match std::env::var("W4_MEMORY") {
        Ok(links) => measure_memory(links.parse().expect("W4_MEMORY: a number of links")),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
