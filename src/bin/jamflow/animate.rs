//! `jamflow animate AUDIO --out talk.mp4|motion.safetensors`: anyone's recording -> the model's mouth motion ->
//! a talking portrait with the audio muxed in (or the motion itself), through [`jamflow::animate`].

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use jamflow::animate::{animate_wav, AnimateError, Windows};
use jamflow::audio::wav::WavStream;
use jamflow::compile::Precision;
use jamflow::model::config::MotionLayout;
use jamflow::render::mesh::{MeshWarpOptions, MeshWarpRenderer, OutputMode};
use jamflow::render::output::FrameSink;
use jamflow::render::{RenderError, Renderer};
use jamflow::runtime::tensors::{write_safetensors, HostTensor, NamedTensors};

#[derive(Args)]
pub struct AnimateArgs {
    /// A WAV file: any rate, channels and length.
    audio: PathBuf,
    /// OUT.mp4 (talking portrait + the audio) or OUT.safetensors (tensor `motion` [F, K], 25 fps).
    #[arg(long)]
    out: PathBuf,
    /// Portrait for the video (its landmark file beside it).
    #[arg(long, default_value = "assets/portraits/astronaut.png")]
    portrait: PathBuf,
    /// Model package (default: the live default, engines/jamflow-small-student).
    #[arg(long)]
    package: Option<PathBuf>,
    /// Seconds of audio per model window, and of motion carried over between windows.
    #[arg(long, default_value_t = Windows::default().window_s)]
    window_s: f64,
    #[arg(long, default_value_t = Windows::default().history_s)]
    history_s: f64,
    /// Face-crop side in pixels.
    #[arg(long, default_value_t = 512)]
    size: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run the artifacts `jamflow build` made for this precision (fp32 on ONNX Runtime: the package's graph).
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    precision: Precision,
    #[command(flatten)]
    rt: super::RuntimeArgs,
}

enum Out {
    Video { sink: FrameSink, renderer: Box<MeshWarpRenderer>, next: u64 },
    Motion { frames: Vec<f32> },
}

pub fn run(a: &AnimateArgs) -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match &a.package {
        Some(p) => p.clone(),
        None => jamflow::daemon::default_package(root).context("no default model package under engines/")?,
    };
    let mut pkg = super::load(&dir)?;
    let cfg = pkg.config.clone();
    let layout =
        cfg.motion.as_ref().map(|m| m.layout.clone()).with_context(|| format!("{}: no motion", dir.display()))?;
    let k = layout.motion_dim();
    let ext = a.out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !["safetensors", "mp4"].contains(&ext.as_str()) {
        bail!("--out {}: expected OUT.mp4 (video) or OUT.safetensors (motion)", a.out.display());
    }
    let mut wav = WavStream::open(&a.audio)?;
    let mut out = match ext.as_str() {
        "safetensors" => Out::Motion { frames: Vec::new() },
        "mp4" => {
            if layout != MotionLayout::Mouth4_2d {
                bail!(
                    "{}: motion layout {} has no CPU renderer; write OUT.safetensors instead",
                    dir.display(),
                    layout.name()
                );
            }
            let opts = MeshWarpOptions { output: OutputMode::Crop { size: a.size }, idle: None };
            let renderer = MeshWarpRenderer::open(&a.portrait, None, &opts)?;
            jamflow::render::check_layout(&renderer, &layout)?;
            let sink = FrameSink::create_with_audio(&a.out, renderer.frame_size(), Some(&a.audio))?;
            Out::Video { sink, renderer: Box::new(renderer), next: 0 }
        }
        _ => unreachable!("extension checked above"),
    };
    let mut backend = super::backend(&mut pkg, &(a.rt.clone(), a.precision))?;
    let bar = indicatif::ProgressBar::new((wav.frames as f64 / wav.sample_rate as f64).ceil() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s of audio [{elapsed} / {eta}]")
            .expect("static template"),
    );
    let windows = Windows { window_s: a.window_s, history_s: a.history_s };
    let emit = |m: &[f32]| -> Result<(), AnimateError> {
        match &mut out {
            Out::Motion { frames } => frames.extend_from_slice(m),
            Out::Video { sink, renderer, next } => {
                for f in m.chunks_exact(k) {
                    let img = renderer.render(f, *next).map_err(render_err)?;
                    sink.push(&img).map_err(render_err)?;
                    *next += 1;
                }
            }
        }
        Ok(())
    };
    let n =
        animate_wav(&mut wav, backend.as_mut(), &cfg, &windows, a.seed, emit, |done, _| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    match out {
        Out::Motion { frames } => {
            let t: NamedTensors = [("motion".to_string(), HostTensor::f32(vec![n, k], frames))].into();
            write_safetensors(&a.out, &t)?;
        }
        Out::Video { sink, .. } => sink.finish()?,
    }
    println!("{n} motion frames ({:.2} s at 25 fps) -> {}", n as f64 / 25.0, a.out.display());
    Ok(())
}

fn render_err(e: RenderError) -> AnimateError {
    AnimateError::Invalid(e.to_string())
}
