//! Measures the semantic-hit guard on labelled query pairs: hit rates per similarity threshold, with and without it.
//!
//! ```text
//! ORT_DYLIB_PATH=... cargo run -p router_core --example guard_eval -- \
//!     [--model-dir DIR] [--pairs FILE] [--variant fp32|int8|int8_vnni] [--json] [--from T] [--list T]
//! ```
//!
//! `--model-dir` defaults to `$LLM_ROUTER_MODEL_DIR/embedder`, `--pairs` to
//! `data/semantic_guard/pairs.jsonl`. Thresholds run from 0.80 (or `--from`) to 0.97 by 0.01.
//! `--list T` also prints, at threshold T, the near misses the guard lets through and the
//! paraphrases it refuses.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use router_core::cache::guard;
use router_core::embed::{Embedder, EmbedderOptions, Variant};
use serde::{Deserialize, Serialize};

/// The embedder's own token budget (see the model manifest).
const MAX_TOKENS: usize = 128;

#[derive(Deserialize)]
struct Pair {
    a: String,
    b: String,
    kind: Kind,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Paraphrase,
    NearMiss,
}

/// One pair as the cache would see it: `a` cached, `b` the new query.
struct Scored {
    kind: Kind,
    similarity: f32,
    refusal: Option<guard::Refusal>,
}

#[derive(Serialize)]
struct Row {
    threshold: f32,
    paraphrase_hit_rate: f64,
    false_hit_rate: f64,
    paraphrase_hit_rate_without_guard: f64,
    false_hit_rate_without_guard: f64,
}

#[derive(Serialize)]
struct Report {
    pairs: String,
    model: String,
    paraphrases: usize,
    near_misses: usize,
    rows: Vec<Row>,
}

struct Args {
    model_dir: PathBuf,
    pairs: PathBuf,
    variant: Variant,
    json: bool,
    from: u32,
    list: Option<f32>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "guard_eval: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let pairs = load_pairs(&args.pairs)?;
    router_core::onnx::init_runtime(None).map_err(|e| e.to_string())?;
    let opts = EmbedderOptions { variant: args.variant, ..EmbedderOptions::default() };
    let embedder = Embedder::load(&args.model_dir, &opts).map_err(|e| e.to_string())?;
    let scored = score(&embedder, &pairs)?;
    let report = Report {
        pairs: args.pairs.display().to_string(),
        model: embedder.model_path().display().to_string(),
        paraphrases: scored.iter().filter(|s| s.kind == Kind::Paraphrase).count(),
        near_misses: scored.iter().filter(|s| s.kind == Kind::NearMiss).count(),
        rows: (args.from..=97).map(|t| row(&scored, t as f32 / 100.0)).collect(),
    };
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| e.to_string())
            .and_then(|s| writeln!(out, "{s}").map_err(|e| e.to_string()))
    } else {
        print_table(&mut out, &report).map_err(|e| e.to_string())
    };
    written?;
    match args.list {
        Some(threshold) => print_errors(&mut out, &pairs, &scored, threshold).map_err(|e| e.to_string()),
        None => Ok(()),
    }
}

fn parse_args() -> Result<Args, String> {
    let model_root = std::env::var_os("LLM_ROUTER_MODEL_DIR").map(PathBuf::from);
    let mut args = Args {
        model_dir: model_root.map(|root| root.join("embedder")).unwrap_or_default(),
        pairs: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/semantic_guard/pairs.jsonl"),
        variant: Variant::Default,
        json: false,
        from: 80,
        list: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--model-dir" => args.model_dir = PathBuf::from(value()?),
            "--pairs" => args.pairs = PathBuf::from(value()?),
            "--variant" => args.variant = parse_variant(&value()?)?,
            "--list" => args.list = Some(value()?.parse().map_err(|_| "--list needs a number".to_owned())?),
            "--from" => args.from = parse_percent(&value()?)?,
            "--json" => args.json = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.model_dir.as_os_str().is_empty() {
        return Err("no --model-dir and LLM_ROUTER_MODEL_DIR is unset".into());
    }
    Ok(args)
}

fn parse_percent(value: &str) -> Result<u32, String> {
    match value.parse::<f32>() {
        Ok(t) if (0.0..=0.97).contains(&t) => Ok((t * 100.0).round() as u32),
        _ => Err(format!("--from needs a threshold between 0 and 0.97, got {value}")),
    }
}

fn parse_variant(name: &str) -> Result<Variant, String> {
    match name {
        "fp32" => Ok(Variant::Fp32),
        "int8" => Ok(Variant::Int8),
        "int8_vnni" => Ok(Variant::Int8Vnni),
        other => Err(format!("unknown variant {other}")),
    }
}

fn load_pairs(path: &PathBuf) -> Result<Vec<Pair>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1)))
        .collect()
}

fn score(embedder: &Embedder, pairs: &[Pair]) -> Result<Vec<Scored>, String> {
    let texts: Vec<&str> = pairs.iter().flat_map(|p| [p.a.as_str(), p.b.as_str()]).collect();
    let vectors = embedder.embed_batch(&texts, MAX_TOKENS, 32).map_err(|e| e.to_string())?;
    Ok(pairs
        .iter()
        .zip(vectors.chunks(2))
        .map(|(pair, v)| Scored {
            kind: pair.kind,
            similarity: match v {
                [a, b] => a.iter().zip(b).map(|(x, y)| x * y).sum(),
                _ => 0.0,
            },
            refusal: guard::refusal(&pair.b, &pair.a),
        })
        .collect())
}

fn row(scored: &[Scored], threshold: f32) -> Row {
    let rate = |kind: Kind, guarded: bool| {
        let of_kind: Vec<&Scored> = scored.iter().filter(|s| s.kind == kind).collect();
        let hits = of_kind.iter().filter(|s| s.similarity >= threshold && (!guarded || s.refusal.is_none())).count();
        hits as f64 / of_kind.len().max(1) as f64
    };
    Row {
        threshold,
        paraphrase_hit_rate: rate(Kind::Paraphrase, true),
        false_hit_rate: rate(Kind::NearMiss, true),
        paraphrase_hit_rate_without_guard: rate(Kind::Paraphrase, false),
        false_hit_rate_without_guard: rate(Kind::NearMiss, false),
    }
}

fn print_table(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    writeln!(out, "{} paraphrases, {} near misses; model {}", report.paraphrases, report.near_misses, report.model)?;
    writeln!(out, "threshold | paraphrase hits  guard / none | false hits  guard / none")?;
    for r in &report.rows {
        writeln!(
            out,
            "     {:.2} |           {:5.1}% / {:5.1}% |      {:5.1}% / {:5.1}%",
            r.threshold,
            100.0 * r.paraphrase_hit_rate,
            100.0 * r.paraphrase_hit_rate_without_guard,
            100.0 * r.false_hit_rate,
            100.0 * r.false_hit_rate_without_guard,
        )?;
    }
    Ok(())
}

fn print_errors(out: &mut impl Write, pairs: &[Pair], scored: &[Scored], threshold: f32) -> std::io::Result<()> {
    writeln!(out, "\nat {threshold:.2}: near misses served / paraphrases refused")?;
    for (pair, s) in pairs.iter().zip(scored).filter(|(_, s)| s.similarity >= threshold) {
        match (s.kind, s.refusal) {
            (Kind::NearMiss, None) => writeln!(out, "  FALSE HIT {:.3} {:?} ~ {:?}", s.similarity, pair.a, pair.b)?,
            (Kind::Paraphrase, Some(r)) => {
                writeln!(out, "  REFUSED   {:.3} [{}] {:?} ~ {:?}", s.similarity, r.as_str(), pair.a, pair.b)?
            }
            _ => {}
        }
    }
    Ok(())
}
