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

fn info(dir: &Path, seconds: f64) -> Result<()> {
    let cfg = Package::load_config(dir)?;
    let spec = graph::param_spec(&cfg)?;
    let counts = stats::param_counts(&spec);
    let flops = stats::flops_per_nfe(&cfg, seconds);
    println!("package      {}", dir.display());
    println!("name         {}", if cfg.name.is_empty() { "-" } else { &cfg.name });
    let a = &cfg.audio_dit;
    println!(
        "audio        {} Hz, hop {}, {} mels ({:.2} frames/s)",
        cfg.audio.sample_rate,
        cfg.audio.hop_length,
        cfg.audio.n_mels,
        cfg.audio.mel_rate()
    );
    match &cfg.text {
        Some(t) => println!("text         vocab {}, dim {}, {} ConvNeXt blocks", t.vocab_size, t.dim, t.conv_layers),
        None => println!("text         none"),
    }
    println!(
        "audio-DiT    dim {}, depth {}, heads {} x {}, ff x{}  ({:.2} M params)",
        a.dim,
        a.depth,
        a.heads,
        a.dim_head,
        a.ff_mult,
        counts.audio as f64 / 1e6
    );
    if let Some(m) = &cfg.motion {
        println!(
            "motion-DiT   dim {}, layout {} ({} values + {} rest per frame), {} fps  ({:.2} M params)",
            m.dit.dim,
            m.layout.name(),
            m.layout.motion_dim(),
            m.layout.rest_dim(),
            m.fps,
            counts.motion as f64 / 1e6
        );
        println!(
            "joint        layers {:?}, window {:.3} s",
            cfg.joint_layers(),
            cfg.joint_window_frames() / cfg.audio.mel_rate()
        );
    } else {
        println!("motion-DiT   none (pure F5-TTS package)");
    }
    println!("parameters   {:.2} M", counts.total() as f64 / 1e6);
    println!(
        "per NFE      {:.2} GFLOP per second of audio (window {seconds} s, one row); weights {:.1} MB fp32 / {:.1} MB fp16",
        flops / seconds / 1e9,
        counts.total() as f64 * 4.0 / 1e6,
        counts.total() as f64 * 2.0 / 1e6
    );
    let s = &cfg.sampler;
    println!(
        "sampler      {} steps, {:?}, cfg {}{}",
        s.steps,
        s.schedule,
        s.cfg_strength,
        if s.guidance_baked { " (baked)" } else { "" }
    );
    Ok(())
}

fn forward(dir: &Path, inputs: &Path, out: &Path, rt: &RuntimeArgs, precision: Precision) -> Result<()> {
    let mut pkg = load(dir)?;
    let tensors = read_safetensors(inputs)?;
    check_inputs(&io::inputs(&pkg.config), &tensors).with_context(|| format!("{}", inputs.display()))?;
    let mut be = backend(&mut pkg, &(rt.clone(), precision))?;
    let outputs = be.run(&tensors)?;
    write_safetensors(out, &outputs)?;
    println!("{} -> {} ({})", inputs.display(), out.display(), be.describe());
    Ok(())
}

/// Parse `uniform`, `sway[:COEF]`, `epss[:SWAY]`, `list:0,0.5,1`.
fn parse_schedule(s: &str) -> Result<Schedule> {
    let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
    let num = |a: &str| a.parse::<f64>().with_context(|| format!("--schedule {s}: `{a}` is not a number"));
    Ok(match kind {
        "uniform" => Schedule::Uniform,
        "sway" => Schedule::Sway { coef: if arg.is_empty() { -1.0 } else { num(arg)? } },
        "epss" => Schedule::Epss { sway: if arg.is_empty() { None } else { Some(num(arg)?) } },
        "list" => Schedule::List { t: arg.split(',').map(num).collect::<Result<_>>()? },
        other => {
            bail!("--schedule: unknown kind `{other}` (expected uniform, sway[:COEF], epss[:SWAY] or list:T0,...,1)")
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn sample(
    dir: &Path,
    inputs: &Path,
    steps: Option<usize>,
    schedule: Option<&str>,
    cfg_strength: Option<f32>,
    seed: u64,
    out: &Path,
    rt: &(RuntimeArgs, Precision),
) -> Result<()> {
    let mut pkg = load(dir)?;
    let tensors = read_safetensors(inputs)?;
    let req = Request::from_tensors(&pkg.config, &tensors).with_context(|| format!("{}", inputs.display()))?;
    let mut opts = SamplerOptions::from_config(&pkg.config, seed);
    if let Some(s) = steps {
        opts.steps = s;
    }
    if let Some(s) = schedule {
        opts.schedule = parse_schedule(s)?;
    }
    if let Some(c) = cfg_strength {
        opts.cfg_strength = c;
    }
    let mut be = backend(&mut pkg, rt)?;
    let t0 = Instant::now();
    let result = sampler::sample(be.as_mut(), &pkg.config, &req, &opts)?;
    write_safetensors(out, &result.to_tensors(&pkg.config))?;
    println!(
        "{} steps ({:?}, cfg {}) over {} mel / {} motion frames in {:.2} s -> {}",
        opts.steps,
        opts.schedule,
        opts.cfg_strength,
        result.mel_frames,
        result.motion_frames,
        t0.elapsed().as_secs_f64(),
        out.display()
    );
    Ok(())
}

fn export(dir: &Path, out: &Path, external: bool) -> Result<()> {
    let mut pkg = load(dir)?;
    let model = pkg.graph()?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    onnx::save(model, out, external)?;
    println!("wrote {} (opset {})", out.display(), onnx::OPSET);
    Ok(())
}

/// Graph inputs for one packed cond+uncond evaluation over `frames` mel frames (deterministic values).
fn bench_inputs(cfg: &jamflow::model::ModelConfig, frames: usize) -> Result<jamflow::runtime::NamedTensors> {
    jbuild::bench::nfe_inputs(cfg, frames).with_context(|| format!("bench inputs for {frames} mel frames"))
}

fn bench(
    dir: &Path,
    frames: usize,
    iters: usize,
    torch_python: Option<&Path>,
    run: &(RuntimeArgs, Precision),
) -> Result<()> {
    let rt = &run.0;
    let mut pkg = load(dir)?;
    let inputs = bench_inputs(&pkg.config, frames)?;
    let mut be = backend(&mut pkg, run)?;
    be.run(&inputs)?; // warm-up
    let t0 = Instant::now();
    for _ in 0..iters.max(1) {
        be.run(&inputs)?;
    }
    let ort_ms = t0.elapsed().as_secs_f64() * 1e3 / iters.max(1) as f64;
    let threads = rt.threads.map_or_else(|| "all".to_string(), |n| n.to_string());
    println!(
        "{} {}  {}: {:.2} ms per NFE (batch 2 = cond+uncond, {} mel frames, threads {threads})",
        be.describe(),
        run.1,
        dir.display(),
        ort_ms,
        frames
    );
    if let Some(py) = torch_python {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("oracle.py");
        let mut cmd = std::process::Command::new(py);
        cmd.arg(&script)
            .arg("bench")
            .arg("--pkg")
            .arg(dir)
            .arg("--threads")
            .arg(rt.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).to_string())
            .arg("--mel-frames")
            .arg(frames.to_string())
            .arg("--iters")
            .arg(iters.to_string());
        let out = cmd.output().with_context(|| format!("running {}", py.display()))?;
        if !out.status.success() {
            bail!("{} bench failed: {}", script.display(), String::from_utf8_lossy(&out.stderr));
        }
        let line = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap_or(""))
            .with_context(|| format!("parsing PyTorch bench output: {line}"))?;
        let torch_ms = v["ms_per_nfe"].as_f64().context("ms_per_nfe missing in PyTorch bench output")?;
        println!("PyTorch {} eager: {:.2} ms per NFE", v["torch_version"].as_str().unwrap_or("?"), torch_ms);
        println!("ratio ORT / PyTorch = {:.2} (lower is better for ORT)", ort_ms / torch_ms);
    }
    Ok(())
}

/// What the demo says (a few sentences with open vowels, rounding and bilabial closures to watch).
const DEMO_TEXT: &str = "Hello, I am a talking portrait. My lips move with the sound you hear. \
                         Watch my mouth open wide, then close on the words bubble, maybe, and moment.";

fn demo(out: &Path, package: Option<&Path>, (backend, precision): (Target, Precision)) -> Result<()> {
    use jamflow::daemon::{self, config::InputKind, Config};
    use jamflow::live::OUTPUT_FPS;
    use jamflow::stream::Mp4Output;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let root = repo_root();
    let pkg_dir = match package {
        Some(p) => p.to_path_buf(),
        None => daemon::default_package(&root).context("no default model package under engines/")?,
    };
    println!("jamflow demo: {} -> mesh renderer -> MP4 (H.264 + AAC)", pkg_dir.display());
    info(&pkg_dir, 10.0)?;
    // 1. A speech clip from espeak-ng (the voice the default model was trained on), at the package's rate.
    let audio_cfg = load(&pkg_dir)?.config.audio;
    let speech = demo_speech(0.0, &audio_cfg)?;
    let wav = out.join("speech.wav");
    jamflow::audio::wav::write(&wav, audio_cfg.sample_rate, &speech, jamflow::audio::wav::WavFormat::Pcm16)?;
    let clip_s = speech.len() as f64 / audio_cfg.sample_rate as f64;
    println!("speech clip: {clip_s:.1} s -> {}", wav.display());
    // 2. The daemon's own pipeline with the WAV played once in real time.
    let mp4 = out.join("jamflow-demo.mp4");
    let mut cfg = Config::default();
    cfg.input.kind = InputKind::Wav;
    cfg.input.wav = Some(wav.clone());
    cfg.input.loop_wav = false;
    cfg.model.package = Some(pkg_dir.clone());
    (cfg.model.backend, cfg.model.precision) = (backend, precision);
    cfg.portrait.image = Some(root.join(DEMO_PORTRAIT));
    cfg.outputs.mp4 = Some(Mp4Output::new(mp4.clone()));
    cfg.control.enabled = false;
    cfg.check()?;
    // Long enough for the clip after the output delay (at most 2 s with the default streaming settings).
    let frames = ((clip_s + 2.0) * OUTPUT_FPS as f64).ceil() as u64;
    println!("streaming {:.1} s in real time ...", frames as f64 / OUTPUT_FPS as f64);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let outcome = daemon::run(&cfg, Some(frames), stop)?;
    if !outcome.clean_eos {
        bail!("the pipeline did not finish cleanly; {} may be unplayable", mp4.display());
    }
    println!("wrote {} ({} frames at {OUTPUT_FPS} fps, with sound)", mp4.display(), outcome.frames);
    println!("play it:   ffplay {}", mp4.display());
    println!(
        "watch live over RTSP (the same clip, looped; or add --device default for the microphone):\n  \
         target/release/jamflowd --config configs/demo.toml\n  ffplay -rtsp_transport tcp rtsp://127.0.0.1:8554/jamflow\n  \
         curl -X POST -H 'Content-Type: application/json' -d '{{\"text\": \"Hello there.\"}}' http://127.0.0.1:8620/say"
    );
    Ok(())
}

/// Speech for demos and benches: [`DEMO_TEXT`] by espeak-ng at the package's rate, repeated to at least `secs`.
fn demo_speech(secs: f64, audio_cfg: &jamflow::model::config::AudioConfig) -> Result<Vec<f32>> {
    use jamflow::corpus::{articulation::Articulator, espeak::VoiceSettings};
    let voice = VoiceSettings { voice: "en-us".into(), rate: 160, pitch: 50, range: 50 };
    let mut x = Vec::new();
    loop {
        let s = jamflow::corpus::utterance(DEMO_TEXT, &voice, audio_cfg, &Articulator::default())
            .context("synthesizing speech with espeak-ng (scripts/setup.sh installs libespeak-ng1)")?;
        x.extend(s.audio);
        if x.len() as f64 >= secs * audio_cfg.sample_rate as f64 {
            return Ok(x);
        }
    }
}

/// The sample portrait shipped in the repository.
const DEMO_PORTRAIT: &str = "assets/portraits/astronaut.png";

/// The repository checkout: the current directory when it has `engines/`, else where the binary was built from.
fn repo_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    if cwd.join("engines").is_dir() {
        cwd
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Audio front end: `jamflow mel`, `jamflow vocode` (issue 3).
// ---------------------------------------------------------------------------------------------------------------
mod audio_cli {
    use std::path::Path;

    use anyhow::{bail, Context, Result};

    use super::RuntimeArgs;
    use jamflow::audio::griffin_lim::GriffinLim;
    use jamflow::audio::mel::{Mel, MelSpec};
    use jamflow::audio::vocoder::{Vocoder, VocoderChoice};
    use jamflow::audio::wav::{self, WavFormat};
    use jamflow::model::config::AudioConfig;
    use jamflow::runtime::tensors::{read_safetensors, write_safetensors};
    use jamflow::runtime::{HostTensor, NamedTensors, OrtOptions};

    /// Tensor name of a mel file.
    const MEL: &str = "mel";

    pub fn mel(input: &Path, out: &Path) -> Result<()> {
        let cfg = AudioConfig::default();
        let x = wav::load_mono(input, cfg.sample_rate)?;
        let mel = MelSpec::new(&cfg)?.compute(&x).with_context(|| format!("{}", input.display()))?;
        let mut t = NamedTensors::new();
        t.insert(MEL.into(), HostTensor::f32(vec![mel.frames, mel.n_mels], mel.data));
        write_safetensors(out, &t)?;
        println!(
            "{}: {} samples at {} Hz -> mel [{}, {}] -> {}",
            input.display(),
            x.len(),
            cfg.sample_rate,
            mel.frames,
            mel.n_mels,
            out.display()
        );
        Ok(())
    }

    pub fn vocode(
        mel_path: &Path,
        vocoder: &VocoderChoice,
        iterations: usize,
        out: &Path,
        rt: &RuntimeArgs,
    ) -> Result<()> {
        let cfg = AudioConfig::default();
        let t = read_safetensors(mel_path)?;
        let m = t.get(MEL).with_context(|| format!("{}: no tensor `{MEL}`", mel_path.display()))?;
        let data = m.as_f32().with_context(|| format!("{}: `{MEL}` must be f32", mel_path.display()))?;
        if m.shape.len() != 2 || m.shape[1] != cfg.n_mels || m.shape[0] == 0 {
            bail!("{}: `{MEL}` has shape {:?}; expected [frames, {}]", mel_path.display(), m.shape, cfg.n_mels);
        }
        let mel = Mel { frames: m.shape[0], n_mels: m.shape[1], data: data.to_vec() };
        let audio = match vocoder {
            VocoderChoice::GriffinLim => {
                let mut gl = GriffinLim::new(&cfg)?;
                gl.iterations = iterations;
                gl.vocode(&mel)?
            }
            VocoderChoice::Vocos(_) => {
                let opts = OrtOptions { trt_cache: None, ..rt.options(Path::new("."))? };
                Vocoder::open(vocoder, &cfg, &opts)?.vocode(&mel)?
            }
        };
        wav::write(out, cfg.sample_rate, &audio, WavFormat::Pcm16)?;
        println!(
            "{}: mel [{}, {}] -> {} samples ({vocoder}) -> {}",
            mel_path.display(),
            mel.frames,
            mel.n_mels,
            audio.len(),
            out.display()
        );
        Ok(())
    }
}

// ---- jamflow build / calibration / bench --precision --project (issue 7) ------------------------------

#[derive(Args)]
struct BuildArgs {
    /// The model package.
    dir: PathBuf,
    #[arg(long, value_enum)]
    precision: Precision,
    #[arg(long, value_enum, default_value_t = Target::OrtCpu)]
    target: Target,
    /// Calibration set directory (`calibration/NAME`); required for int8, used for the accuracy report of all.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// INT8 threshold method: max, percentile[:P] (default 99.99) or entropy.
    #[arg(long, default_value = "percentile:99.99")]
    method: CalibMethod,
    /// Shape ranges, e.g. `B=1:2:2,T=94:469:938,Nt=1:64:512` (MIN:OPT:MAX; defaults 1 s..5 s..10 s).
    #[arg(long)]
    shapes: Option<String>,
    /// Rebuild even when a valid build exists.
    #[arg(long)]
    force: bool,
    /// Write the artifacts even when the accuracy report exceeds the documented bound.
    #[arg(long)]
    accept_accuracy: bool,
    /// Intra-op threads of the ORT CPU sessions (calibration, accuracy; default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// libonnxruntime.so to load (default: $JAMFLOW_ORT_LIB, $ORT_DYLIB_PATH, .ort/).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

#[derive(Subcommand)]
enum CalibrationCmd {
    /// Record the graph inputs the sampler feeds the network at every step, over a set of requests.
    Make(CalibrationMakeArgs),
}

#[derive(Args)]
struct CalibrationMakeArgs {
    /// The model package.
    dir: PathBuf,
    /// Set name: written to `<root>/NAME/manifest.json` (+ records.safetensors).
    #[arg(long)]
    name: String,
    /// Where sets live.
    #[arg(long, default_value = "calibration")]
    root: PathBuf,
    /// Request files (the `jamflow sample --inputs` format).
    #[arg(long = "request")]
    requests: Vec<PathBuf>,
    /// WAV files (any format/rate; audio known, motion generated), each with a --text (same order).
    #[arg(long = "wav")]
    wavs: Vec<PathBuf>,
    /// The text spoken in each --wav.
    #[arg(long = "text")]
    texts: Vec<String>,
    /// Also generate this many requests from --seed (cycling the three uses).
    #[arg(long, default_value_t = 0)]
    generate: usize,
    /// Lengths of generated requests in seconds (cycled).
    #[arg(long, value_delimiter = ',', default_value = "2,4")]
    seconds: Vec<f64>,
    /// Seed of generated requests and of the sampler's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The last N requests are held out for the end-to-end accuracy report.
    #[arg(long, default_value_t = 1)]
    holdout: usize,
    /// Sampler steps (default: the package's).
    #[arg(long)]
    steps: Option<usize>,
    /// Intra-op threads of the recording session (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn cpu_options(threads: Option<usize>, lib: Option<PathBuf>) -> OrtOptions {
    OrtOptions { provider: Provider::Cpu, threads, library: lib, trt_cache: None, trt_int8: false, device_id: 0 }
}

fn build_cmd(a: BuildArgs) -> Result<()> {
    let opts = BuildOptions {
        precision: a.precision,
        target: a.target,
        calibration: a.calibration,
        method: a.method,
        shapes: a.shapes,
        policy: Policy::default(),
        ort: cpu_options(a.threads, a.ort_lib),
        force: a.force,
        accept_accuracy: a.accept_accuracy,
    };
    let out = jbuild::build(&a.dir, &opts).with_context(|| format!("building {}", a.dir.display()))?;
    let m = &out.manifest;
    if out.reused {
        println!(
            "up to date: {} ({} {}; inputs unchanged, artifacts intact)",
            out.dir.display(),
            m.precision,
            m.target
        );
    } else {
        println!("built {} {} -> {}", m.precision, m.target, out.dir.display());
    }
    for art in &m.artifacts {
        println!("  {}  {} bytes  sha256 {}", art.path, art.bytes, &art.sha256[..16]);
    }
    if let Some(r) = &m.accuracy {
        print!("{}", r.render());
    }
    Ok(())
}

fn calibration_make(a: CalibrationMakeArgs) -> Result<()> {
    let pkg = load(&a.dir)?;
    let set_dir = a.root.join(&a.name);
    let mut sources = Vec::new();
    std::fs::create_dir_all(&set_dir).with_context(|| format!("creating {}", set_dir.display()))?;
    let set_abs = std::fs::canonicalize(&set_dir)?;
    for r in &a.requests {
        let abs = std::fs::canonicalize(r).with_context(|| format!("request file {}", r.display()))?;
        // Inside the set's directory: stored relative, so the set moves as one directory.
        let path = abs.strip_prefix(&set_abs).map(Path::to_path_buf).unwrap_or_else(|_| abs.clone());
        sources.push(Source::Request { sha256: jbuild::sha256_file(&abs)?, path });
    }
    if a.wavs.len() != a.texts.len() {
        bail!("{} --wav file(s) but {} --text: give one --text per --wav, in order", a.wavs.len(), a.texts.len());
    }
    for (w, text) in a.wavs.iter().zip(&a.texts) {
        let abs = std::fs::canonicalize(w).with_context(|| format!("WAV file {}", w.display()))?;
        let path = abs.strip_prefix(&set_abs).map(Path::to_path_buf).unwrap_or_else(|_| abs.clone());
        sources.push(Source::Wav { sha256: jbuild::sha256_file(&abs)?, audio: path, text: text.clone(), motion: None });
    }
    if a.generate > 0 {
        sources.push(Source::Generated { seed: a.seed, count: a.generate, seconds: a.seconds.clone() });
    }
    if sources.is_empty() {
        bail!("no requests: give --request FILE, --wav FILE --text TEXT (both repeatable) and/or --generate N");
    }
    let mut fp32 = {
        let mut p = load(&a.dir)?;
        backend(&mut p, &(RuntimeArgs { backend: Target::OrtCpu, threads: a.threads, ort_lib: None }, Precision::Fp32))?
    };
    let opts =
        calib_set::MakeOptions { name: a.name.clone(), sources, holdout: a.holdout, steps: a.steps, seed: a.seed };
    let set = calib_set::make(&a.root, &pkg, fp32.as_mut(), &opts)?;
    println!(
        "calibration set {} (id {}): {} recorded evaluations, {} hold-out request(s) -> {}",
        a.name,
        set.manifest.id,
        set.records.len(),
        set.holdout.len(),
        set_dir.display()
    );
    Ok(())
}

fn bench_build(
    dir: &Path,
    frames: usize,
    iters: usize,
    ps: &[Precision],
    project: Option<Device>,
    rt: &RuntimeArgs,
) -> Result<()> {
    if rt.backend != Target::OrtCpu {
        bail!("--precision with several precisions / --project time the graphs on ONNX Runtime CPU; drop --backend");
    }
    let mut pkg = load(dir)?;
    let inputs = bench_inputs(&pkg.config, frames)?;
    let ps: Vec<Precision> = if ps.is_empty() { vec![Precision::Fp32] } else { ps.to_vec() };
    let seconds = frames as f64 / pkg.config.audio.mel_rate();
    let ort = cpu_options(rt.threads, rt.ort_lib.clone());
    let rows = jbuild::bench::bench_precisions(&mut pkg, &ps, &inputs, iters, seconds, &ort)?;
    println!(
        "ORT {} CPU, {} mel frames ({seconds:.2} s), batch 2 (cond + uncond), {} iterations per precision, threads {}",
        ort_backend::version(),
        frames,
        iters.max(1),
        rt.threads.map_or_else(|| "all".to_string(), |n| n.to_string())
    );
    let base = rows[0].ms_per_nfe;
    for r in &rows {
        println!(
            "  {:<6} {:>9.2} ms per NFE   ratio to {} {:>5.2}   ({})",
            r.precision.name(),
            r.ms_per_nfe,
            rows[0].precision.name(),
            r.ms_per_nfe / base,
            r.source
        );
    }
    if let Some(d) = project {
        print!("{}", jbuild::bench::roofline_report(&rows, d, seconds, pkg.config.sampler.steps));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Renderer commands (issue 4): render, portrait check, bench-render.
#[path = "jamflow/prepare_cli.rs"]
mod prepare_cli;

mod render_cli {
    use std::path::PathBuf;
    use std::time::Instant;

    use anyhow::{bail, Context, Result};
    use clap::{Args, Subcommand};

    use jamflow::model::config::MotionLayout;
    use jamflow::model::Package;
    use jamflow::render::idle::IdleOptions;
    use jamflow::render::landmarks::{default_path, draw_check, Landmarks, CHECK_COLOURS};
    use jamflow::render::liveportrait::{LivePortraitModels, LivePortraitRenderer};
    use jamflow::render::mesh::{MeshWarpOptions, MeshWarpRenderer, OutputMode};
    use jamflow::render::output::{contact_sheet, FrameSink};
    use jamflow::render::{save_png, test_motion, MotionFrames, Renderer};

    #[derive(Args)]
    pub struct RenderArgs {
        /// Portrait image (PNG).
        #[arg(long)]
        portrait: PathBuf,
        /// Landmark file (default: NAME.landmarks.json beside the portrait).
        #[arg(long)]
        landmarks: Option<PathBuf>,
        /// Motion file as written by `jamflow sample` (tensor `motion` [F, 12], mouth4-2d).
        #[arg(long, conflicts_with = "test_motion")]
        motion: Option<PathBuf>,
        /// Instead of a motion file: this many seconds of synthetic syllable-like mouth motion (a portrait check,
        /// not speech).
        #[arg(long)]
        test_motion: Option<f64>,
        /// Render at most this many frames.
        #[arg(long)]
        frames: Option<usize>,
        /// A directory (PNG frames) or OUT.mp4 (H.264 through ffmpeg).
        #[arg(long)]
        out: Option<PathBuf>,
        /// A grid of frames for people to look at.
        #[arg(long)]
        contact_sheet: Option<PathBuf>,
        /// Frames on the contact sheet (evenly spaced; 0 = every frame).
        #[arg(long, default_value_t = 24)]
        sheet_frames: usize,
        /// Face-crop side in pixels.
        #[arg(long, default_value_t = 512)]
        size: u32,
        /// Output the full portrait with the animated face in place instead of a face crop.
        #[arg(long)]
        full: bool,
        /// Idle life: blinks and small head/breathing motion.
        #[arg(long)]
        idle: bool,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The model package that made the motion: its motion layout must be one the renderer accepts (checked
        /// at start-up). Default: `mouth4-2d`.
        #[arg(long)]
        package: Option<PathBuf>,
        /// Render with LivePortrait from this directory of FasterLivePortrait ONNX files (needs a
        /// `liveportrait-mouth4` --package) instead of the CPU mesh warp.
        #[arg(long, requires = "package")]
        liveportrait: Option<PathBuf>,
        #[command(flatten)]
        rt: super::RuntimeArgs,
    }

    #[derive(Subcommand)]
    pub enum PortraitCmd {
        /// Find the face (the largest, or --face N) with the face detector and write its landmark file.
        Prepare(super::prepare_cli::PrepareArgs),
        /// Draw the landmarks over a zoom of the face to a PNG so a person can verify them.
        Check {
            image: PathBuf,
            /// Landmark file (default: NAME.landmarks.json beside the image).
            #[arg(long)]
            landmarks: Option<PathBuf>,
            /// Output PNG (default: NAME.landmarks-check.png in the current directory).
            #[arg(long)]
            out: Option<PathBuf>,
            #[arg(long, default_value_t = 768)]
            size: u32,
        },
    }

    #[derive(Args)]
    pub struct BenchRenderArgs {
        /// Portrait (with its landmark file beside it).
        #[arg(long, default_value = "assets/portraits/astronaut.png")]
        portrait: PathBuf,
        /// Landmark file (default: NAME.landmarks.json beside the portrait; e.g. one from `portrait prepare`).
        #[arg(long)]
        landmarks: Option<PathBuf>,
        #[arg(long, default_value_t = 250)]
        frames: usize,
        #[arg(long, default_value_t = 512)]
        size: u32,
    }

    /// The renderer's per-frame target: 50 fps on one core (two cores must also encode video).
    const TARGET_FPS: f64 = 50.0;

    pub fn render(a: &RenderArgs) -> Result<()> {
        let layout = match &a.package {
            Some(dir) => Package::load_config(dir)
                .with_context(|| format!("model package {}", dir.display()))?
                .motion
                .map(|m| m.layout)
                .with_context(|| format!("model package {} generates no motion", dir.display()))?,
            None => MotionLayout::Mouth4_2d,
        };
        if a.test_motion.is_some() && layout != MotionLayout::Mouth4_2d {
            bail!("--test-motion is mouth4-2d motion; the package's layout is {}", layout.name());
        }
        let motion = match (&a.motion, a.test_motion) {
            (Some(p), _) => MotionFrames::read(p, &layout)?,
            (None, Some(secs)) => test_motion(secs, a.seed),
            (None, None) => bail!("give --motion MOTION.safetensors or --test-motion SECONDS"),
        };
        if a.out.is_none() && a.contact_sheet.is_none() {
            bail!("nothing to write: give --out DIR|OUT.mp4 and/or --contact-sheet OUT.png");
        }
        let opts = MeshWarpOptions {
            output: if a.full { OutputMode::Full } else { OutputMode::Crop { size: a.size } },
            idle: a.idle.then(|| IdleOptions { seed: a.seed, ..IdleOptions::default() }),
        };
        let t0 = Instant::now();
        let mut r: Box<dyn Renderer> = match &a.liveportrait {
            None => Box::new(MeshWarpRenderer::open(&a.portrait, a.landmarks.as_deref(), &opts)?),
            Some(models) => {
                if a.idle || a.full || a.size != 512 {
                    bail!("--idle, --full and --size apply to the mesh-warp renderer (LivePortrait pastes its 512x512 face back into the portrait)");
                }
                let portrait = jamflow::render::open_portrait(&a.portrait)?;
                let lm = jamflow::render::face::load_or_prepare(&a.portrait, &portrait, a.landmarks.as_deref())?;
                let img = portrait.image;
                let m = LivePortraitModels::open(models, &a.rt.options(models)?)?;
                Box::new(LivePortraitRenderer::new(m, &layout, &img, &lm)?)
            }
        };
        jamflow::render::check_layout(r.as_ref(), &layout)?;
        let prep = t0.elapsed().as_secs_f64();
        let n = a.frames.map_or(motion.frames, |f| f.min(motion.frames));
        if n == 0 {
            bail!("the motion has no frames");
        }
        let mut sink = a.out.as_ref().map(|o| FrameSink::create(o, r.frame_size())).transpose()?;
        let pick: Vec<usize> = match a.sheet_frames {
            0 => (0..n).collect(),
            k => (0..k.min(n)).map(|i| i * n / k.min(n)).collect(),
        };
        let mut sheet = Vec::new();
        let bar = indicatif::ProgressBar::new(n as u64);
        let t1 = Instant::now();
        for i in 0..n {
            let f = r.render(motion.frame(i), i as u64)?;
            if let Some(s) = sink.as_mut() {
                s.push(&f)?;
            }
            if a.contact_sheet.is_some() && pick.binary_search(&i).is_ok() {
                sheet.push(f);
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        let secs = t1.elapsed().as_secs_f64();
        if let Some(s) = sink {
            s.finish()?;
        }
        let (w, h) = r.frame_size();
        println!(
            "rendered {n} frames {w}x{h} ({:.2} s at 25 fps) in {secs:.2} s (+{prep:.2} s portrait preparation){}",
            n as f64 / 25.0,
            a.out.as_ref().map(|o| format!(" -> {}", o.display())).unwrap_or_default()
        );
        if let Some(p) = &a.contact_sheet {
            let cell = r.frame_size().0.min(384);
            save_png(&contact_sheet(&sheet, 4, cell), p)?;
            println!("contact sheet ({} frames) -> {}", sheet.len(), p.display());
        }
        Ok(())
    }

    pub fn portrait(c: &PortraitCmd) -> Result<()> {
        match c {
            PortraitCmd::Prepare(a) => super::prepare_cli::prepare(a),
            PortraitCmd::Check { image, landmarks, out, size } => {
                let portrait = jamflow::render::open_portrait(image)?;
                let lp = landmarks.clone().unwrap_or_else(|| default_path(image));
                let lm = portrait.to_working(&Landmarks::load(&lp, portrait.original)?);
                let img = portrait.image;
                let out = out.clone().unwrap_or_else(|| {
                    let stem = image.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                    PathBuf::from(format!("{stem}.landmarks-check.png"))
                });
                save_png(&draw_check(&img, &lm, *size), &out)?;
                println!(
                    "{}: landmarks valid (inter-ocular distance {:.1} px, blinks {}) -> {} ({CHECK_COLOURS})",
                    lp.display(),
                    lm.iod(),
                    if lm.eyelids.is_some() { "yes" } else { "no: no eyelids" },
                    out.display()
                );
                Ok(())
            }
        }
    }

    pub fn bench_render(a: &BenchRenderArgs) -> Result<()> {
        let motion = test_motion(a.frames as f64 / 25.0, 0);
        for (label, idle) in [("mouth only", None), ("mouth + idle life", Some(IdleOptions::default()))] {
            let opts = MeshWarpOptions { output: OutputMode::Crop { size: a.size }, idle };
            let mut r = MeshWarpRenderer::open(&a.portrait, a.landmarks.as_deref(), &opts)
                .with_context(|| format!("bench portrait {}", a.portrait.display()))?;
            // Warm up, then time (the renderer is single-threaded: one core).
            for i in 0..10 {
                r.render_ref(motion.frame(i % motion.frames), i as u64)?;
            }
            let t0 = Instant::now();
            for i in 0..a.frames {
                std::hint::black_box(r.render_ref(motion.frame(i % motion.frames), i as u64)?);
            }
            let fps = a.frames as f64 / t0.elapsed().as_secs_f64();
            println!(
                "mesh-warp {}x{} {label}: {fps:.0} fps on one core = {:.2} x the {TARGET_FPS} fps target",
                a.size,
                a.size,
                fps / TARGET_FPS
            );
        }
        Ok(())
    }
}

// ---- corpus (issue 5) ----

#[derive(Subcommand)]
enum CorpusCmd {
    /// Speak sentences with espeak-ng and derive ground-truth mouth motion; writes WAVs, safetensors, manifest.json.
    Make {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Hours of audio over all splits.
        #[arg(long, default_value_t = 1.0)]
        hours: f64,
        /// Share of validation and of test (each), of sentences and of hours.
        #[arg(long, default_value_t = 0.03)]
        eval_fraction: f64,
        /// Text files (fortune format or plain text); default: every fortune file in /usr/share/games/fortunes.
        #[arg(long)]
        text: Vec<PathBuf>,
        /// Engines that speak (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = jamflow::corpus::voices::Engine::ALL)]
        engines: Vec<jamflow::corpus::voices::Engine>,
        /// Share of training/validation utterances heard through drawn recording conditions (docs/corpus.md).
        #[arg(long, default_value_t = 0.65)]
        augment: f64,
        /// Python with piper-tts, pocketsphinx, pyroomacoustics (default $JAMFLOW_PYTHON, else .venv/bin/python).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// Mouth truth for any speech: a phone timeline (JSON as scripts/corpus_piper.py prints it: `phone_set`
    /// espeak|arpabet|ipa, `phones` [[name, start_s, end_s], ...]) -> a corpus motion file covering AUDIO's length,
    /// through the corpus's phone tables and articulator (scores `say` lips: scripts/eval_say_lips.py).
    Truth {
        /// The phone timeline (JSON).
        #[arg(long)]
        phones: PathBuf,
        /// The speech the timeline belongs to (any WAV): the motion covers its mel frames.
        #[arg(long)]
        audio: PathBuf,
        /// OUT.safetensors (`motion` [F, 12], `ph_start`, `ph_end`, phoneme names).
        #[arg(long)]
        out: PathBuf,
    },
}

fn corpus_cmd(c: CorpusCmd) -> Result<()> {
    use jamflow::corpus;
    match c {
        CorpusCmd::Make { out, seed, hours, eval_fraction, text, engines, augment, python } => {
            let text = if text.is_empty() {
                corpus::text::fortune_files(Path::new(corpus::DEFAULT_TEXT_DIR))
                    .context("no --text given; install the Debian package fortunes or pass --text FILE")?
            } else {
                text
            };
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let python = python
                .or_else(|| std::env::var_os("JAMFLOW_PYTHON").map(PathBuf::from))
                .unwrap_or_else(|| root.join(".venv/bin/python"));
            let scripts = root.join("scripts");
            let opts = corpus::CorpusOptions {
                out: out.clone(),
                seed,
                hours,
                eval_fraction,
                text,
                engines,
                augment,
                python,
                scripts,
            };
            let m = corpus::make_corpus(&opts)?;
            for s in corpus::SPLITS {
                let st = &m.splits[s];
                println!("{s:5}: {} utterances, {} sentences, {:.3} h", st.utterances, st.sentences, st.hours);
            }
            if !m.unknown_phonemes.is_empty() {
                println!("phonemes without a mapping (neutral target): {}", m.unknown_phonemes.join(" "));
            }
            println!("{} source sentences -> {}", m.source_sentences, out.join(corpus::MANIFEST).display());
            Ok(())
        }
        CorpusCmd::Truth { phones, audio, out } => {
            let text = std::fs::read_to_string(&phones).with_context(|| format!("reading {}", phones.display()))?;
            let timeline = corpus::truth::Timeline::parse(&text, &phones)?;
            let cfg = jamflow::model::config::AudioConfig::default();
            let samples = jamflow::audio::wav::load_mono(&audio, cfg.sample_rate)?.len();
            let art = corpus::articulation::Articulator::default();
            let t = corpus::truth::write_truth(&timeline, samples, &cfg, &art, &out)?;
            if !t.unknown.is_empty() {
                tracing::warn!(phones = %t.unknown.join(" "), "phones without a mapping (neutral target)");
            }
            println!("{} phones -> {} frames -> {}", t.phonemes, t.frames, out.display());
            Ok(())
        }
    }
}
