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
        "sampler      {} steps, {:?}, cfg {}{}, noise scale {}",
        s.steps,
        s.schedule,
        s.cfg_strength,
        if s.guidance_baked { " (baked)" } else { "" },
        s.noise_scale
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
