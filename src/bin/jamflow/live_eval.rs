//! Lip sync of `jamflow bench-live --eval CORPUS`: the held-out utterances of a corpus joined into one WAV for the
//! live path, the offline sampler's motion for each of them (whole utterance, as `jamflow animate`), the motion
//! the live path showed (its UDP motion stream, received here), and the pooled r of each against the corpus truth
//! beside the loudness-envelope baseline, on the same frames ([`jamflow::corpus::lipsync`], as scripts/lipsync.py).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use jamflow::animate::{animate_wav, Windows};
use jamflow::audio::wav::{self, WavStream};
use jamflow::corpus::articulation::{opening, FRAME};
use jamflow::corpus::{lipsync, Manifest};
use jamflow::model::config::MOTION_FPS;
use jamflow::runtime::tensors::read_safetensors;
use jamflow::runtime::Backend;

/// The split and recording condition scored (held-out voice families, as scripts/eval_live.py's defaults).
const SPLIT: &str = "test";
const CONDITION: &str = "clean";
/// Silence before, between and after the utterances of the joined WAV (frames: 0.6 s, as eval_live.py).
const GAP_FRAMES: usize = 15;

/// One scored utterance: its audio at the package rate, its truth opening, and its frame in the joined WAV.
pub struct EvalUtterance {
    pub id: String,
    pub audio: Vec<f32>,
    pub truth: Vec<f32>,
    pub start_frame: usize,
}

/// The eval set: utterances and the joined WAV's samples (each utterance starts on a frame boundary).
pub struct EvalSet {
    pub utterances: Vec<EvalUtterance>,
    pub joined: Vec<f32>,
    /// The loudness baseline's r (fitted on all frames of the set).
    pub envelope_r: f64,
}

impl EvalSet {
    /// The first `limit` clean test utterances of the corpus at `dir`, at `rate` Hz.
    pub fn load(dir: &Path, limit: usize, rate: u32) -> Result<Self> {
        let m = Manifest::load(dir)?;
        let spf = (rate as f64 / MOTION_FPS) as usize;
        let mut joined = vec![0.0; GAP_FRAMES * spf];
        let mut utterances = Vec::new();
        for u in m.utterances.iter().filter(|u| u.split == SPLIT && u.condition == CONDITION).take(limit) {
            let (wav_path, motion_path) = (dir.join(&u.wav), dir.join(&u.motion));
            let audio = wav::load_mono(&wav_path, rate)?;
            let t = read_safetensors(&motion_path)?;
            let motion = t
                .get(jamflow::corpus::names::MOTION)
                .and_then(|m| m.as_f32())
                .with_context(|| format!("{}: no f32 tensor `motion`", motion_path.display()))?;
            let truth = lipsync::openings(motion);
            let start_frame = joined.len() / spf;
            joined.extend_from_slice(&audio);
            joined.resize(joined.len().div_ceil(spf) * spf + GAP_FRAMES * spf, 0.0);
            utterances.push(EvalUtterance { id: u.id.clone(), audio, truth, start_frame });
        }
        if utterances.is_empty() {
            bail!("{}: no {CONDITION} utterances in split {SPLIT}", dir.display());
        }
        Ok(Self { utterances, joined, envelope_r: 0.0 })
    }

    /// Truth openings of every utterance, cut to `lens[i]` frames.
    fn truths(&self, lens: &[usize]) -> Vec<Vec<f32>> {
        self.utterances.iter().zip(lens).map(|(u, &n)| u.truth[..n].to_vec()).collect()
    }
}

/// The offline sampler's score (the whole utterance in one window, noise seed = its index), and the frames scored
/// per utterance from then on: those both the truth and the sampler have.
pub struct Offline {
    pub lens: Vec<usize>,
    pub r: f64,
}

/// Run the offline sampler over the set (fills the set's envelope baseline on the same frames).
pub fn offline(
    set: &mut EvalSet,
    corpus: &Path,
    backend: &mut dyn Backend,
    cfg: &jamflow::model::ModelConfig,
) -> Result<Offline> {
    let m = Manifest::load(corpus)?;
    let paths: HashMap<&str, PathBuf> = m.utterances.iter().map(|u| (u.id.as_str(), corpus.join(&u.wav))).collect();
    // One window over the whole utterance (corpus sentences are far shorter than this).
    let windows = Windows { window_s: 60.0, history_s: Windows::default().history_s };
    let bar = indicatif::ProgressBar::new(set.utterances.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("offline sampler {bar:40} {pos}/{len} utterances [{elapsed} / {eta}]")
            .expect("static template"),
    );
    let mut openings = Vec::new();
    for (i, u) in set.utterances.iter().enumerate() {
        let mut wav = WavStream::open(&paths[u.id.as_str()])?;
        let mut motion = Vec::new();
        let emit = |m: &[f32]| {
            motion.extend_from_slice(m);
            Ok(())
        };
        animate_wav(&mut wav, backend, cfg, &windows, i as u64, emit, |_, _| {})
            .with_context(|| format!("offline sampler on {}", u.id))?;
        openings.push(lipsync::openings(&motion));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let lens: Vec<usize> = openings.iter().zip(&set.utterances).map(|(o, u)| o.len().min(u.truth.len())).collect();
    let openings: Vec<Vec<f32>> = openings.into_iter().zip(&lens).map(|(o, &n)| o[..n].to_vec()).collect();
    let truths = set.truths(&lens);
    let envs: Vec<Vec<f32>> = set
        .utterances
        .iter()
        .zip(&lens)
        .map(|(u, &n)| lipsync::envelope(&u.audio, cfg.audio.sample_rate, n, MOTION_FPS))
        .collect();
    set.envelope_r = lipsync::pooled_r(&lipsync::fit_envelope(&envs, &truths), &truths);
    Ok(Offline { r: lipsync::pooled_r(&openings, &truths), lens })
}

/// The live path's motion stream, received: output frame -> motion.
pub struct MotionTap {
    pub addr: SocketAddr,
    frames: Arc<Mutex<HashMap<u64, Vec<f32>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MotionTap {
    /// Listen on a free loopback port for the daemon's `[motion_out] udp` datagrams.
    pub fn start() -> Result<Self> {
        let sock = UdpSocket::bind("127.0.0.1:0").context("binding the motion UDP receiver")?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = sock.local_addr()?;
        let frames = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (f, s) = (frames.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !s.load(Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else { continue };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&buf[..n]) else { continue };
                let frame = v["frame"].as_u64();
                let motion: Option<Vec<f32>> =
                    v["motion"].as_array().map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect());
                if let (Some(frame), Some(motion)) = (frame, motion) {
                    f.lock().expect("tap lock").insert(frame, motion);
                }
            }
        });
        Ok(Self { addr, frames, stop, thread: Some(thread) })
    }

    /// Stop listening; the frames received.
    pub fn finish(mut self) -> HashMap<u64, Vec<f32>> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.frames.lock().expect("tap lock"))
    }
}

/// Lip sync of one live run: input sample `x` of the joined WAV played as media sample `media(x)` (the input's
/// anchors: a stalled input is re-anchored later), and output frame `n` showed media frame `n - delay`, its audio
/// and its motion together. A frame never received counts as the rest pose (opening 0).
pub struct LiveScore {
    pub r: f64,
    pub missing: usize,
}

pub fn score_live(
    set: &EvalSet,
    off: &Offline,
    frames: &HashMap<u64, Vec<f32>>,
    delay: u64,
    spf: usize,
    media: impl Fn(u64) -> Option<i64>,
) -> LiveScore {
    let mut missing = 0;
    let preds: Vec<Vec<f32>> = set
        .utterances
        .iter()
        .zip(&off.lens)
        .map(|(u, &n)| {
            (0..n)
                .map(|j| {
                    let shown = media(((u.start_frame + j) * spf) as u64)
                        .map(|m| (m as f64 / spf as f64).round() as i64 + delay as i64)
                        .and_then(|n| frames.get(&u64::try_from(n).ok()?));
                    match shown {
                        Some(m) if m.len() == FRAME => opening(m),
                        _ => {
                            missing += 1;
                            0.0
                        }
                    }
                })
                .collect()
        })
        .collect();
    LiveScore { r: lipsync::pooled_r(&preds, &set.truths(&off.lens)), missing }
}
