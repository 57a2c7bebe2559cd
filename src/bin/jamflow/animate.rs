//! `jamflow animate AUDIO --out talk.mp4|motion.safetensors`: anyone's recording -> the model's mouth motion ->
//! a talking portrait with the audio muxed in (or the motion itself), through [`jamflow::animate`].

use std::path::{Path, PathBuf};

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
    pub audio: PathBuf,
    /// OUT.mp4 (talking portrait + the audio) or OUT.safetensors (tensor `motion` [F, K], 25 fps).
    #[arg(long)]
    pub out: PathBuf,
    /// Portrait for the video (its landmark file beside it).
    #[arg(long, default_value = "assets/portraits/astronaut.png")]
    pub portrait: PathBuf,
    /// Model package (default: the live default, engines/jamflow-small-student).
    #[arg(long)]
    pub package: Option<PathBuf>,
    /// Seconds of audio per model window, and of motion carried over between windows.
    #[arg(long, default_value_t = Windows::default().window_s)]
    pub window_s: f64,
    #[arg(long, default_value_t = Windows::default().history_s)]
    pub history_s: f64,
    /// Face-crop side in pixels.
    #[arg(long, default_value_t = 512)]
    pub size: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run the artifacts `jamflow build` made for this precision (fp32 on ONNX Runtime: the package's graph).
    #[arg(long, value_enum, default_value_t = Precision::Fp32)]
    pub precision: Precision,
    #[command(flatten)]
    pub rt: super::RuntimeArgs,
}

enum Out {
    Video { sink: FrameSink, renderer: Box<MeshWarpRenderer>, next: u64 },
    Motion { frames: Vec<f32> },
}

pub fn run(a: &AnimateArgs) -> Result<()> {
    let dir = package_dir(a.package.as_deref())?;
    let mut pkg = super::load(&dir)?;
    let cfg = pkg.config.clone();
    let layout =
        cfg.motion.as_ref().map(|m| m.layout.clone()).with_context(|| format!("{}: no motion", dir.display()))?;
    let k = layout.motion_dim();
    let ext = a.out.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let video = match ext.as_str() {
        "safetensors" => false,
        "mp4" => true,
        _ => bail!("--out {}: expected OUT.mp4 (video) or OUT.safetensors (motion)", a.out.display()),
    };
    let mut wav = WavStream::open(&a.audio)?;
    let mut out = if video {
        let (renderer, sink) = open_video(&dir, &layout, &a.portrait, a.size, &a.audio, &a.out)?;
        Out::Video { sink, renderer: Box::new(renderer), next: 0 }
    } else {
        Out::Motion { frames: Vec::new() }
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
        Out::Motion { frames } => write_motion(&a.out, frames, k)?,
        Out::Video { sink, .. } => sink.finish()?,
    }
    println!("{n} motion frames ({:.2} s at 25 fps) -> {}", n as f64 / 25.0, a.out.display());
    Ok(())
}

/// The mesh renderer of `portrait` for `layout` (the package `dir`'s) and an MP4 sink with `audio` muxed in.
pub fn open_video(
    dir: &Path,
    layout: &MotionLayout,
    portrait: &Path,
    size: u32,
    audio: &Path,
    out: &Path,
) -> Result<(MeshWarpRenderer, FrameSink)> {
    if *layout != MotionLayout::Mouth4_2d {
        bail!("{}: motion layout {} has no CPU renderer; write OUT.safetensors instead", dir.display(), layout.name());
    }
    let opts = MeshWarpOptions { output: OutputMode::Crop { size }, idle: None };
    let renderer = MeshWarpRenderer::open(portrait, None, &opts)?;
    jamflow::render::check_layout(&renderer, layout)?;
    let sink = FrameSink::create_with_audio(out, renderer.frame_size(), Some(audio))?;
    Ok((renderer, sink))
}

/// A motion file as `animate` and `say --motion-out` write it: tensor `motion` [F, k] (`frames` is `[F * k]`).
pub fn write_motion(path: &Path, frames: Vec<f32>, k: usize) -> Result<()> {
    let n = frames.len() / k;
    let t: NamedTensors = [("motion".to_string(), HostTensor::f32(vec![n, k], frames))].into();
    Ok(write_safetensors(path, &t)?)
}

/// The package of `--package`, or the live default under the checkout.
pub fn package_dir(package: Option<&Path>) -> Result<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match package {
        Some(p) => Ok(p.to_path_buf()),
        None => jamflow::daemon::default_package(root).context("no default model package under engines/"),
    }
}

fn render_err(e: RenderError) -> AnimateError {
    AnimateError::Invalid(e.to_string())
}
