//! The sampler: Euler on the rectified flow `x_t = (1 - t) x0 + t x1` (velocity `x1 - x0`), with
//! classifier-free guidance (cond and uncond rows packed in one backend call), inpainting (known regions
//! conditioned on and written back), and seeded noise. See `docs/model.md` "Sampler".
//!
//! One call, [`sample`], serves the three uses: text (+ reference audio) -> mel + motion, audio -> motion,
//! motion (+ text) -> mel; [`Request`] builders set up each.

use std::collections::BTreeMap;

use crate::model::config::{check_time_list, ModelConfig, Schedule};
use crate::model::io;
use crate::rng::Noise;
use crate::runtime::{Backend, HostTensor, NamedTensors, RuntimeError};

/// Names of the tensors of a sampler request/result file (no batch dimension).
pub mod names {
    /// Known mel `[T, M]` (values outside `mel_known` are ignored).
    pub const COND_MEL: &str = "cond_mel";
    /// Known mel frames `[T]`.
    pub const MEL_KNOWN: &str = "mel_known";
    /// Text ids `[Nt]` (text models).
    pub const TEXT: &str = "text";
    /// Known motion `[F, K]`.
    pub const COND_MOTION: &str = "cond_motion";
    /// Known motion frames `[F]`.
    pub const MOTION_KNOWN: &str = "motion_known";
    /// Motion conditioning `[F, R]` (layouts with `rest_dim > 0`).
    pub const REST: &str = "rest";
    /// Optional initial noise `[T, M]` / `[F, K]` (else drawn from the seed).
    pub const NOISE_MEL: &str = "noise_mel";
    pub const NOISE_MOTION: &str = "noise_motion";
    /// Results.
    pub const MEL: &str = "mel";
    pub const MOTION: &str = "motion";
}

/// Sampler failures.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    #[error("sampler input `{name}`: {msg}")]
    Input { name: String, msg: String },
    #[error("schedule: {0}")]
    Schedule(String),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

fn input_err(name: &str, msg: impl Into<String>) -> SampleError {
    SampleError::Input { name: name.into(), msg: msg.into() }
}

/// Options of one sampling run.
#[derive(Debug, Clone)]
pub struct SamplerOptions {
    pub steps: usize,
    pub schedule: Schedule,
    /// Guidance strength `w` in `v_c + w (v_c - v_u)`; 0 = no unconditional pass.
    pub cfg_strength: f32,
    pub seed: u64,
    /// The package has guidance baked in (a distilled student): one conditional pass per step.
    pub guidance_baked: bool,
    /// Scale of the drawn initial noise (the package's `sampler.noise_scale`; noise given in a [`Request`] is used
    /// as it is).
    pub noise_scale: f32,
}

impl SamplerOptions {
    /// The package's defaults.
    pub fn from_config(cfg: &ModelConfig, seed: u64) -> Self {
        let s = &cfg.sampler;
        Self {
            steps: s.steps,
            schedule: s.schedule.clone(),
            cfg_strength: s.cfg_strength as f32,
            seed,
            guidance_baked: s.guidance_baked,
            noise_scale: s.noise_scale as f32,
        }
    }
}

/// The time grid `t_0 = 0 < ... < t_n = 1` of a schedule (f32, as F5 computes it).
pub fn times(schedule: &Schedule, steps: usize) -> Result<Vec<f32>, SampleError> {
    if steps == 0 {
        return Err(SampleError::Schedule("steps must be > 0".into()));
    }
    let uniform = |n: usize| -> Vec<f32> { (0..=n).map(|i| i as f32 / n as f32).collect() };
    let sway = |t: Vec<f32>, s: f32| -> Vec<f32> {
        t.into_iter().map(|t| t + s * ((std::f32::consts::FRAC_PI_2 * t).cos() - 1.0 + t)).collect()
    };
    Ok(match schedule {
        Schedule::Uniform => uniform(steps),
        Schedule::Sway { coef } => sway(uniform(steps), *coef as f32),
        Schedule::Epss { sway: s } => {
            let t = match epss_grid(steps) {
                Some(g) => g.iter().map(|&k| k as f32 / 32.0).collect(),
                None => uniform(steps),
            };
            match s {
                Some(c) => sway(t, *c as f32),
                None => t,
            }
        }
        Schedule::List { t } => {
            check_time_list(t).map_err(SampleError::Schedule)?;
            t.iter().map(|&v| v as f32).collect()
        }
    })
}

/// F5-TTS's Empirically Pruned Step Sampling grids, in 1/32 units.
fn epss_grid(steps: usize) -> Option<&'static [u32]> {
    Some(match steps {
        5 => &[0, 2, 4, 8, 16, 32],
        6 => &[0, 2, 4, 6, 8, 16, 32],
        7 => &[0, 2, 4, 6, 8, 16, 24, 32],
        10 => &[0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32],
        12 => &[0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32],
        16 => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32],
        _ => return None,
    })
}

/// One sampling problem (a single sequence; no batch dimension).
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Mel frames to generate (`T`).
    pub mel_frames: usize,
    /// Known mel `[T * M]` and which frames are known `[T]`.
    pub cond_mel: Vec<f32>,
    pub mel_known: Vec<bool>,
    /// Text ids (text models).
    pub text: Vec<i64>,
    /// Known motion `[F * K]` and which frames are known `[F]` (motion models).
    pub cond_motion: Vec<f32>,
    pub motion_known: Vec<bool>,
    /// Motion conditioning `[F * R]` (layouts with rest).
    pub rest: Vec<f32>,
    /// Explicit initial noise (else drawn from the seed).
    pub noise_mel: Option<Vec<f32>>,
    pub noise_motion: Option<Vec<f32>>,
}

/// Result: the generated (and written-back) sequences.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub mel: Vec<f32>,    // [T * M]
    pub motion: Vec<f32>, // [F * K]
    pub mel_frames: usize,
    pub motion_frames: usize,
}

impl Request {
    /// An empty request of `mel_frames` frames: nothing known, no text.
    pub fn new(cfg: &ModelConfig, mel_frames: usize) -> Self {
        let f = cfg.motion_frames_for(mel_frames);
        let (k, r) = cfg.motion.as_ref().map_or((0, 0), |m| (m.layout.motion_dim(), m.layout.rest_dim()));
        Self {
            mel_frames,
            cond_mel: vec![0.0; mel_frames * cfg.audio.n_mels],
            mel_known: vec![false; mel_frames],
            text: Vec::new(),
            cond_motion: vec![0.0; f * k],
            motion_known: vec![false; f],
            rest: vec![0.0; f * r],
            noise_mel: None,
            noise_motion: None,
        }
    }

    /// Text (+ reference audio mel `[ref_frames * M]` whose text is part of `text`) -> mel + motion.
    pub fn text_to_speech(cfg: &ModelConfig, text: Vec<i64>, reference_mel: &[f32], mel_frames: usize) -> Self {
        let mut r = Self::new(cfg, mel_frames);
        let m = cfg.audio.n_mels;
        let ref_frames = (reference_mel.len() / m).min(mel_frames);
        r.cond_mel[..ref_frames * m].copy_from_slice(&reference_mel[..ref_frames * m]);
        r.mel_known[..ref_frames].iter_mut().for_each(|k| *k = true);
        r.text = text;
        r
    }

    /// Audio (mel `[T * M]`, all known) -> motion.
    pub fn audio_to_motion(cfg: &ModelConfig, mel: &[f32]) -> Self {
        let t = mel.len() / cfg.audio.n_mels;
        let mut r = Self::new(cfg, t);
        r.cond_mel.copy_from_slice(&mel[..t * cfg.audio.n_mels]);
        r.mel_known.iter_mut().for_each(|k| *k = true);
        r
    }

    /// Motion (`[F * K]`, all known) + text -> mel of `mel_frames` frames.
    pub fn motion_to_speech(cfg: &ModelConfig, motion: &[f32], text: Vec<i64>, mel_frames: usize) -> Self {
        let mut r = Self::new(cfg, mel_frames);
        let n = r.cond_motion.len().min(motion.len());
        r.cond_motion[..n].copy_from_slice(&motion[..n]);
        r.motion_known.iter_mut().for_each(|k| *k = true);
        r.text = text;
        r
    }

    /// Read a request from named tensors (a `jamflow sample --inputs` file).
    pub fn from_tensors(cfg: &ModelConfig, t: &NamedTensors) -> Result<Self, SampleError> {
        let m = cfg.audio.n_mels;
        let get = |n: &str| t.get(n).ok_or_else(|| input_err(n, "missing"));
        let f32_of = |n: &str, cols: usize| -> Result<(usize, Vec<f32>), SampleError> {
            let x = get(n)?;
            let v = x.as_f32().ok_or_else(|| input_err(n, "expected a float tensor"))?;
            if x.shape.len() != 2 || x.shape[1] != cols {
                return Err(input_err(n, format!("expected shape [frames, {cols}], found {:?}", x.shape)));
            }
            Ok((x.shape[0], v.to_vec()))
        };
        let bool_of = |n: &str, len: usize| -> Result<Vec<bool>, SampleError> {
            let x = get(n)?;
            let v = x.as_bool().ok_or_else(|| input_err(n, "expected a bool tensor"))?;
            if x.shape != [len] {
                return Err(input_err(n, format!("expected shape [{len}], found {:?}", x.shape)));
            }
            Ok(v.to_vec())
        };
        let (frames, cond_mel) = f32_of(names::COND_MEL, m)?;
        let mut r = Self::new(cfg, frames);
        r.cond_mel = cond_mel;
        r.mel_known = bool_of(names::MEL_KNOWN, frames)?;
        if cfg.text.is_some() {
            let x = get(names::TEXT)?;
            r.text = x.as_i64().ok_or_else(|| input_err(names::TEXT, "expected an integer tensor"))?.to_vec();
        }
        if t.contains_key(names::NOISE_MEL) {
            let (n, v) = f32_of(names::NOISE_MEL, m)?;
            if n != frames {
                return Err(input_err(names::NOISE_MEL, format!("expected {frames} frames, found {n}")));
            }
            r.noise_mel = Some(v);
        }
        if let Some(mc) = &cfg.motion {
            let f = cfg.motion_frames_for(frames);
            let k = mc.layout.motion_dim();
            let (n, v) = f32_of(names::COND_MOTION, k)?;
            if n != f {
                return Err(input_err(
                    names::COND_MOTION,
                    format!("expected {f} frames (for {frames} mel frames), found {n}"),
                ));
            }
            r.cond_motion = v;
            r.motion_known = bool_of(names::MOTION_KNOWN, f)?;
            if mc.layout.rest_dim() > 0 {
                let (n, v) = f32_of(names::REST, mc.layout.rest_dim())?;
                if n != f {
                    return Err(input_err(names::REST, format!("expected {f} frames, found {n}")));
                }
                r.rest = v;
            }
            if t.contains_key(names::NOISE_MOTION) {
                let (n, v) = f32_of(names::NOISE_MOTION, k)?;
                if n != f {
                    return Err(input_err(names::NOISE_MOTION, format!("expected {f} frames, found {n}")));
                }
                r.noise_motion = Some(v);
            }
        }
        Ok(r)
    }
}

impl Output {
    /// As named tensors (`mel` `[T, M]`, `motion` `[F, K]`).
    pub fn to_tensors(&self, cfg: &ModelConfig) -> NamedTensors {
        let mut out = BTreeMap::new();
        out.insert(names::MEL.into(), HostTensor::f32(vec![self.mel_frames, cfg.audio.n_mels], self.mel.clone()));
        if let Some(m) = &cfg.motion {
            out.insert(
                names::MOTION.into(),
                HostTensor::f32(vec![self.motion_frames, m.layout.motion_dim()], self.motion.clone()),
            );
        }
        out
    }
}

/// Repeat a per-row tensor for `rows` rows.
fn rows_of(shape: &[usize], data: &[f32], rows: usize) -> HostTensor {
    let mut s = vec![rows];
    s.extend_from_slice(shape);
    HostTensor::f32(s, data.repeat(rows))
}

/// `where(known, cond, 0)` per frame of width `w`.
fn known_only(cond: &[f32], known: &[bool], w: usize) -> Vec<f32> {
    cond.iter().enumerate().map(|(i, &v)| if known[i / w] { v } else { 0.0 }).collect()
}

/// A sampling run set up: the inputs fixed over all steps (rows `[cond, uncond]` when guided), the
/// conditioning written back at the end, and the state `x` at the first time.
struct Run {
    times: Vec<f32>,
    rows: usize,
    fixed: NamedTensors,
    step_cond_mel: Vec<f32>,
    step_cond_motion: Vec<f32>,
    x_mel: Vec<f32>,
    x_mot: Vec<f32>,
    t_frames: usize,
    f_frames: usize,
}

impl Run {
    /// Check the request and pack what every step feeds the network.
    fn new(cfg: &ModelConfig, req: &Request, opts: &SamplerOptions) -> Result<Self, SampleError> {
        let m = cfg.audio.n_mels;
        let t_frames = req.mel_frames;
        if t_frames == 0 {
            return Err(input_err(names::COND_MEL, "zero frames to generate"));
        }
        if req.cond_mel.len() != t_frames * m || req.mel_known.len() != t_frames {
            return Err(input_err(names::COND_MEL, format!("expected {t_frames} frames of {m} mel bins")));
        }
        let f_frames = cfg.motion_frames_for(t_frames);
        let (k, r) = cfg.motion.as_ref().map_or((0, 0), |mc| (mc.layout.motion_dim(), mc.layout.rest_dim()));
        if cfg.motion.is_some() {
            if req.cond_motion.len() != f_frames * k || req.motion_known.len() != f_frames {
                return Err(input_err(names::COND_MOTION, format!("expected {f_frames} frames of {k} values")));
            }
            if req.rest.len() != f_frames * r {
                return Err(input_err(names::REST, format!("expected {f_frames} frames of {r} values")));
            }
        }
        if let Some(tc) = &cfg.text {
            if req.text.len() > tc.max_len {
                return Err(input_err(
                    names::TEXT,
                    format!("{} tokens exceed the package's limit text.max_len = {}", req.text.len(), tc.max_len),
                ));
            }
            if let Some(bad) = req.text.iter().find(|&&id| id < -1 || id >= tc.vocab_size as i64) {
                return Err(input_err(names::TEXT, format!("id {bad} outside -1..{}", tc.vocab_size)));
            }
        }
        let t = times(&opts.schedule, opts.steps)?;
        let guided = opts.cfg_strength.abs() > 1e-5 && !opts.guidance_baked;
        let rows = if guided { 2 } else { 1 };

        // Fixed inputs of every step (rows: [cond, uncond]).
        let mut fixed = NamedTensors::new();
        let step_cond_mel = known_only(&req.cond_mel, &req.mel_known, m);
        fixed.insert(io::COND_MEL.into(), rows_of(&[t_frames, m], &step_cond_mel, rows));
        fixed.insert(io::MEL_MASK.into(), HostTensor::bool(vec![rows, t_frames], vec![true; rows * t_frames]));
        fixed.insert(io::UNCOND.into(), HostTensor::bool(vec![rows], (0..rows).map(|i| i == 1).collect()));
        if cfg.text.is_some() {
            let ids = if req.text.is_empty() { vec![-1] } else { req.text.clone() };
            let n = ids.len();
            fixed.insert(io::TEXT.into(), HostTensor::i64(vec![rows, n], ids.repeat(rows)));
        }
        let mut step_cond_motion = Vec::new();
        if let Some(mc) = &cfg.motion {
            let mut cond = req.cond_motion.clone();
            if let Some(n) = &mc.normalization {
                n.to_model(&mut cond);
            }
            step_cond_motion = known_only(&cond, &req.motion_known, k);
            fixed.insert(io::COND_MOTION.into(), rows_of(&[f_frames, k], &step_cond_motion, rows));
            fixed.insert(io::MOTION_MASK.into(), HostTensor::bool(vec![rows, f_frames], vec![true; rows * f_frames]));
            if r > 0 {
                fixed.insert(io::REST.into(), rows_of(&[f_frames, r], &req.rest, rows));
            }
            if mc.known_mask_channel {
                fixed.insert(
                    io::MOTION_KNOWN.into(),
                    HostTensor::bool(vec![rows, f_frames], req.motion_known.repeat(rows)),
                );
            }
        }

        let mut noise = Noise::new(opts.seed);
        let mut draw = |n: usize| -> Vec<f32> { noise.vec(n).into_iter().map(|v| v * opts.noise_scale).collect() };
        let x_mel = match &req.noise_mel {
            Some(n) if n.len() == t_frames * m => n.clone(),
            Some(_) => return Err(input_err(names::NOISE_MEL, format!("expected {t_frames} x {m} values"))),
            None => draw(t_frames * m),
        };
        let x_mot = match (&req.noise_motion, cfg.motion.is_some()) {
            (Some(n), true) if n.len() == f_frames * k => n.clone(),
            (Some(_), true) => return Err(input_err(names::NOISE_MOTION, format!("expected {f_frames} x {k} values"))),
            (None, true) => draw(f_frames * k),
            (_, false) => Vec::new(),
        };
        Ok(Self { times: t, rows, fixed, step_cond_mel, step_cond_motion, x_mel, x_mot, t_frames, f_frames })
    }

    /// The graph inputs of the step at time `t0`.
    fn step_inputs(&self, cfg: &ModelConfig, t0: f32) -> NamedTensors {
        let (rows, m) = (self.rows, cfg.audio.n_mels);
        let mut inputs = self.fixed.clone();
        inputs.insert(io::NOISY_MEL.into(), rows_of(&[self.t_frames, m], &self.x_mel, rows));
        inputs.insert(io::TIME.into(), HostTensor::f32(vec![rows], vec![t0; rows]));
        if let Some(mc) = &cfg.motion {
            let k = mc.layout.motion_dim();
            inputs.insert(io::NOISY_MOTION.into(), rows_of(&[self.f_frames, k], &self.x_mot, rows));
        }
        inputs
    }
}

/// The graph inputs the sampler feeds the network at its first step (benchmarks use them as a
/// representative evaluation).
pub fn first_step_inputs(cfg: &ModelConfig, req: &Request, opts: &SamplerOptions) -> Result<NamedTensors, SampleError> {
    let run = Run::new(cfg, req, opts)?;
    Ok(run.step_inputs(cfg, run.times[0]))
}

/// Run the sampler on one request.
pub fn sample(
    backend: &mut dyn Backend,
    cfg: &ModelConfig,
    req: &Request,
    opts: &SamplerOptions,
) -> Result<Output, SampleError> {
    let mut run = Run::new(cfg, req, opts)?;
    let (m, rows) = (cfg.audio.n_mels, run.rows);
    let k = cfg.motion.as_ref().map_or(0, |mc| mc.layout.motion_dim());
    for i in 0..run.times.len() - 1 {
        let (t0, dt) = (run.times[i], run.times[i + 1] - run.times[i]);
        let out = backend.run(&run.step_inputs(cfg, t0))?;
        let v_mel = guided_velocity(&out, io::MEL_VELOCITY, rows, opts.cfg_strength)?;
        euler(&mut run.x_mel, &v_mel, dt);
        if cfg.motion.is_some() {
            let v_mot = guided_velocity(&out, io::MOTION_VELOCITY, rows, opts.cfg_strength)?;
            euler(&mut run.x_mot, &v_mot, dt);
        }
    }
    // Known regions are written back.
    write_back(&mut run.x_mel, &run.step_cond_mel, &req.mel_known, m);
    if let Some(mc) = &cfg.motion {
        write_back(&mut run.x_mot, &run.step_cond_motion, &req.motion_known, k);
        if let Some(n) = &mc.normalization {
            n.from_model(&mut run.x_mot);
        }
    }
    Ok(Output { mel: run.x_mel, motion: run.x_mot, mel_frames: run.t_frames, motion_frames: run.f_frames })
}

/// `v_c + w (v_c - v_u)` from a packed `[rows, ...]` output (rows = 1: `v_c`).
fn guided_velocity(out: &NamedTensors, name: &str, rows: usize, w: f32) -> Result<Vec<f32>, SampleError> {
    let v = out
        .get(name)
        .and_then(|t| t.as_f32())
        .ok_or_else(|| RuntimeError::Ort(format!("backend returned no `{name}`")))?;
    let n = v.len() / rows;
    if rows == 1 {
        return Ok(v.to_vec());
    }
    let (c, u) = v.split_at(n);
    Ok(c.iter().zip(u).map(|(&c, &u)| c + (c - u) * w).collect())
}

fn euler(x: &mut [f32], v: &[f32], dt: f32) {
    for (x, v) in x.iter_mut().zip(v) {
        *x += dt * v;
    }
}

fn write_back(x: &mut [f32], cond: &[f32], known: &[bool], w: usize) {
    for (i, x) in x.iter_mut().enumerate() {
        if known[i / w] {
            *x = cond[i];
        }
    }
}

/// F5's duration estimate: the reference's frames-per-byte rate applied to the whole text
/// (UTF-8 byte lengths), `ref_frames + ref_frames / ref_bytes * gen_bytes / speed`.
pub fn estimate_frames(ref_frames: usize, ref_text: &str, gen_text: &str, speed: f32) -> usize {
    let ref_bytes = ref_text.len().max(1) as f64;
    ref_frames + (ref_frames as f64 / ref_bytes * gen_text.len() as f64 / speed.max(1e-3) as f64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_match_f5() {
        let u = times(&Schedule::Uniform, 4).unwrap();
        assert_eq!(u, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
        let s = times(&Schedule::Sway { coef: -1.0 }, 4).unwrap();
        // t + s (cos(pi/2 t) - 1 + t) with s = -1 is 1 - cos(pi/2 t).
        for (a, b) in s.iter().zip(&u) {
            assert!((a - (1.0 - (std::f32::consts::FRAC_PI_2 * b).cos())).abs() < 1e-6);
        }
        assert!((s[4] - 1.0).abs() < 1e-6 && s[0] == 0.0);
        let e = times(&Schedule::Epss { sway: None }, 7).unwrap();
        assert_eq!(e.len(), 8);
        assert_eq!(e[5], 0.5);
        assert_eq!(times(&Schedule::Epss { sway: None }, 3).unwrap(), times(&Schedule::Uniform, 3).unwrap());
        assert!(times(&Schedule::List { t: vec![0.0, 0.6, 0.4, 1.0] }, 3).is_err());
        assert_eq!(times(&Schedule::List { t: vec![0.0, 0.5, 1.0] }, 99).unwrap(), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn duration_follows_reference_rate() {
        // 100 frames for 10 bytes of reference text -> 10 frames per byte.
        assert_eq!(estimate_frames(100, "0123456789", "abcde", 1.0), 150);
        assert_eq!(estimate_frames(100, "0123456789", "abcde", 2.0), 125);
    }

    fn mm_config() -> ModelConfig {
        crate::model::random::Preset::SmallMmdit.config()
    }

    #[test]
    fn request_builders_mark_what_is_known() {
        let cfg = mm_config();
        let m = cfg.audio.n_mels;
        // Audio -> motion: all mel known, no motion known.
        let mel = vec![0.5; 20 * m];
        let r = Request::audio_to_motion(&cfg, &mel);
        assert_eq!(r.mel_frames, 20);
        assert!(r.mel_known.iter().all(|&k| k) && r.motion_known.iter().all(|&k| !k));
        assert_eq!(r.motion_known.len(), cfg.motion_frames_for(20));
        // Text -> speech with a 5-frame reference: the reference prefix is known.
        let r = Request::text_to_speech(&cfg, vec![1, 2, 3], &vec![1.0; 5 * m], 30);
        assert_eq!(r.mel_known.iter().filter(|&&k| k).count(), 5);
        assert!(r.mel_known[..5].iter().all(|&k| k));
        assert_eq!(r.text, vec![1, 2, 3]);
        // Motion -> speech: motion known, mel unknown.
        let k = cfg.motion.as_ref().unwrap().layout.motion_dim();
        let f = cfg.motion_frames_for(30);
        let r = Request::motion_to_speech(&cfg, &vec![0.1; f * k], vec![4], 30);
        assert!(r.motion_known.iter().all(|&k| k) && r.mel_known.iter().all(|&k| !k));
    }

    /// A fake backend: velocity = constant per row (cond 1, uncond 3), so the guided result is known.
    struct Const;
    impl Backend for Const {
        fn describe(&self) -> String {
            "const".into()
        }
        fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
            let x = &inputs[io::NOISY_MEL];
            let rows = x.shape[0];
            let n = x.len() / rows;
            let v: Vec<f32> = (0..rows).flat_map(|r| vec![if r == 0 { 1.0 } else { 3.0 }; n]).collect();
            let mut o = NamedTensors::new();
            o.insert(io::MEL_VELOCITY.into(), HostTensor::f32(x.shape.clone(), v));
            Ok(o)
        }
    }

    #[test]
    fn euler_cfg_and_write_back() {
        let cfg: ModelConfig = serde_json::from_value(serde_json::json!({
            "format": "jamflow-model/1",
            "audio": {"n_mels": 2},
            "text": null,
            "audio_dit": {"dim": 16, "depth": 1, "heads": 1, "dim_head": 4},
        }))
        .unwrap();
        let mut req = Request::new(&cfg, 3);
        req.cond_mel = vec![5.0, 5.0, 0.0, 0.0, 0.0, 0.0];
        req.mel_known = vec![true, false, false];
        req.noise_mel = Some(vec![0.0; 6]);
        let opts = SamplerOptions {
            steps: 4,
            schedule: Schedule::Uniform,
            cfg_strength: 2.0,
            seed: 0,
            guidance_baked: false,
            noise_scale: 1.0,
        };
        let out = sample(&mut Const, &cfg, &req, &opts).unwrap();
        // v = 1 + 2 (1 - 3) = -3, integrated over [0, 1].
        assert_eq!(out.mel[..2], [5.0, 5.0]);
        for v in &out.mel[2..] {
            assert!((v + 3.0).abs() < 1e-6, "{v}");
        }
        let baked = SamplerOptions { guidance_baked: true, ..opts };
        let out = sample(&mut Const, &cfg, &req, &baked).unwrap();
        assert!((out.mel[2] - 1.0).abs() < 1e-6);
    }

    /// Zero velocity on both streams, and the network-space `cond_motion` it was fed.
    struct Still(Vec<f32>);
    impl Backend for Still {
        fn describe(&self) -> String {
            "still".into()
        }
        fn run(&mut self, inputs: &NamedTensors) -> Result<NamedTensors, RuntimeError> {
            self.0 = inputs[io::COND_MOTION].as_f32().unwrap().to_vec();
            let mut o = NamedTensors::new();
            for (inp, out) in [(io::NOISY_MEL, io::MEL_VELOCITY), (io::NOISY_MOTION, io::MOTION_VELOCITY)] {
                let x = &inputs[inp];
                o.insert(out.into(), HostTensor::f32(x.shape.clone(), vec![0.0; x.len()]));
            }
            Ok(o)
        }
    }

    #[test]
    fn motion_normalization_maps_in_and_out() {
        let mut cfg = mm_config();
        let k = cfg.motion.as_ref().unwrap().layout.motion_dim();
        let mean: Vec<f32> = (0..k).map(|c| c as f32 * 0.01).collect();
        let std: Vec<f32> = (0..k).map(|c| 0.5 + c as f32 * 0.1).collect();
        cfg.motion.as_mut().unwrap().normalization =
            Some(crate::model::config::MotionNormalization { mean: mean.clone(), std: std.clone() });
        cfg.validate().unwrap();
        let mut req = Request::new(&cfg, 8);
        let f = req.motion_known.len();
        req.cond_motion = (0..f * k).map(|i| i as f32 * 0.001).collect();
        req.motion_known[0] = true;
        let noise: Vec<f32> = (0..f * k).map(|i| (i % 5) as f32 - 2.0).collect();
        req.noise_motion = Some(noise.clone());
        let opts = SamplerOptions { cfg_strength: 0.0, ..SamplerOptions::from_config(&cfg, 0) };
        let mut be = Still(Vec::new());
        let out = sample(&mut be, &cfg, &req, &opts).unwrap();
        for c in 0..k {
            // The known frame reaches the network normalized and comes back unchanged.
            assert!((be.0[c] - (req.cond_motion[c] - mean[c]) / std[c]).abs() < 1e-6);
            assert!((out.motion[c] - req.cond_motion[c]).abs() < 1e-6);
            // An unknown frame is the (unmoved) noise mapped back to motion values.
            let i = k + c;
            assert!((out.motion[i] - (noise[i] * std[c] + mean[c])).abs() < 1e-6);
        }
        // A wrong-length normalization is refused, naming the field.
        cfg.motion.as_mut().unwrap().normalization.as_mut().unwrap().std.pop();
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("motion.normalization.std"), "{e}");
    }

    #[test]
    fn drawn_noise_is_scaled_by_the_packages_noise_scale_and_given_noise_is_not() {
        let mut cfg = mm_config();
        let req = Request::new(&cfg, 8);
        let first = |cfg: &ModelConfig, req: &Request| {
            let x = first_step_inputs(cfg, req, &SamplerOptions::from_config(cfg, 3)).unwrap();
            (x[io::NOISY_MEL].as_f32().unwrap().to_vec(), x[io::NOISY_MOTION].as_f32().unwrap().to_vec())
        };
        let (mel1, mot1) = first(&cfg, &req);
        cfg.sampler.noise_scale = 0.5;
        cfg.validate().unwrap();
        let (mel, mot) = first(&cfg, &req);
        assert!(mel.iter().zip(&mel1).all(|(a, b)| (a - 0.5 * b).abs() < 1e-6));
        assert!(mot.iter().zip(&mot1).all(|(a, b)| (a - 0.5 * b).abs() < 1e-6));
        assert!(mot1.iter().any(|v| v.abs() > 0.1), "the prior's noise at scale 1");
        let mut given = req.clone();
        let n = req.motion_known.len() * cfg.motion.as_ref().unwrap().layout.motion_dim();
        given.noise_motion = Some(mot1[..n].to_vec()); // [F, K] of the first row ([rows, F, K] with guidance)
        assert_eq!(first(&cfg, &given).1[..n], mot1[..n], "noise given in the request is used as it is");
        cfg.sampler.noise_scale = 3.0;
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("sampler.noise_scale"), "{e}");
    }
}
