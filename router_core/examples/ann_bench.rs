//! ANN benchmark of the semantic cache's index: build time, lookup latency, recall@10, memory.
//!
//! Driven by `benches/run.py`, which writes the vectors and the exact top-10 ground truth:
//! `ann_bench BASE.f32 QUERIES.f32 TRUTH.u32 DIM M EF_ADD EF_SEARCH` prints one JSON line.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use router_core::cache::semantic::{SemanticCache, SemanticOptions};
use router_core::cache::CachedAnswer;

const K: usize = 10;

fn read_f32(path: &str) -> Vec<f32> {
    let raw = std::fs::read(path).expect("read vectors");
    raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn read_u32(path: &str) -> Vec<u32> {
    let raw = std::fs::read(path).expect("read truth");
    raw.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, queries, truth, dim, m, ef_add, ef_search] = args.as_slice() else {
        eprintln!("usage: ann_bench BASE.f32 QUERIES.f32 TRUTH.u32 DIM M EF_ADD EF_SEARCH");
        std::process::exit(2);
    };
    let dim: usize = dim.parse().expect("dim");
    let base = read_f32(base);
    let queries = read_f32(queries);
    let truth = read_u32(truth);
    let n = base.len() / dim;
    let opts = SemanticOptions {
        dim,
        max_entries_per_tenant: n,
        connectivity: m.parse().expect("M"),
        expansion_add: ef_add.parse().expect("ef_add"),
        expansion_search: ef_search.parse().expect("ef_search"),
        // One tenant holding every vector: the budget is the whole index, whatever it weighs.
        max_tenants: 1,
        max_bytes: usize::MAX,
    };
    let cache = SemanticCache::new(opts);
    let answer = CachedAnswer { tier: 1, provider: "p".into(), model: "m".into(), payload: String::new() };
    let ttl = Duration::from_secs(86_400);
    let mut ids = std::collections::HashMap::with_capacity(n);
    let started = Instant::now();
    for (i, v) in base.chunks_exact(dim).enumerate() {
        let id = cache.insert("bench", v, "", answer.clone(), ttl, 0).expect("insert");
        ids.insert(id, i as u32);
    }
    let build_s = started.elapsed().as_secs_f64();

    let mut latencies = Vec::new();
    let mut found = 0usize;
    for (q, v) in queries.chunks_exact(dim).enumerate() {
        let t = Instant::now();
        let hits = cache.search_ids("bench", v, K);
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
        let expected = &truth[q * K..(q + 1) * K];
        found += hits.iter().filter(|(id, _)| ids.get(id).is_some_and(|i| expected.contains(i))).count();
    }
    latencies.sort_by(f64::total_cmp);
    let nq = queries.len() / dim;
    println!(
        "{{\"n\": {n}, \"build_s\": {build_s:.2}, \"lookup_us_p50\": {:.1}, \"lookup_us_p99\": {:.1}, \"recall_at_10\": {:.4}, \"memory_bytes\": {}, \"memory_per_entry\": {:.1}}}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        found as f64 / (nq * K) as f64,
        cache.memory_bytes(),
        cache.memory_bytes() as f64 / n as f64,
    );
}
