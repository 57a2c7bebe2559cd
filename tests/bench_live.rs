//! `jamflow bench-live --eval CORPUS` (issue 15): the held-out utterances of a small espeak-ng corpus made here
//! through the daemon pipeline in real time, scored against the corpus truth beside the offline sampler and the
//! loudness baseline. Needs what `scripts/setup.sh --dev` installs (espeak-ng, the venv for the test copies).

mod common;
use common::*;

/// 12 distinct sentences with open vowels and bilabials.
fn text_file(dir: &std::path::Path) -> std::path::PathBuf {
    let words = ["apple", "river", "moon", "paper", "window", "garden", "bottle", "music", "yellow", "market"];
    let text: String = (0..12)
        .map(|i| {
            format!(
                "Maybe the {} and a big {} met the {} today.\n%\n",
                words[i % 10],
                words[(i * 3 + 1) % 10],
                words[(i * 7 + 2) % 10]
            )
        })
        .collect();
    let p = dir.join("sentences.txt");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bench_live_eval_prints_live_offline_and_baseline_r_per_chunk() {
    let d = tempfile::tempdir().unwrap();
    let corpus = d.path().join("corpus");
    let text = text_file(d.path());
    let args = ["--hours", "0.01", "--eval-fraction", "0.25", "--engines", "espeak", "--augment", "0"];
    jamflow_ok(
        &[&["corpus", "make", "--out", s(&corpus), "--text", s(&text), "--python", s(&python())], &args[..]].concat(),
    );
    let out = d.path().join("bench");
    let stdout = jamflow_ok(&[
        "bench-live",
        "--seconds",
        "0",
        "--eval",
        s(&corpus),
        "--eval-limit",
        "3",
        "--chunks-ms",
        "400",
        "--threads",
        "2",
        "--out",
        s(&out),
    ]);
    let head = stdout.lines().position(|l| l.trim_start().starts_with("chunk_ms")).expect("a table header");
    let cols: Vec<&str> = stdout.lines().nth(head).unwrap().split_whitespace().collect();
    let row: Vec<&str> = stdout.lines().nth(head + 1).expect("a row").split_whitespace().collect();
    assert_eq!(cols.len(), row.len(), "{stdout}");
    let cell = |name: &str| -> f64 {
        let i = cols.iter().position(|c| *c == name).unwrap_or_else(|| panic!("no column {name}: {stdout}"));
        row[i].parse().unwrap_or_else(|_| panic!("{name} = {:?} is not a number: {stdout}", row[i]))
    };
    assert_eq!(cell("chunk_ms"), 400.0);
    let (live, off, env) = (cell("live_r"), cell("off_r"), cell("env_r"));
    // The model follows the lips of voices it was trained on (espeak-ng) far better than a level meter, and the
    // live path's frames are the ones of the audio it played (a misplaced delay would decorrelate them).
    assert!(off > 0.5 && off > env, "offline r {off}, baseline r {env}: {stdout}");
    assert!(live > 0.3, "live r {live} (offline {off}): {stdout}");
    assert!(cell("p95_ms") > 0.0);
}
