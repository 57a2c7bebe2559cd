//! Renderer commands (issue 4): `jamflow render`, `jamflow portrait check`, `bench-render`.

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
