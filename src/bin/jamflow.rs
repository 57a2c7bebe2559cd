//! `jamflow`: the offline tool (packages -> ONNX -> ONNX Runtime; parity tools; benchmarks).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use jamflow::corpus::phones::ESPEAK_ENGLISH;
use jamflow::model::alignment::TextAlignment;
use jamflow::model::config::Schedule;
use jamflow::model::import::{import_f5tts, F5Import, F5Preset};
use jamflow::model::random::{write_random_package_with_vocab, Preset};
use jamflow::model::{graph, io, onnx, stats, Package};
use jamflow::runtime::tensors::{check_inputs, read_safetensors, write_safetensors};
use jamflow::runtime::{ort_backend, Backend, OrtOptions, Provider};
use jamflow::sampler::{self, Request, SamplerOptions};

use jamflow::build::calibration::{self as calib_set, Source};
use jamflow::build::{self as jbuild, BuildOptions, Target};
use jamflow::compile::roofline::Device;
use jamflow::compile::{CalibMethod, Policy, Precision};

#[path = "jamflow/animate.rs"]
mod animate;
#[path = "jamflow/bench_live.rs"]
mod bench_live;
#[path = "jamflow/bench_say.rs"]
mod bench_say;
#[path = "jamflow/live_eval.rs"]
mod live_eval;
#[path = "jamflow/say.rs"]
mod say;

#[derive(Parser)]
#[command(name = "jamflow", version, about = "JAM-Flow model packages -> ONNX -> ONNX Runtime / TensorRT")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
pub(crate) struct RuntimeArgs {
    /// Where the network runs, as `jamflow build --target` names it (ort-cuda/ort-tensorrt need the cargo
    /// feature and an ORT GPU build; tensorrt needs `--features tensorrt-native` and the package's engine).
    #[arg(long, value_enum, default_value_t = Target::OrtCpu, alias = "provider")]
    backend: Target,
    /// Intra-op threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// libonnxruntime.so to load (default: $JAMFLOW_ORT_LIB, $ORT_DYLIB_PATH, .ort/ from scripts/setup.sh).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

impl RuntimeArgs {
    /// ONNX Runtime options for graphs that only run there (vocoder, LivePortrait renderer).
    fn options(&self, pkg: &Path) -> Result<OrtOptions> {
        let Some(provider) = self.backend.provider() else {
            bail!(
                "--backend {}: this graph runs on ONNX Runtime only (use ort-cpu, ort-cuda or ort-tensorrt)",
                self.backend
            )
        };
        Ok(OrtOptions {
            provider,
            threads: self.threads,
            library: self.ort_lib.clone(),
            trt_cache: Some(pkg.join("build").join("trt-cache")),
            trt_int8: false,
            device_id: 0,
        })
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Config summary, parameter counts per stream, FLOPs and weight bytes per NFE.
    Info {
        dir: PathBuf,
        /// Window length for the per-NFE cost, in seconds of audio.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// One network evaluation on named graph inputs (safetensors) -> named outputs (f32 safetensors).
    Forward {
        dir: PathBuf,
        #[arg(long)]
        inputs: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        rt: RuntimeArgs,
        /// Run the artifacts `jamflow build` made for this precision (fp32 on ONNX Runtime: the package's graph).
        #[arg(long, value_enum, default_value_t = Precision::Fp32)]
        precision: Precision,
    },
    /// Run the sampler on a request file (cond_mel, mel_known, text, cond_motion, motion_known, rest,
    /// optional noise_mel / noise_motion) -> `mel`, `motion`.
    Sample {
        dir: PathBuf,
        #[arg(long)]
        inputs: PathBuf,
        /// Steps (default: the package's).
        #[arg(long)]
        steps: Option<usize>,
        /// uniform | sway[:COEF] | epss[:SWAY] | list:T0,T1,...,1 (default: the package's).
        #[arg(long)]
        schedule: Option<String>,
        /// Guidance strength (default: the package's; 0 = no unconditional pass).
        #[arg(long)]
        cfg: Option<f32>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        rt: RuntimeArgs,
        /// Run the artifacts `jamflow build` made for this precision (fp32 on ONNX Runtime: the package's graph).
        #[arg(long, value_enum, default_value_t = Precision::Fp32)]
        precision: Precision,
    },
    /// Write the package's FP32 ONNX graph (external data beside it for large models).
    Export {
        dir: PathBuf,
        /// Output file (default: DIR/build/fp32/model.onnx).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Always put weights in `<out>.data`.
        #[arg(long)]
        external_data: bool,
    },
    /// Import an upstream checkpoint as a package.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Per-NFE time of the ONNX graph on ONNX Runtime, against PyTorch eager on the same weights.
    Bench {
        dir: PathBuf,
        /// Mel frames of the window (the motion window follows).
        #[arg(long, default_value_t = 375)]
        frames: usize,
        #[arg(long, default_value_t = 10)]
        iters: usize,
        /// Also time PyTorch eager through scripts/oracle.py with this Python (e.g. .venv/bin/python).
        #[arg(long)]
        torch_python: Option<PathBuf>,
        #[command(flatten)]
        rt: RuntimeArgs,
        /// Time these precisions on ORT CPU in one run and print ratios to the first (e.g. fp32,fp16,int8,w8a16);
        /// with another --backend: the one precision whose artifacts to time.
        #[arg(long, value_enum, value_delimiter = ',')]
        precision: Vec<Precision>,
        /// Project FLOPs and bytes per NFE of the built graphs onto a Jetson (compute and bandwidth floors).
        #[arg(long, value_enum)]
        project: Option<Device>,
    },
    /// Write a package with seeded random weights (tests, benchmarks; not a usable voice).
    Random {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Preset::SmallMmdit)]
        preset: Preset,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// `filler` (characters, F5) or `durations` (one eSpeak phoneme id per mel frame; its vocabulary: the
        /// English eSpeak mnemonics the corpus's articulation knows).
        #[arg(long, default_value_t = TextAlignment::Filler)]
        text_alignment: TextAlignment,
    },
    /// Build artifacts of a precision for a target (ONNX, engines) with a manifest and an accuracy report.
    Build(BuildArgs),
    /// Calibration sets (`calibration/NAME`).
    #[command(subcommand)]
    Calibration(CalibrationCmd),
    /// The main job: the default model end to end (espeak-ng speech clip -> model -> mesh renderer -> H.264 + AAC
    /// MP4 through the daemon's pipeline), then how to watch it live over RTSP.
    Demo {
        /// Working directory for what the demo writes.
        #[arg(long, default_value = "target/demo")]
        out: PathBuf,
        /// Model package (default: the shipped default model).
        #[arg(long)]
        package: Option<PathBuf>,
        /// Where the network runs (as jamflowd's `[model] backend`; tensorrt builds a missing engine first).
        #[arg(long, value_enum, default_value_t = Target::OrtCpu, alias = "provider")]
        backend: Target,
        /// Precision of the artifacts run (as jamflowd's `[model] precision`).
        #[arg(long, value_enum, default_value_t = Precision::Fp32)]
        precision: Precision,
    },
    /// Log-mel spectrogram of a WAV file (any format/rate/channels -> 24 kHz mono) as safetensors `mel` [frames, 100].
    Mel {
        input: PathBuf,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Mel spectrogram (safetensors `mel` [frames, 100]) -> WAV (24 kHz mono 16-bit).
    Vocode {
        mel: PathBuf,
        /// `vocos:DIR` (DIR/vocos.safetensors, see scripts/vocos_convert.py) or `griffin-lim`.
        #[arg(long, default_value = "griffin-lim")]
        vocoder: String,
        /// Griffin-Lim iterations.
        #[arg(long, default_value_t = jamflow::audio::griffin_lim::DEFAULT_ITERATIONS)]
        iterations: usize,
        #[arg(short, long)]
        out: PathBuf,
        #[command(flatten)]
        rt: RuntimeArgs,
    },
    /// Render `mouth4-2d` motion on a portrait with the CPU mesh-warp renderer -> PNGs / MP4 / contact sheet.
    Render(render_cli::RenderArgs),
    /// Portrait tools (automatic landmarks, landmark check).
    #[command(subcommand)]
    Portrait(render_cli::PortraitCmd),
    /// Frames per second of the mesh-warp renderer on one core, as a ratio to the 50 fps target.
    BenchRender(render_cli::BenchRenderArgs),
    /// Seconds per 1080p photo of `portrait prepare` on one core, as a ratio to the 1 s target.
    BenchPrepare(prepare_cli::BenchPrepareArgs),
    /// The live path: throughput (model windows + renderer + H.264/AAC encoding, unpaced: real-time factor) and a
    /// real-time run through the daemon's pipeline (mic-to-frame latency p50/p95), on an espeak-ng speech clip.
    BenchLive(bench_live::BenchLiveArgs),
    /// Request-to-first-speech-frame of jamflowd's /say (p50/p95) through the daemon's live source.
    BenchSay(bench_say::BenchSayArgs),
    /// The synthetic speech + mouth-motion training corpus (espeak-ng; docs/corpus.md).
    #[command(subcommand)]
    Corpus(CorpusCmd),
    /// Any WAV -> mouth motion (windows, bounded memory) -> a talking video with the audio, or the motion.
    Animate(animate::AnimateArgs),
    /// Text -> speech (a Piper voice or the joint model; docs/speech.md) -> OUT.wav, or a talking OUT.mp4.
    Say(say::SayArgs),
    /// Known mouth motion + text -> speech that fits it (the model's inpainting with motion known) -> OUT.wav.
    Dub(say::DubArgs),
    /// On a GPU machine with TensorRT: build each precision's engine of the packages, compare with ORT CPU
    /// FP32, time per NFE against the roofline floor (what scripts/device_check.sh runs).
    DeviceCheck(device_check::DeviceCheckArgs),
}

#[derive(Subcommand)]
enum ImportCmd {
    /// An F5-TTS checkpoint as published (`ema_model.transformer.*` keys) -> a pure-TTS package.
    F5tts {
        checkpoint: PathBuf,
        #[arg(long)]
        vocab: PathBuf,
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = F5Preset::V1)]
        preset: F5Preset,
        #[arg(long, default_value_t = 64)]
        dim_head: usize,
    },
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "jamflow=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Info { dir, seconds } => info(&dir, seconds),
        Cmd::Forward { dir, inputs, out, rt, precision } => forward(&dir, &inputs, &out, &rt, precision),
        Cmd::Sample { dir, inputs, steps, schedule, cfg, seed, out, rt, precision } => {
            sample(&dir, &inputs, steps, schedule.as_deref(), cfg, seed, &out, &(rt, precision))
        }
        Cmd::Export { dir, out, external_data } => {
            let out = out.unwrap_or_else(|| dir.join("build").join("fp32").join("model.onnx"));
            export(&dir, &out, external_data)
        }
        Cmd::Import(ImportCmd::F5tts { checkpoint, vocab, out, preset, dim_head }) => {
            let pkg = import_f5tts(&F5Import { checkpoint, vocab, out: out.clone(), preset, dim_head })?;
            println!(
                "imported {} ({} layers, dim {}) -> {}",
                pkg.config.name,
                pkg.config.audio_dit.depth,
                pkg.config.audio_dit.dim,
                out.display()
            );
            Ok(())
        }
        Cmd::Bench { dir, frames, iters, torch_python, rt, precision, project: None }
            if rt.backend != Target::OrtCpu && precision.len() <= 1 =>
        {
            let p = precision.first().copied().unwrap_or(Precision::Fp32);
            bench(&dir, frames, iters, torch_python.as_deref(), &(rt, p))
        }
        Cmd::Bench { dir, frames, iters, precision, project, rt, .. } if !precision.is_empty() || project.is_some() => {
            bench_build(&dir, frames, iters, &precision, project, &rt)
        }
        Cmd::Bench { dir, frames, iters, torch_python, rt, .. } => {
            bench(&dir, frames, iters, torch_python.as_deref(), &(rt, Precision::Fp32))
        }
        Cmd::Build(args) => build_cmd(args),
        Cmd::Calibration(CalibrationCmd::Make(args)) => calibration_make(args),
        Cmd::Random { dir, preset, seed, text_alignment } => {
            let mut cfg = preset.config();
            let vocab = match (cfg.text.as_mut(), text_alignment) {
                (Some(tc), TextAlignment::Durations) => {
                    tc.alignment = TextAlignment::Durations;
                    tc.vocab_size = ESPEAK_ENGLISH.len();
                    Some(ESPEAK_ENGLISH)
                }
                _ => None,
            };
            write_random_package_with_vocab(&cfg, seed, &dir, vocab)?;
            println!(
                "wrote random-weights package {:?} (seed {seed}, text {text_alignment}) -> {}",
                preset,
                dir.display()
            );
            Ok(())
        }
        Cmd::Demo { out, package, backend, precision } => demo(&out, package.as_deref(), (backend, precision)),
        Cmd::Mel { input, out } => audio_cli::mel(&input, &out),
        Cmd::Vocode { mel, vocoder, iterations, out, rt } => {
            audio_cli::vocode(&mel, &vocoder.parse().context("--vocoder")?, iterations, &out, &rt)
        }
        Cmd::Render(a) => render_cli::render(&a),
        Cmd::Portrait(c) => render_cli::portrait(&c),
        Cmd::BenchRender(a) => render_cli::bench_render(&a),
        Cmd::BenchPrepare(a) => prepare_cli::bench_prepare(&a),
        Cmd::BenchLive(a) => bench_live::run(&a),
        Cmd::BenchSay(a) => bench_say::bench_say(&a),
        Cmd::Corpus(c) => corpus_cmd(c),
        Cmd::Animate(a) => animate::run(&a),
        Cmd::Say(a) => say::say(&a),
        Cmd::Dub(a) => say::dub(&a),
        Cmd::DeviceCheck(a) => device_check::run(&a),
    }
}

#[path = "jamflow/device_check.rs"]
mod device_check;

pub(crate) fn load(dir: &Path) -> Result<Package> {
    Package::load(dir).with_context(|| format!("loading model package {}", dir.display()))
}

/// The backend of `--backend` and `--precision` over the package (`jamflow::build::open`).
pub(crate) fn backend(pkg: &mut Package, (rt, precision): &(RuntimeArgs, Precision)) -> Result<Box<dyn Backend>> {
    let opts = jbuild::RunOptions {
        target: rt.backend,
        precision: *precision,
        ort: OrtOptions { threads: rt.threads, library: rt.ort_lib.clone(), ..OrtOptions::default() },
        device: 0,
    };
    Ok(jbuild::open(pkg, &opts)?.backend)
}

// ---------------------------------------------------------------------------------------------------------------
// Audio front end: `jamflow mel`, `jamflow vocode` (issue 3).
// ---------------------------------------------------------------------------------------------------------------
#[path = "jamflow/audio_cli.rs"]
mod audio_cli;

#[path = "jamflow/build_cli.rs"]
mod build_cli;
use build_cli::{bench_build, build_cmd, calibration_make, BuildArgs, CalibrationCmd};

// ---------------------------------------------------------------------------------------------------------------
// Renderer commands (issue 4): render, portrait check, bench-render.
#[path = "jamflow/prepare_cli.rs"]
mod prepare_cli;

#[path = "jamflow/render_cli.rs"]
mod render_cli;

// ---- model commands: info, forward, sample, export, bench ----
#[path = "jamflow/model_cli.rs"]
mod model_cli;
use model_cli::{bench, bench_inputs, export, forward, info, sample};

// ---- the demo, and the speech and portrait it shares with the benches ----
#[path = "jamflow/demo.rs"]
mod demo;
use demo::{demo, demo_speech, repo_root, DEMO_PORTRAIT};

// ---- corpus (issue 5) ----
#[path = "jamflow/corpus_cli.rs"]
mod corpus_cli;
use corpus_cli::{corpus_cmd, CorpusCmd};
