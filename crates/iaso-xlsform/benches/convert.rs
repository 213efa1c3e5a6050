//! `cargo bench -p iaso-xlsform`: ms per form over the conformance corpus, the
//! real Iaso test forms, and a generated 10,000-row survey (CSV input).
//! Set SHARED_DIR to the shared folder (default: ../shared from the repo root,
//! falling back to /work/shared).

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

fn time_one(bytes: &[u8], name: &str, reps: usize) -> f64 {
    let opts = ConvertOptions::default();
    let start = Instant::now();
    for _ in 0..reps {
        let _ = std::hint::black_box(convert(bytes, name, &opts));
    }
    start.elapsed().as_secs_f64() * 1000.0 / reps as f64
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
    let corpus = shared.join("conformance/xlsform/corpus");
    let mut files: Vec<PathBuf> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(corpus.join("cases.jsonl")) {
        for line in text.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(f) = v.get("file").and_then(|f| f.as_str()) {
                    files.push(corpus.join(f));
                }
            }
        }
    }
    if !files.is_empty() {
        let data: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
        let opts = ConvertOptions::default();
        let reps = 5;
        let start = Instant::now();
        for _ in 0..reps {
            for d in &data {
                let _ = std::hint::black_box(convert(d, "data.xlsx", &opts));
            }
        }
        let per = start.elapsed().as_secs_f64() * 1000.0 / (reps * data.len()) as f64;
        println!(
            "corpus: {} forms, {per:.3} ms per form (pyxform 4.5.0: 7-9 ms => {:.0}x)",
            data.len(),
            8.0 / per
        );
    } else {
        println!("corpus: not found under {}", corpus.display());
    }
    for (file, py_ms) in [
        ("seed-data-command-form-i18n.xlsx", 161.0),
        ("seed-data-command-cvs_survey.xlsx", 33.0),
    ] {
        let p = shared.join("reference/iaso-data/testdata").join(file);
        match std::fs::read(&p) {
            Ok(b) => {
                let ms = time_one(&b, file, 20);
                println!(
                    "{file}: {ms:.3} ms (pyxform {py_ms} ms => {:.0}x)",
                    py_ms / ms
                );
            }
            Err(_) => println!("{file}: not found"),
        }
    }
    let big = big_csv(10_000);
    let ms = time_one(&big, "big.csv", 3);
    let ok = convert(&big, "big.csv", &ConvertOptions::default()).map(|c| c.xform.len());
    println!("generated 10,000-row survey: {ms:.1} ms (xform bytes: {ok:?})");
}
