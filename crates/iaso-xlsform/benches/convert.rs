//! `cargo bench -p iaso-xlsform [-- corpus|real|big ...]`: ms per form over the
//! conformance corpus, the real Iaso test forms, and a generated 10,000-row
//! survey (CSV input), with the ratio to pyxform 4.5.0 measured in-process on
//! the same machine (7-9 ms per corpus form, 161 ms and 33 ms for the two real
//! forms). Each figure is the best of several rounds, in CPU time of the
//! benchmark thread where Linux reports it (`/proc/thread-self/schedstat`), so
//! a busy machine does not inflate it; elsewhere in wall time. Set SHARED_DIR to the shared folder (default: ../shared
//! from the repo root, falling back to /work/shared); BENCH_ROUNDS sets the
//! number of rounds (default 5).

use std::path::PathBuf;
use std::time::Instant;

use iaso_xlsform::{convert, ConvertOptions};

fn shared_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SHARED_DIR") {
        return PathBuf::from(d);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidate = here.join("../../../shared");
    if candidate.exists() {
        candidate
    } else {
        PathBuf::from("/work/shared")
    }
}

/// Which parts to run (default: all).
fn wanted(part: &str) -> bool {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    args.is_empty() || args.iter().any(|a| a == part)
}

fn rounds() -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1)
}

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`), if available:
/// unlike wall time, it does not count time spent waiting for a busy machine.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Best-of-rounds milliseconds per conversion of each input (`reps` passes per
/// round): CPU time of this thread where the OS reports it, else wall time.
fn time_ms(inputs: &[(Vec<u8>, String)], reps: usize) -> f64 {
    let opts = ConvertOptions::default();
    let mut best = f64::INFINITY;
    for _ in 0..rounds() {
        let cpu0 = thread_cpu_ns();
        let start = Instant::now();
        for _ in 0..reps {
            for (bytes, name) in inputs {
                let _ = std::hint::black_box(convert(bytes, name, &opts));
            }
        }
        let wall_ms = start.elapsed().as_secs_f64() * 1000.0;
        let ms = match (cpu0, thread_cpu_ns()) {
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e6,
            _ => wall_ms,
        };
        best = best.min(ms / (reps * inputs.len()) as f64);
    }
    best
}

fn big_csv(rows: usize) -> Vec<u8> {
    let mut s = String::from("survey,,,,\n,type,name,label,relevant\n");
    for i in 0..rows {
        match i % 4 {
            0 => s.push_str(&format!(",text,q{i},Question {i},\n")),
            1 => s.push_str(&format!(",integer,q{i},Number {i},${{q{}}} != ''\n", i - 1)),
            2 => s.push_str(&format!(",select_one yn,q{i},Pick {i},\n")),
            _ => s.push_str(&format!(",note,q{i},Hello ${{q{}}},\n", i - 3)),
        }
    }
    s.push_str("choices,,,,\n,list_name,name,label,\n,yn,yes,Yes,\n,yn,no,No,\n");
    s.into_bytes()
}

fn main() {
    let shared = shared_dir();
    if wanted("corpus") {
        let corpus = shared.join("conformance/xlsform/corpus");
        let mut inputs: Vec<(Vec<u8>, String)> = Vec::new();
        if let Ok(text) = std::fs::read_to_string(corpus.join("cases.jsonl")) {
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                if let Some(f) = v.get("file").and_then(|f| f.as_str()) {
                    if let Ok(b) = std::fs::read(corpus.join(f)) {
                        inputs.push((b, "data.xlsx".to_string()));
                    }
                }
            }
        }
        if inputs.is_empty() {
            println!("corpus: not found under {}", corpus.display());
        } else {
            let ms = time_ms(&inputs, 3);
            println!(
                "corpus: {} forms, {ms:.3} ms per form (pyxform 4.5.0: 7-9 ms => {:.0}x-{:.0}x)",
                inputs.len(),
                7.0 / ms,
                9.0 / ms
            );
        }
    }
    if wanted("real") {
        for (file, py_ms) in [
            ("seed-data-command-form-i18n.xlsx", 161.0),
            ("seed-data-command-cvs_survey.xlsx", 33.0),
        ] {
            let p = shared.join("reference/iaso-data/testdata").join(file);
            match std::fs::read(&p) {
                Ok(b) => {
                    let ms = time_ms(&[(b, file.to_string())], 20);
                    println!(
                        "{file}: {ms:.3} ms (pyxform {py_ms} ms => {:.0}x)",
                        py_ms / ms
                    );
                }
                Err(_) => println!("{file}: not found"),
            }
        }
    }
    if wanted("big") {
        let big = big_csv(10_000);
        let ok = convert(&big, "big.csv", &ConvertOptions::default()).map(|c| c.xform.len());
        let ms = time_ms(&[(big, "big.csv".to_string())], 1);
        println!("generated 10,000-row survey: {ms:.1} ms (xform bytes: {ok:?})");
    }
}
