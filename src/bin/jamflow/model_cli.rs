//! Model package commands: `info`, `forward`, `sample`, `export`, `bench`.

use super::*;

pub(crate) fn info(dir: &Path, seconds: f64) -> Result<()> {
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

pub(crate) fn forward(dir: &Path, inputs: &Path, out: &Path, rt: &RuntimeArgs, precision: Precision) -> Result<()> {
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
pub(crate) fn sample(
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

pub(crate) fn export(dir: &Path, out: &Path, external: bool) -> Result<()> {
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
pub(crate) fn bench_inputs(cfg: &jamflow::model::ModelConfig, frames: usize) -> Result<jamflow::runtime::NamedTensors> {
    jbuild::bench::nfe_inputs(cfg, frames).with_context(|| format!("bench inputs for {frames} mel frames"))
}

pub(crate) fn bench(
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
