//! `jamflow bench-live`: throughput of the live path (unpaced), then real-time runs through the daemon pipeline
//! per chunk size and look-ahead: output delay, mic-to-frame latency p50/p95/p99, and with `--eval CORPUS` the
//! lip-sync r of the live path beside the offline sampler and the loudness baseline on the same held-out frames
//! (the trade-off table of docs/daemon.md).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};

use super::live_eval::{self, EvalSet, MotionTap, Offline};
use super::{demo_speech, load, repo_root, Precision, RuntimeArgs, Target, DEMO_PORTRAIT};
use jamflow::daemon::{self, config::InputKind, Config};
use jamflow::live::{self, bench, OUTPUT_FPS};
use jamflow::stream::{pipeline::EncoderSettings, Mp4Output};

#[derive(clap::Args)]
pub struct BenchLiveArgs {
    /// Model package (default: the shipped default model).
    #[arg(long)]
    package: Option<PathBuf>,
    /// A second package to compare per-window time with (e.g. the teacher of a distilled student).
    #[arg(long)]
    compare: Option<PathBuf>,
    /// Seconds of speech for the throughput run (0: skip it).
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Seconds of each real-time latency run on the demo speech (0: skip them; with --eval the runs play the
    /// eval set instead, as long as it is).
    #[arg(long, default_value_t = 20.0)]
    realtime_s: f64,
    /// Chunk sizes (ms, multiples of 40) of the real-time latency runs, one run each per look-ahead; `[streaming]`
    /// defaults for history, look-ahead and margin unless given below.
    #[arg(long, value_delimiter = ',', default_values_t = [80, 160, 240, 320, 400])]
    chunks_ms: Vec<u32>,
    /// Look-aheads (ms) of the latency runs (default: `[streaming] lookahead_ms`).
    #[arg(long, value_delimiter = ',')]
    lookahead_ms: Vec<u32>,
    /// Margin (ms) of the latency runs (default: `[streaming] margin_ms`).
    #[arg(long)]
    margin_ms: Option<u32>,
    /// History (ms) of the latency runs: motion context of each window (default: `[streaming] history_ms`).
    #[arg(long)]
    history_ms: Option<u32>,
    /// What each window knows of its history's motion (default: `[streaming] history_motion`).
    #[arg(long, value_enum)]
    history_motion: Option<jamflow::live::HistoryMotion>,
    /// A corpus (`jamflow corpus make`): the real-time runs play its clean test utterances (held-out voice
    /// families) joined with 0.6 s gaps, and each row adds the lip-sync r of the live path, of the offline
    /// sampler and of the loudness-envelope baseline against the corpus truth, on the same frames.
    #[arg(long)]
    eval: Option<PathBuf>,
    /// Utterances of the eval set.
    #[arg(long, default_value_t = 40)]
    eval_limit: usize,
    /// ONNX Runtime intra-op threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Where the network runs (as jamflowd's `[model] backend`; tensorrt builds a missing engine first).
    #[arg(long, value_enum, default_value_t = Target::OrtCpu, alias = "provider")]
    backend: Target,
    /// Precision of the artifacts run (as jamflowd's `[model] precision`).
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    precision: Precision,
    /// Where the bench MP4s go.
    #[arg(long, default_value = "target/bench-live")]
    out: PathBuf,
}

/// Frames streamed after the eval set's last sample: room for the output delay (up to 4 s under load).
const EVAL_TAIL_FRAMES: u64 = 100;

pub fn run(a: &BenchLiveArgs) -> Result<()> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let root = repo_root();
    let main = match &a.package {
        Some(p) => p.clone(),
        None => daemon::default_package(&root).context("no default model package under engines/")?,
    };
    let mut cfg = Config::default();
    cfg.portrait.image = Some(root.join(DEMO_PORTRAIT));
    cfg.model.threads = a.threads;
    cfg.model.backend = a.backend;
    cfg.model.precision = a.precision;
    let main_cfg = load(&main)?.config;
    let rates = live::rates(Some(&main_cfg))?;
    if a.seconds > 0.0 {
        throughput(a, &cfg, &main, rates)?;
    }
    // The eval set and the offline sampler's score on it (once: it does not depend on the chunk plan).
    let eval = match &a.eval {
        Some(dir) => {
            let mut set = EvalSet::load(dir, a.eval_limit, rates.sample_rate)?;
            let mut pkg = load(&main)?;
            let rt = RuntimeArgs { backend: a.backend, threads: a.threads, ort_lib: None };
            let mut backend = super::backend(&mut pkg, &(rt, a.precision))?;
            let off = live_eval::offline(&mut set, dir, backend.as_mut(), &main_cfg)?;
            println!(
                "eval set: {} clean test utterances of {} ({:.0} s joined), {} frames scored; offline sampler r {:.3}, \
                 loudness-envelope baseline r {:.3}",
                set.utterances.len(),
                dir.display(),
                set.joined.len() as f64 / rates.sample_rate as f64,
                off.lens.iter().sum::<usize>(),
                off.r,
                set.envelope_r
            );
            Some((set, off))
        }
        None => None,
    };
    if a.realtime_s <= 0.0 && eval.is_none() {
        return Ok(());
    }
    let audio = match &eval {
        Some((set, _)) => set.joined.clone(),
        None => demo_speech(a.realtime_s, &main_cfg.audio)?,
    };
    let wav = a.out.join("speech.wav");
    jamflow::audio::wav::write(&wav, rates.sample_rate, &audio, jamflow::audio::wav::WavFormat::Pcm16)?;
    cfg.input.kind = InputKind::Wav;
    cfg.input.wav = Some(wav);
    cfg.input.loop_wav = eval.is_none();
    cfg.model.package = Some(main.clone());
    cfg.control.enabled = false;
    if let Some(m) = a.margin_ms {
        cfg.streaming.margin_ms = m;
    }
    if let Some(h) = a.history_ms {
        cfg.streaming.history_ms = h;
    }
    if let Some(h) = a.history_motion {
        cfg.streaming.history_motion = h;
    }
    let frames = match &eval {
        Some(_) => (audio.len() as u64 * OUTPUT_FPS as u64 / rates.sample_rate as u64) + EVAL_TAIL_FRAMES,
        None => (a.realtime_s * OUTPUT_FPS as f64).ceil() as u64,
    };
    println!(
        "real time: {:.0} s per run through the daemon pipeline ({}; latency from the capture time of a frame's last \
         sample to the frame's slot on the pipeline clock), history {} ms ({} motion), margin {} ms",
        frames as f64 / OUTPUT_FPS as f64,
        if eval.is_some() { "the eval set played once, motion received over UDP" } else { "demo speech, looped" },
        cfg.streaming.history_ms,
        clap::ValueEnum::to_possible_value(&cfg.streaming.history_motion)
            .map_or_else(String::new, |v| v.get_name().to_owned()),
        cfg.streaming.margin_ms
    );
    println!(
        "{:>8} {:>6} {:>8} {:>7} {:>7} {:>7} {:>7} {:>9} {:>6} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7}",
        "chunk_ms",
        "la_ms",
        "delay_ms",
        "win_ms",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "model_rtf",
        "late",
        "late_ch",
        "underrun",
        "reanch",
        "live_r",
        "off_r",
        "env_r"
    );
    let lookaheads = if a.lookahead_ms.is_empty() { vec![cfg.streaming.lookahead_ms] } else { a.lookahead_ms.clone() };
    for &la in &lookaheads {
        for &chunk in &a.chunks_ms {
            cfg.streaming.chunk_ms = Some(chunk);
            cfg.streaming.lookahead_ms = la;
            cfg.outputs.mp4 = Some(Mp4Output::new(a.out.join(format!("realtime-{chunk}-{la}ms.mp4"))));
            let tap = match eval {
                Some(_) => Some(MotionTap::start()?),
                None => None,
            };
            cfg.motion_out.udp = tap.as_ref().map(|t| t.addr.to_string());
            cfg.check()?;
            let out = daemon::run(&cfg, Some(frames), Arc::new(AtomicBool::new(false)))?;
            let s = out.live.context("live stats")?;
            let received = tap.map(MotionTap::finish);
            let q = |p: f64| s.latency_sample_quantile(p).map_or("-".into(), |v| format!("{:.0}", v * 1e3));
            let get = |x: &AtomicU64| x.load(Ordering::Relaxed);
            let delay = get(&s.delay_frames);
            let (live_r, off_r, env_r) = match (&eval, &received) {
                (Some((set, off)), Some(got)) => {
                    let spf = (rates.sample_rate / OUTPUT_FPS) as usize;
                    scores(set, off, &live_eval::score_live(set, off, got, delay, spf, |x| s.media_sample(x)))
                }
                _ => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:>8} {:>6} {:>8} {:>7.0} {:>7} {:>7} {:>7} {:>9.3} {:>6} {:>7} {:>8} {:>7} {:>7} {:>7} {:>7}",
                chunk,
                la,
                delay * 1000 / OUTPUT_FPS as u64,
                get(&s.window_us) as f64 / get(&s.windows).max(1) as f64 / 1e3,
                q(0.5),
                q(0.95),
                q(0.99),
                s.rtf(),
                get(&s.late_frames),
                get(&s.stream.late_chunks),
                get(&s.input_underruns),
                get(&s.input_reanchors),
                live_r,
                off_r,
                env_r
            );
        }
    }
    Ok(())
}

/// The r cells of one row (a note on stderr when frames of the eval set never arrived).
fn scores(set: &EvalSet, off: &Offline, live: &live_eval::LiveScore) -> (String, String, String) {
    if live.missing > 0 {
        eprintln!("note: {} scored frames were never received over UDP (counted as a closed mouth)", live.missing);
    }
    (format!("{:.3}", live.r), format!("{:.3}", off.r), format!("{:.3}", set.envelope_r))
}

/// The unpaced throughput run (and the per-window comparison with `--compare`).
fn throughput(a: &BenchLiveArgs, cfg: &Config, main: &PathBuf, rates: jamflow::stream::Rates) -> Result<()> {
    let main_cfg = load(main)?.config;
    let audio = demo_speech(a.seconds, &main_cfg.audio)?;
    let plan = daemon::chunk_plan(cfg);
    println!(
        "live path: window {} frames (history {}, chunk {}, look-ahead {}), {:.0} s of speech, {} thread(s)",
        plan.window(),
        plan.history,
        plan.chunk,
        plan.lookahead,
        audio.len() as f64 / rates.sample_rate as f64,
        a.threads.map_or("all".to_string(), |t| t.to_string())
    );
    let mut per_window = Vec::new();
    for (i, dir) in std::iter::once(main).chain(a.compare.as_ref()).enumerate() {
        let mut pkg = load(dir)?;
        let mut model = daemon::package_model(cfg, &mut pkg)?;
        let mut renderer = daemon::renderer(cfg)?;
        let mp4 = a.out.join(format!("throughput-{i}.mp4"));
        let r = bench::throughput(
            &mut model,
            &mut renderer,
            &audio,
            rates,
            plan,
            &EncoderSettings { encoder: cfg.encoder.video, bitrate_kbps: cfg.encoder.bitrate_kbps, latency_ms: 0 },
            &mp4,
        )?;
        println!(
            "{}: RTF {:.3} (wall / media; target <= 0.35): model {:.1} ms/window = {:.3} of a chunk, render {:.2} ms/frame, encode+push {:.2} ms/frame",
            dir.display(),
            r.rtf(),
            r.per_window_s() * 1e3,
            r.per_window_s() / (plan.chunk as f64 / OUTPUT_FPS as f64),
            r.render_s / r.frames as f64 * 1e3,
            (r.wall_s - r.model_s - r.render_s) / r.frames as f64 * 1e3
        );
        per_window.push(r.per_window_s());
    }
    if let (Some(cmp), [main_s, cmp_s]) = (&a.compare, per_window.as_slice()) {
        println!("per-window time ratio {} / {}: {:.3}", main.display(), cmp.display(), main_s / cmp_s);
    }
    Ok(())
}
