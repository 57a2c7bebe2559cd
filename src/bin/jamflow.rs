//! `jamflow`: the offline tool (packages -> ONNX -> ONNX Runtime; parity tools; benchmarks).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use jamflow::model::config::Schedule;
use jamflow::model::import::{import_f5tts, F5Import, F5Preset};
use jamflow::model::random::{write_random_package, Preset};
use jamflow::model::{graph, io, onnx, stats, Package};
use jamflow::runtime::tensors::{check_inputs, read_safetensors, write_safetensors};
use jamflow::runtime::{ort_backend, Backend, OrtBackend, OrtOptions, Provider};
use jamflow::sampler::{self, Request, SamplerOptions};

#[derive(Parser)]
#[command(name = "jamflow", version, about = "JAM-Flow model packages -> ONNX -> ONNX Runtime / TensorRT")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Args, Clone)]
struct RuntimeArgs {
    /// Execution provider (cuda/tensorrt need the matching cargo feature and an ORT GPU build).
    #[arg(long, value_enum, default_value_t = Provider::Cpu)]
    provider: Provider,
    /// Intra-op threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// libonnxruntime.so to load (default: $JAMFLOW_ORT_LIB, $ORT_DYLIB_PATH, .ort/ from scripts/setup.sh).
    #[arg(long)]
    ort_lib: Option<PathBuf>,
}

impl RuntimeArgs {
    fn options(&self, pkg: &Path) -> OrtOptions {
        OrtOptions {
            provider: self.provider,
            threads: self.threads,
            library: self.ort_lib.clone(),
            trt_cache: Some(pkg.join("build").join("trt-cache")),
            device_id: 0,
        }
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
    },
    /// Write a package with seeded random weights (tests, benchmarks; not a usable voice).
    Random {
        dir: PathBuf,
        #[arg(long, value_enum, default_value_t = Preset::SmallMmdit)]
        preset: Preset,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// The main job until the live daemon lands: a package end to end on this machine.
    Demo {
        /// Working directory for what the demo writes.
        #[arg(long, default_value = "target/demo")]
        out: PathBuf,
    },
    /// The synthetic speech + mouth-motion training corpus (espeak-ng; docs/corpus.md).
    #[command(subcommand)]
    Corpus(CorpusCmd),
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
        Cmd::Forward { dir, inputs, out, rt } => forward(&dir, &inputs, &out, &rt),
        Cmd::Sample { dir, inputs, steps, schedule, cfg, seed, out, rt } => {
            sample(&dir, &inputs, steps, schedule.as_deref(), cfg, seed, &out, &rt)
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
        Cmd::Bench { dir, frames, iters, torch_python, rt } => bench(&dir, frames, iters, torch_python.as_deref(), &rt),
        Cmd::Random { dir, preset, seed } => {
            write_random_package(&preset.config(), seed, &dir)?;
            println!("wrote random-weights package {:?} (seed {seed}) -> {}", preset, dir.display());
            Ok(())
        }
        Cmd::Demo { out } => demo(&out),
        Cmd::Corpus(c) => corpus_cmd(c),
    }
}

fn load(dir: &Path) -> Result<Package> {
    Package::load(dir).with_context(|| format!("loading model package {}", dir.display()))
}

fn backend(pkg: &mut Package, rt: &RuntimeArgs) -> Result<OrtBackend> {
    let model = pkg.graph()?;
    let bytes = onnx::to_bytes(&model)?;
    Ok(OrtBackend::from_bytes(&bytes, &rt.options(&pkg.dir))?)
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

fn forward(dir: &Path, inputs: &Path, out: &Path, rt: &RuntimeArgs) -> Result<()> {
    let mut pkg = load(dir)?;
    let tensors = read_safetensors(inputs)?;
    check_inputs(&io::inputs(&pkg.config), &tensors).with_context(|| format!("{}", inputs.display()))?;
    let mut be = backend(&mut pkg, rt)?;
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
    rt: &RuntimeArgs,
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
    let result = sampler::sample(&mut be, &pkg.config, &req, &opts)?;
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
fn bench_inputs(cfg: &jamflow::model::ModelConfig, frames: usize) -> jamflow::runtime::NamedTensors {
    let mut req = Request::new(cfg, frames);
    let mut noise = jamflow::rng::Noise::new(1);
    req.cond_mel = noise.vec(req.cond_mel.len());
    req.mel_known.iter_mut().take(frames / 3).for_each(|k| *k = true);
    if let Some(tc) = &cfg.text {
        req.text = (0..frames as i64 / 3).map(|i| i % tc.vocab_size as i64).collect();
    }
    let mut t = jamflow::runtime::NamedTensors::new();
    // One step of the sampler's packing, through a recording backend.
    struct Rec(Option<jamflow::runtime::NamedTensors>);
    impl Backend for Rec {
        fn describe(&self) -> String {
            "record".into()
        }
        fn run(
            &mut self,
            i: &jamflow::runtime::NamedTensors,
        ) -> Result<jamflow::runtime::NamedTensors, jamflow::runtime::RuntimeError> {
            self.0 = Some(i.clone());
            Err(jamflow::runtime::RuntimeError::Ort("recorded".into()))
        }
    }
    let mut rec = Rec(None);
    let opts =
        SamplerOptions { steps: 1, schedule: Schedule::Uniform, cfg_strength: 2.0, seed: 0, guidance_baked: false };
    let _ = sampler::sample(&mut rec, cfg, &req, &opts);
    if let Some(i) = rec.0 {
        t = i;
    }
    t
}

fn bench(dir: &Path, frames: usize, iters: usize, torch_python: Option<&Path>, rt: &RuntimeArgs) -> Result<()> {
    let mut pkg = load(dir)?;
    let inputs = bench_inputs(&pkg.config, frames);
    let mut be = backend(&mut pkg, rt)?;
    be.run(&inputs)?; // warm-up
    let t0 = Instant::now();
    for _ in 0..iters.max(1) {
        be.run(&inputs)?;
    }
    let ort_ms = t0.elapsed().as_secs_f64() * 1e3 / iters.max(1) as f64;
    let threads = rt.threads.map_or_else(|| "all".to_string(), |n| n.to_string());
    println!(
        "ORT {}  {}: {:.2} ms per NFE (batch 2 = cond+uncond, {} mel frames, threads {threads})",
        ort_backend::version(),
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

fn demo(out: &Path) -> Result<()> {
    // Until the trained default model (issue 5) and the live daemon (issue 6) land, the main job shows
    // the model core end to end: package -> checked weights -> ONNX -> ONNX Runtime -> sampler.
    println!("jamflow demo: model core end to end (random weights: no trained model ships yet)");
    let pkg_dir = out.join("random-small-mmdit");
    write_random_package(&Preset::SmallMmdit.config(), 0, &pkg_dir)?;
    info(&pkg_dir, 10.0)?;
    export(&pkg_dir, &pkg_dir.join("build").join("fp32").join("model.onnx"), false)?;
    let mut pkg = load(&pkg_dir)?;
    let cfg = pkg.config.clone();
    let vocab = pkg.vocab.clone().context("demo package has no vocab")?;
    let mut be = backend(&mut pkg, &RuntimeArgs { provider: Provider::Cpu, threads: None, ort_lib: None })?;
    let text = "hello from jamflow";
    let frames = sampler::estimate_frames(0, "", text, 1.0).max(2 * cfg.audio.mel_rate() as usize);
    let req = Request::text_to_speech(&cfg, vocab.encode(text), &[], frames);
    let opts = SamplerOptions { steps: 8, ..SamplerOptions::from_config(&cfg, 0) };
    let t0 = Instant::now();
    let result = sampler::sample(&mut be, &cfg, &req, &opts)?;
    let secs = t0.elapsed().as_secs_f64();
    let path = out.join("text-to-mel-motion.safetensors");
    write_safetensors(&path, &result.to_tensors(&cfg))?;
    let audio_s = frames as f64 / cfg.audio.mel_rate();
    println!(
        "sampled {:.2} s of mel + motion ({} + {} frames, {} steps, cfg {}) in {:.2} s on {} -> {}",
        audio_s,
        result.mel_frames,
        result.motion_frames,
        opts.steps,
        opts.cfg_strength,
        secs,
        be.describe(),
        path.display()
    );
    println!(
        "next: the trained default model (issue 5) and the live daemon `jamflowd --config configs/demo.toml` (issue 6)"
    );
    Ok(())
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
    },
}

fn corpus_cmd(c: CorpusCmd) -> Result<()> {
    use jamflow::corpus;
    match c {
        CorpusCmd::Make { out, seed, hours, eval_fraction, text } => {
            let text = if text.is_empty() {
                corpus::text::fortune_files(Path::new(corpus::DEFAULT_TEXT_DIR))
                    .context("no --text given; install the Debian package fortunes or pass --text FILE")?
            } else {
                text
            };
            let m = corpus::make_corpus(&corpus::CorpusOptions { out: out.clone(), seed, hours, eval_fraction, text })?;
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
    }
}
