//! `jamflow build`, `jamflow calibration make` and `jamflow bench --precision --project` (issue 7): TensorRT / ONNX
//! Runtime engines of a package, their calibration set, and the bench of a built engine.

use super::*;

#[derive(Args)]
pub(crate) struct BuildArgs {
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
pub(crate) enum CalibrationCmd {
    /// Record the graph inputs the sampler feeds the network at every step, over a set of requests.
    Make(CalibrationMakeArgs),
}

#[derive(Args)]
pub(crate) struct CalibrationMakeArgs {
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

pub(crate) fn cpu_options(threads: Option<usize>, lib: Option<PathBuf>) -> OrtOptions {
    OrtOptions { provider: Provider::Cpu, threads, library: lib, trt_cache: None, trt_int8: false, device_id: 0 }
}

pub(crate) fn build_cmd(a: BuildArgs) -> Result<()> {
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

pub(crate) fn calibration_make(a: CalibrationMakeArgs) -> Result<()> {
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

pub(crate) fn bench_build(
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
