//! `jamflow bench-say`: request-to-first-speech-frame of jamflowd's `/say` (issue 12: <= 400 ms p95 for a 12-word
//! sentence on 2 cores with the default config), through the daemon's own live source and speech engine.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use jamflow::daemon::{self, config::InputKind, Config};
use jamflow::live::stats::quantile;
use jamflow::live::{bench, LiveStats};

/// Target of the issue (seconds, p95).
const TARGET_P95_S: f64 = 0.4;

#[derive(clap::Args, Debug)]
pub struct BenchSayArgs {
    /// jamflowd configuration to measure (its [speech], [model] and [portrait]); default: the daemon's defaults
    /// with the default package of engines/ and the demo portrait.
    #[arg(long)]
    config: Option<PathBuf>,
    /// The sentence said (default: 12 words).
    #[arg(long, default_value = "Welcome to our museum, the new exhibition opens on the second floor.")]
    text: String,
    /// Requests measured.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    runs: u64,
    /// Skip the renderer (motion only, as a robot face runs).
    #[arg(long)]
    motion_only: bool,
}

pub fn bench_say(a: &BenchSayArgs) -> Result<()> {
    let mut cfg = match &a.config {
        Some(p) => Config::load(p)?,
        None => {
            let root = super::repo_root();
            let mut c = Config::default();
            c.model.package = daemon::default_package(&root);
            c.portrait.image = Some(root.join(super::DEMO_PORTRAIT));
            c
        }
    };
    cfg.input.kind = InputKind::None; // text mode only: nothing else competes with the speech thread
    if a.motion_only {
        cfg.outputs = Default::default();
    }
    let stats = Arc::new(LiveStats::default());
    let mut source = daemon::live_source(&cfg, stats).context("starting the live source")?;
    println!(
        "bench-say: {:?} ({} words), {} runs, {}",
        a.text,
        a.text.split_whitespace().count(),
        a.runs,
        if a.motion_only { "motion only" } else { "rendering every frame (no encoder)" }
    );
    let bar = indicatif::ProgressBar::new(a.runs);
    let r = bench::say_latency(&mut source, &a.text, a.runs as usize, |i| bar.set_position(i as u64))?;
    bar.finish_and_clear();
    let q = |p: f64| quantile(&r.first_frame_s, p).context("no run measured");
    let (p50, p95, max) = (q(0.5)?, q(0.95)?, q(1.0)?);
    println!(
        "request -> first speech frame: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; p95 / target ({:.0} ms) = {:.2}",
        p50 * 1e3,
        p95 * 1e3,
        max * 1e3,
        TARGET_P95_S * 1e3,
        p95 / TARGET_P95_S
    );
    println!("played to its end: {:.2} s of speech, {} gap frame(s) between its pieces", r.utterance_s, r.gap_frames);
    Ok(())
}
