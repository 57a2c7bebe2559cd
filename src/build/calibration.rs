//! Calibration sets: `calibration/NAME/manifest.json` says where the requests come from and how the
//! sampler ran; `records.safetensors` beside it holds the graph inputs recorded at every timestep the
//! sampler visited (a cache: reproducible from the manifest, re-recorded when missing, an error when it
//! does not match the manifest's hash).
//!
//! Sources of requests:
//! - `request`: a `jamflow sample` request file (safetensors, names in `sampler::names`), hashed;
//! - `generated`: requests drawn from a seed (text, reference/known mel and motion from seeded noise),
//!   cycling through the three uses (text -> speech + motion, audio -> motion, motion -> speech);
//! - `wav`: a WAV file + its text (+ a motion file) through the audio front end ([`wav_request`]): the
//!   live chunked-inpainting shape — audio known over the whole window, motion known over the first half
//!   (the history) when a motion file is given, else generated everywhere.
//!
//! The last `holdout` requests are not recorded: they are the hold-out of the end-to-end accuracy report.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{file_err, progress, sha256_file, sha256_hex, BuildError};
use crate::model::config::Schedule;
use crate::model::{ModelConfig, Package};
use crate::rng::Noise;
use crate::runtime::tensors::{read_safetensors, write_safetensors};
use crate::runtime::{Backend, HostTensor, NamedTensors, RuntimeError};
use crate::sampler::{self, names, Request, SamplerOptions};
use crate::speech::text_input::{text_input, Length};

pub const FORMAT: &str = "jamflow-calibration/1";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const RECORDS_FILE: &str = "records.safetensors";

/// Where a calibration request comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A request file (relative paths are relative to the set's directory).
    Request { path: PathBuf, sha256: String },
    /// `count` requests from `seed`, lengths cycling through `seconds`.
    Generated { seed: u64, count: usize, seconds: Vec<f64> },
    /// A WAV file (relative paths as above), its text, and optionally a motion file (tensor `motion`).
    Wav { audio: PathBuf, sha256: String, text: String, motion: Option<PathBuf> },
}

/// The package a set was recorded with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRef {
    pub name: String,
    pub config_sha256: String,
    pub weights_sha256: String,
}

/// How the sampler ran while recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplerRef {
    pub steps: usize,
    pub schedule: Schedule,
    pub cfg_strength: f32,
    pub seed: u64,
}

/// The recorded graph inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordsRef {
    pub file: String,
    pub sha256: String,
    /// Recorded network evaluations (one per sampler step per calibration request).
    pub evaluations: usize,
}

/// `calibration/NAME/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationManifest {
    pub format: String,
    pub name: String,
    /// Hash of what determines the records (package, sources, sampler, holdout).
    pub id: String,
    pub package: PackageRef,
    pub sampler: SamplerRef,
    pub sources: Vec<Source>,
    pub holdout: usize,
    pub records: RecordsRef,
}

/// A loaded set.
pub struct CalibrationSet {
    pub dir: PathBuf,
    pub manifest: CalibrationManifest,
    /// Calibration requests' recorded graph inputs, in sampler order.
    pub records: Vec<NamedTensors>,
    /// Hold-out requests (not recorded).
    pub holdout: Vec<Request>,
}

fn cal_err(dir: &Path, msg: impl std::fmt::Display) -> BuildError {
    BuildError::Calibration { path: dir.to_path_buf(), msg: msg.to_string() }
}

/// Hashes of a package's files.
pub fn package_ref(pkg: &Package) -> Result<PackageRef, BuildError> {
    Ok(PackageRef {
        name: pkg.config.name.clone(),
        config_sha256: sha256_file(&pkg.dir.join(crate::model::package::CONFIG_FILE))?,
        weights_sha256: sha256_file(&pkg.dir.join(crate::model::package::WEIGHTS_FILE))?,
    })
}

impl CalibrationManifest {
    fn compute_id(&self) -> String {
        let v = serde_json::json!({
            "package": self.package, "sampler": self.sampler, "sources": self.sources, "holdout": self.holdout,
        });
        sha256_hex(v.to_string().as_bytes())[..16].to_string()
    }
}

/// Generated request `i` of a `generated` source.
pub fn generated_request(cfg: &ModelConfig, seed: u64, i: usize, seconds: f64) -> Request {
    let mut noise = Noise::new(seed.wrapping_mul(1_000_003).wrapping_add(i as u64));
    let frames = ((seconds * cfg.audio.mel_rate()).round() as usize).max(2);
    let m = cfg.audio.n_mels;
    // Log-mel-like values: mean -4, spread 2.
    let mel: Vec<f32> = noise.vec(frames * m).into_iter().map(|v| -4.0 + 2.0 * v).collect();
    let text: Vec<i64> = match &cfg.text {
        Some(tc) => {
            let n = (frames / 6).max(1);
            (0..n).map(|_| ((noise.normal().abs() * 1e4) as i64) % tc.vocab_size as i64).collect()
        }
        None => Vec::new(),
    };
    let f = cfg.motion_frames_for(frames);
    let (k, r) = cfg.motion.as_ref().map_or((0, 0), |mc| (mc.layout.motion_dim(), mc.layout.rest_dim()));
    let motion: Vec<f32> = noise.vec(f * k).into_iter().map(|v| 0.1 * v).collect();
    let mut req = match (i % 3, cfg.motion.is_some()) {
        (1, true) => Request::audio_to_motion(cfg, &mel),
        (2, true) => Request::motion_to_speech(cfg, &motion, text.clone(), frames),
        _ => Request::text_to_speech(cfg, text.clone(), &mel[..(frames / 3) * m], frames),
    };
    if r > 0 {
        req.rest = noise.vec(f * r).into_iter().map(|v| 0.1 * v).collect();
    }
    req
}

/// A WAV (+ text, + motion) calibration request: the WAV's mel known over the whole window, its text
/// tokenized with the package's vocab, motion from `motion` (tensor `motion` [F, K]) known over the first
/// half of the frames, generated elsewhere.
pub fn wav_request(pkg: &Package, audio: &Path, text: &str, motion: Option<&Path>) -> Result<Request, String> {
    let cfg = &pkg.config;
    let samples = crate::audio::wav::load_mono(audio, cfg.audio.sample_rate).map_err(|e| e.to_string())?;
    let mel = crate::audio::mel::MelSpec::new(&cfg.audio)
        .and_then(|m| m.compute(&samples))
        .map_err(|e| format!("{}: {e}", audio.display()))?;
    let mut req = Request::audio_to_motion(cfg, &mel.data);
    if cfg.text.is_some() {
        let vocab = pkg.vocab.as_ref().ok_or_else(|| "the package has text but no vocab".to_string())?;
        // As the model engine builds it (filler characters, or a durations package's phonemes over the WAV).
        let frames = Length::Frames(req.mel_frames);
        let timer = &mut crate::speech::text_input::EspeakTimer;
        req.text = text_input(cfg, vocab, text, None, frames, timer).map_err(|e| e.to_string())?.ids;
    }
    if let (Some(path), Some(mc)) = (motion, &cfg.motion) {
        let t = read_safetensors(path).map_err(|e| e.to_string())?;
        let m = t
            .get(names::MOTION)
            .and_then(|m| m.as_f32().map(|d| (m.shape.clone(), d)))
            .ok_or_else(|| format!("{}: no f32 tensor `{}`", path.display(), names::MOTION))?;
        let (f, k) = (req.motion_known.len(), mc.layout.motion_dim());
        if m.0 != [f, k] {
            return Err(format!(
                "{}: tensor `{}` has shape {:?}; {} needs [{f}, {k}] (its motion frames at {} fps)",
                path.display(),
                names::MOTION,
                m.0,
                audio.display(),
                mc.fps
            ));
        }
        let history = f / 2;
        req.cond_motion[..history * k].copy_from_slice(&m.1[..history * k]);
        req.motion_known[..history].iter_mut().for_each(|v| *v = true);
    }
    Ok(req)
}

/// Expand the sources into requests (checking request files against their hashes).
pub fn requests(pkg: &Package, dir: &Path, sources: &[Source]) -> Result<Vec<Request>, BuildError> {
    let cfg = &pkg.config;
    let mut out = Vec::new();
    let resolve = |path: &PathBuf| if path.is_absolute() { path.clone() } else { dir.join(path) };
    for s in sources {
        match s {
            Source::Request { path, sha256 } => {
                let p = resolve(path);
                check_hash(dir, "request file", &p, sha256)?;
                let t = read_safetensors(&p).map_err(|e| cal_err(dir, e))?;
                out.push(Request::from_tensors(cfg, &t).map_err(|e| cal_err(dir, format!("{}: {e}", p.display())))?);
            }
            Source::Generated { seed, count, seconds } => {
                if seconds.is_empty() || seconds.iter().any(|&s| !(s > 0.0 && s.is_finite())) {
                    return Err(cal_err(
                        dir,
                        "generated source: `seconds` must be a non-empty list of positive numbers",
                    ));
                }
                for i in 0..*count {
                    out.push(generated_request(cfg, *seed, i, seconds[i % seconds.len()]));
                }
            }
            Source::Wav { audio, sha256, text, motion } => {
                let p = resolve(audio);
                check_hash(dir, "WAV file", &p, sha256)?;
                let m = motion.as_ref().map(resolve);
                out.push(wav_request(pkg, &p, text, m.as_deref()).map_err(|e| cal_err(dir, e))?);
            }
        }
    }
    Ok(out)
}

/// A source file must exist and still have the hash the manifest recorded.
fn check_hash(dir: &Path, what: &str, p: &Path, sha256: &str) -> Result<(), BuildError> {
    if !p.exists() {
        return Err(cal_err(dir, format!("{what} {} is missing", p.display())));
    }
    let h = sha256_file(p)?;
    if h != sha256 {
        return Err(cal_err(dir, format!("{what} {} changed: sha256 {h}, the manifest says {sha256}", p.display())));
    }
    Ok(())
}

/// A backend that records every evaluation's inputs while an inner backend runs them.
struct Recorder<'a> {
    inner: &'a mut dyn Backend,
    records: Vec<NamedTensors>,
}

impl Backend for Recorder<'_> {
    fn describe(&self) -> String {
        format!("recording {}", self.inner.describe())
    }
    fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
        self.records.push(inputs.clone());
        self.inner.run(inputs)
    }
}

/// Run the sampler on each calibration request with `backend` (the FP32 graph) and record the graph
/// inputs of every step.
pub fn record(
    backend: &mut dyn Backend,
    cfg: &ModelConfig,
    reqs: &[Request],
    sampler: &SamplerRef,
) -> Result<Vec<NamedTensors>, BuildError> {
    let opts = SamplerOptions {
        steps: sampler.steps,
        schedule: sampler.schedule.clone(),
        cfg_strength: sampler.cfg_strength,
        seed: sampler.seed,
        guidance_baked: cfg.sampler.guidance_baked,
        noise_scale: cfg.sampler.noise_scale as f32,
    };
    let mut rec = Recorder { inner: backend, records: Vec::new() };
    let pb = progress(reqs.len() as u64, "calibration requests");
    for (i, r) in reqs.iter().enumerate() {
        let o = SamplerOptions { seed: opts.seed.wrapping_add(i as u64), ..opts.clone() };
        sampler::sample(&mut rec, cfg, r, &o)?;
        pb.inc(1);
    }
    pb.finish_and_clear();
    Ok(rec.records)
}

fn records_to_tensors(records: &[NamedTensors]) -> NamedTensors {
    let mut t = NamedTensors::new();
    for (i, r) in records.iter().enumerate() {
        for (k, v) in r {
            t.insert(format!("{i:06}/{k}"), v.clone());
        }
    }
    t
}

fn tensors_to_records(t: NamedTensors, n: usize) -> Result<Vec<NamedTensors>, String> {
    let mut out = vec![NamedTensors::new(); n];
    for (k, v) in t {
        let (i, name) = k.split_once('/').ok_or_else(|| format!("tensor `{k}`: expected INDEX/NAME"))?;
        let i: usize = i.parse().map_err(|_| format!("tensor `{k}`: bad record index"))?;
        out.get_mut(i)
            .ok_or_else(|| format!("tensor `{k}`: record {i} beyond the {n} the manifest lists"))?
            .insert(name.to_string(), v);
    }
    if let Some(i) = out.iter().position(|r| r.is_empty()) {
        return Err(format!("record {i} is empty"));
    }
    Ok(out)
}

/// What `jamflow calibration make` takes.
pub struct MakeOptions {
    pub name: String,
    pub sources: Vec<Source>,
    pub holdout: usize,
    pub steps: Option<usize>,
    pub seed: u64,
}

/// Make a set in `root/NAME` for `pkg`, recording with `backend` (the package's FP32 graph).
pub fn make(
    root: &Path,
    pkg: &Package,
    backend: &mut dyn Backend,
    opts: &MakeOptions,
) -> Result<CalibrationSet, BuildError> {
    let dir = root.join(&opts.name);
    std::fs::create_dir_all(&dir).map_err(|e| file_err(&dir, e))?;
    let cfg = &pkg.config;
    let sampler = SamplerRef {
        steps: opts.steps.unwrap_or(cfg.sampler.steps),
        schedule: cfg.sampler.schedule.clone(),
        cfg_strength: cfg.sampler.cfg_strength as f32,
        seed: opts.seed,
    };
    let mut manifest = CalibrationManifest {
        format: FORMAT.into(),
        name: opts.name.clone(),
        id: String::new(),
        package: package_ref(pkg)?,
        sampler,
        sources: opts.sources.clone(),
        holdout: opts.holdout,
        records: RecordsRef { file: RECORDS_FILE.into(), sha256: String::new(), evaluations: 0 },
    };
    manifest.id = manifest.compute_id();
    let reqs = requests(pkg, &dir, &manifest.sources)?;
    let (cal, hold) = split(&dir, &reqs, opts.holdout)?;
    let records = record(backend, cfg, cal, &manifest.sampler)?;
    let path = dir.join(RECORDS_FILE);
    write_safetensors(&path, &records_to_tensors(&records))?;
    manifest.records.sha256 = sha256_file(&path)?;
    manifest.records.evaluations = records.len();
    let mp = dir.join(MANIFEST_FILE);
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    std::fs::write(&mp, text + "\n").map_err(|e| file_err(&mp, e))?;
    Ok(CalibrationSet { dir, manifest, records, holdout: hold.to_vec() })
}

fn split<'a>(dir: &Path, reqs: &'a [Request], holdout: usize) -> Result<(&'a [Request], &'a [Request]), BuildError> {
    if reqs.len() <= holdout {
        return Err(cal_err(
            dir,
            format!("{} request(s) but holdout = {holdout}: at least one must be left to calibrate on", reqs.len()),
        ));
    }
    Ok(reqs.split_at(reqs.len() - holdout))
}

/// Load the set in `dir` for `pkg`: the manifest must be readable and name this package's files; the
/// records must match the manifest's hash (re-recorded with `backend` when the file is missing).
pub fn load(dir: &Path, pkg: &Package, backend: &mut dyn Backend) -> Result<CalibrationSet, BuildError> {
    let mp = dir.join(MANIFEST_FILE);
    if !mp.exists() {
        return Err(cal_err(dir, format!("no {MANIFEST_FILE} (make one with `jamflow calibration make`)")));
    }
    let text = std::fs::read_to_string(&mp).map_err(|e| cal_err(dir, format!("{MANIFEST_FILE}: {e}")))?;
    let mut manifest: CalibrationManifest = serde_json::from_str(&text)
        .map_err(|e| cal_err(dir, format!("{MANIFEST_FILE}: not a calibration manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(cal_err(dir, format!("{MANIFEST_FILE}: format `{}`, expected `{FORMAT}`", manifest.format)));
    }
    if manifest.id != manifest.compute_id() {
        return Err(cal_err(
            dir,
            format!("{MANIFEST_FILE}: id {} does not match its contents (edited by hand?)", manifest.id),
        ));
    }
    let here = package_ref(pkg)?;
    if here.weights_sha256 != manifest.package.weights_sha256 || here.config_sha256 != manifest.package.config_sha256 {
        return Err(cal_err(
            dir,
            format!(
                "recorded with another package (`{}`, weights sha256 {}…); this package's weights are {}…: \
                 make a new set for it",
                manifest.package.name,
                &manifest.package.weights_sha256[..12.min(manifest.package.weights_sha256.len())],
                &here.weights_sha256[..12]
            ),
        ));
    }
    let reqs = requests(pkg, dir, &manifest.sources)?;
    let (cal, hold) = split(dir, &reqs, manifest.holdout)?;
    let path = dir.join(&manifest.records.file);
    let records = if path.exists() {
        let h = sha256_file(&path)?;
        if h != manifest.records.sha256 {
            return Err(cal_err(
                dir,
                format!(
                    "{} is corrupt or stale: sha256 {h}, the manifest says {}; delete it to re-record it from the manifest",
                    path.display(),
                    manifest.records.sha256
                ),
            ));
        }
        let t = read_safetensors(&path).map_err(|e| cal_err(dir, e))?;
        tensors_to_records(t, manifest.records.evaluations)
            .map_err(|e| cal_err(dir, format!("{}: {e}", path.display())))?
    } else {
        tracing::info!("{} missing: re-recording it from {}", path.display(), mp.display());
        let r = record(backend, &pkg.config, cal, &manifest.sampler)?;
        write_safetensors(&path, &records_to_tensors(&r))?;
        let h = sha256_file(&path)?;
        if h != manifest.records.sha256 || r.len() != manifest.records.evaluations {
            // Same requests, sampler and weights; floating-point results may differ in the last bits
            // between ONNX Runtime builds and thread counts. The manifest now names the new file.
            tracing::warn!(
                "re-recorded {} differs bitwise from the original recording; updating its hash",
                path.display()
            );
            manifest.records.sha256 = h;
            manifest.records.evaluations = r.len();
            let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
            std::fs::write(&mp, text + "\n").map_err(|e| file_err(&mp, e))?;
        }
        r
    };
    Ok(CalibrationSet { dir: dir.to_path_buf(), manifest, records, holdout: hold.to_vec() })
}

/// A request as named tensors (the `jamflow sample` request format): the inverse of `Request::from_tensors`.
pub fn request_tensors(cfg: &ModelConfig, r: &Request) -> NamedTensors {
    let mut t = NamedTensors::new();
    let m = cfg.audio.n_mels;
    t.insert(names::COND_MEL.into(), HostTensor::f32(vec![r.mel_frames, m], r.cond_mel.clone()));
    t.insert(names::MEL_KNOWN.into(), HostTensor::bool(vec![r.mel_frames], r.mel_known.clone()));
    if cfg.text.is_some() {
        t.insert(names::TEXT.into(), HostTensor::i64(vec![r.text.len()], r.text.clone()));
    }
    if let Some(mc) = &cfg.motion {
        let f = r.motion_known.len();
        t.insert(names::COND_MOTION.into(), HostTensor::f32(vec![f, mc.layout.motion_dim()], r.cond_motion.clone()));
        t.insert(names::MOTION_KNOWN.into(), HostTensor::bool(vec![f], r.motion_known.clone()));
        if mc.layout.rest_dim() > 0 {
            t.insert(names::REST.into(), HostTensor::f32(vec![f, mc.layout.rest_dim()], r.rest.clone()));
        }
    }
    t
}
