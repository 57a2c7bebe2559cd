//! `jamflow say TEXT --out OUT.wav|OUT.mp4`: speech from text (a Piper voice, or the joint model's own text path)
//! as a WAV, or a talking portrait whose lips come from the same run. `jamflow dub --motion M --text T --out W`:
//! speech for known mouth motion (the model's inpainting with motion known).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use jamflow::animate::Windows;
use jamflow::audio::mel::Mel;
use jamflow::audio::resample::resample;
use jamflow::audio::vocoder::{Vocoder, VocoderChoice};
use jamflow::audio::wav::{self, WavFormat};
use jamflow::compile::Precision;
use jamflow::corpus::phones::PhoneSet;
use jamflow::corpus::truth::Timeline;
use jamflow::live::speech::speak_all;
use jamflow::live::voice::SpeechWindows;
use jamflow::live::{PackageModel, SayRequest};
use jamflow::model::alignment::TimedPhone;
use jamflow::model::config::MotionLayout;
use jamflow::model::Package;
use jamflow::render::Renderer;
use jamflow::runtime::tensors::read_safetensors;
use jamflow::runtime::OrtOptions;
use jamflow::sampler::{self, Request, SamplerOptions};
use jamflow::speech::piper::{default_voice, PiperVoice, DEFAULT_VOICE};
use jamflow::speech::text_input::{phone_timer, text_input, EspeakTimer, Length, SPEED_RANGE};
use jamflow::speech::timing::espeak_names;
use jamflow::speech::{check_text, Durations, Lips, Speaker, SpeechEngine, MAX_REFERENCE_S, PHONE_LIPS_STEPS};
use jamflow::stream::Rates;

use super::animate::{self, AnimateArgs};
use super::RuntimeArgs;

#[derive(Args)]
pub struct SayArgs {
    /// What to say (at most 500 characters).
    text: String,
    /// OUT.wav (speech) or OUT.mp4 (talking portrait with the speech).
    #[arg(long)]
    out: PathBuf,
    /// `piper`: a Piper voice, then the audio -> motion model; `model`: the joint model's text path.
    #[arg(long, value_enum, default_value_t = SpeechEngine::Piper)]
    engine: SpeechEngine,
    /// Piper voice (MODEL.onnx, MODEL.onnx.json beside it); default: the joe voice scripts/setup.sh installs.
    /// `--engine model`: the voice whose phoneme durations time the text (`--durations`).
    #[arg(long)]
    voice: Option<PathBuf>,
    /// `--engine model` with a `durations` package: where the phonemes' durations come from. `auto`: the Piper
    /// voice's own (`--voice`, else the installed one; the speech package learnt the joe voice's rhythm) where one is
    /// found, else espeak-ng's; `voice`: the voice's, an error without one; `espeak`: espeak-ng's.
    #[arg(long, value_enum, default_value_t = Durations::Auto)]
    durations: Durations,
    /// `--engine model`: a reference voice (WAV, at most 15 s) and its transcript (F5-style voice prompt).
    #[arg(long, requires = "reference_text")]
    reference: Option<PathBuf>,
    #[arg(long, requires = "reference")]
    reference_text: Option<String>,
    /// `--engine model`: `vocos:DIR` or `griffin-lim` (default: the package's `vocos/` weights if any, else
    /// Griffin-Lim).
    #[arg(long)]
    vocoder: Option<String>,
    /// Also write the mouth motion shown: safetensors `motion` [F, K] at 25 fps (as `jamflow animate` writes).
    #[arg(long)]
    motion_out: Option<PathBuf>,
    /// Also write where each phone of the speech lies, JSON `{"phone_set": ..., "phones": [[name, start_s, end_s],
    /// ...]}` (what `jamflow corpus truth` reads): `--engine model` with a `durations` package, its eSpeak phones;
    /// `--engine piper`, the voice's own durations (IPA, as the corpus's Piper timelines).
    #[arg(long)]
    phones_out: Option<PathBuf>,
    /// `--engine piper`: where the lips come from: `phones`, the `durations` package (`--package`, default
    /// engines/jamflow-speech) hears the voice's audio and reads the phones the voice reports (the audio alone
    /// where it reports none); `audio`, the live audio -> motion model hears the audio only, as jamflowd's built-in
    /// `[speech] lips` does.
    #[arg(long, value_enum, default_value_t = Lips::Phones)]
    lips: Lips,
    /// Portrait for the video (its landmark file beside it).
    #[arg(long, default_value = "assets/portraits/astronaut.png")]
    portrait: PathBuf,
    /// Model package (default: `--engine model` and `--lips phones`: engines/jamflow-speech, the package trained to
    /// speak; `--lips audio`: the live default, engines/jamflow-small-student, for audio -> motion).
    #[arg(long)]
    package: Option<PathBuf>,
    /// Face-crop side in pixels.
    #[arg(long, default_value_t = 512)]
    size: u32,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampler steps: `--engine model` (default: the package's; `configs/demo.toml` speaks with 8); `--lips phones`
    /// (default 4, as jamflowd's `[speech] lips_steps`).
    #[arg(long)]
    steps: Option<usize>,
    /// `--engine model`: speaking speed, 0.25..=4 (2 = twice as fast): scales a `durations` package's phoneme
    /// durations (or a `filler` package's length estimate).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    #[command(flatten)]
    rt: RuntimeArgs,
}

#[derive(Args)]
pub struct DubArgs {
    /// Mouth motion to speak to: safetensors `motion` [F, K] at 25 fps (what `jamflow animate` or `sample` write).
    #[arg(long)]
    motion: PathBuf,
    /// The words (at most 500 characters).
    #[arg(long)]
    text: String,
    /// OUT.wav (24 kHz mono).
    #[arg(long)]
    out: PathBuf,
    /// Model package with a text input (default: engines/jamflow-speech, trained to speak).
    #[arg(long)]
    package: Option<PathBuf>,
    /// `vocos:DIR` or `griffin-lim` (default: the package's `vocos/` weights if any, else Griffin-Lim).
    #[arg(long)]
    vocoder: Option<String>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Sampler steps (default: the package's).
    #[arg(long)]
    steps: Option<usize>,
    #[command(flatten)]
    rt: RuntimeArgs,
}

/// The package that speaks text by default: the `durations` package trained to speak one voice (its MODEL_CARD.md;
/// the live student is distilled for audio -> motion only), as `configs/demo.toml` names it for `/say`.
const SPEECH_PACKAGE: &str = "engines/jamflow-speech";

/// `--package`, else [`SPEECH_PACKAGE`] under the checkout, else the live default.
fn speech_package(package: Option<&Path>) -> Result<PathBuf> {
    let speaker = Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEECH_PACKAGE);
    match package {
        Some(p) => Ok(p.to_path_buf()),
        None if speaker.join(jamflow::model::package::CONFIG_FILE).is_file() => Ok(speaker),
        None => animate::package_dir(None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    Wav,
    Mp4,
}

fn out_kind(out: &Path) -> Result<OutKind> {
    match out.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("wav") => Ok(OutKind::Wav),
        Some("mp4") => Ok(OutKind::Mp4),
        _ => bail!("--out {}: expected OUT.wav (speech) or OUT.mp4 (talking portrait)", out.display()),
    }
}

/// `--vocoder` as a [`VocoderChoice`] (parsed here so a bad value is the usual error, exit status 1).
fn vocoder_choice(arg: Option<&str>) -> Result<Option<VocoderChoice>> {
    arg.map(|v| v.parse::<VocoderChoice>().context("--vocoder")).transpose()
}

/// ONNX Runtime options for the voice / vocoder graphs (the model package goes through `super::backend`).
fn ort_options(rt: &RuntimeArgs) -> Result<OrtOptions> {
    Ok(OrtOptions { trt_cache: None, ..rt.options(Path::new("."))? })
}

/// A temporary WAV path beside nothing else (removed by the caller).
fn temp_wav(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("jamflow-{tag}-{}.wav", std::process::id()))
}

pub fn say(a: &SayArgs) -> Result<()> {
    check_text(&a.text)?;
    let kind = out_kind(&a.out)?;
    if let Some(m) = &a.motion_out {
        if !m.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("safetensors")) {
            bail!("--motion-out {}: expected MOTION.safetensors", m.display());
        }
    }
    match a.engine {
        SpeechEngine::Piper => say_piper(a, kind),
        SpeechEngine::Model => say_model(a, kind),
    }
}

fn say_piper(a: &SayArgs, kind: OutKind) -> Result<()> {
    if a.reference.is_some() {
        bail!("--reference is a voice prompt for --engine model; a Piper voice is chosen with --voice");
    }
    let voice_path = match &a.voice {
        Some(v) => v.clone(),
        None => default_voice().with_context(|| {
            format!("no Piper voice at {DEFAULT_VOICE} (scripts/setup.sh installs it) and no --voice given")
        })?,
    };
    let mut voice = PiperVoice::open(&voice_path, &ort_options(&a.rt)?)?;
    let t0 = std::time::Instant::now();
    let (audio, phones) = voice.speak_timed(&a.text)?;
    let rate = voice.sample_rate();
    if let Some(path) = &a.phones_out {
        let phones = phones.clone().with_context(|| {
            format!(
                "--phones-out: the voice {} does not expose its phoneme durations (its graph has no single Ceil \
                 node, which Piper's VITS exports have)",
                voice_path.display()
            )
        })?;
        write_phones(path, &Timeline { phone_set: PhoneSet::Ipa, phones })?;
    }
    let secs = audio.len() as f64 / rate as f64;
    tracing::info!(seconds = secs, took_ms = t0.elapsed().as_millis() as u64, voice = %voice_path.display(), "spoken");
    if kind == OutKind::Wav {
        wav::write(&a.out, rate, &audio, WavFormat::Pcm16)?;
        println!("{secs:.2} s of speech at {rate} Hz (piper, {}) -> {}", voice_path.display(), a.out.display());
    }
    if a.lips == Lips::Phones && (kind == OutKind::Mp4 || a.motion_out.is_some()) {
        return phone_lips(a, kind, (&audio, rate), phones);
    }
    // The voice's audio -> the package's audio -> motion path (`animate`) -> the video with the audio muxed and / or
    // the motion.
    let outs = [(kind == OutKind::Mp4).then_some(&a.out), a.motion_out.as_ref()];
    if outs.iter().any(Option::is_some) {
        let tmp = temp_wav("say");
        wav::write(&tmp, rate, &audio, WavFormat::Pcm16)?;
        let r = outs.into_iter().flatten().try_for_each(|out| {
            let args = AnimateArgs {
                audio: tmp.clone(),
                out: out.clone(),
                portrait: a.portrait.clone(),
                package: a.package.clone(),
                window_s: Windows::default().window_s,
                history_s: Windows::default().history_s,
                size: a.size,
                seed: a.seed,
                precision: Precision::Fp32,
                rt: a.rt.clone(),
            };
            animate::run(&args)
        });
        let _ = std::fs::remove_file(&tmp);
        r?;
    }
    Ok(())
}

/// `--lips phones`: the `durations` package hears the voice's `audio` (at `rate`) and reads the phones it reports
/// (IPA, [`PiperVoice::speak_timed`]) in jamflowd's `/say` windows; writes the video and / or the motion.
fn phone_lips(a: &SayArgs, kind: OutKind, (audio, rate): (&[f32], u32), phones: Option<Vec<TimedPhone>>) -> Result<()> {
    let dir = speech_package(a.package.as_deref())?;
    let mut pkg = super::load(&dir)?;
    let backend = super::backend(&mut pkg, &(a.rt.clone(), Precision::Fp32))?;
    let mut opts = SamplerOptions::from_config(&pkg.config, a.seed);
    opts.steps = a.steps.unwrap_or(PHONE_LIPS_STEPS);
    let mut model = PackageModel::new(backend, pkg.config.clone(), opts, pkg.vocab.clone())?;
    if !model.reads_phones() {
        bail!(
            "--lips phones: {} does not read phones (it needs text.alignment = \"durations\" and its vocab.txt); give a \
             durations --package or --lips audio",
            dir.display()
        );
    }
    let phones = phones.map(espeak_names);
    if phones.is_none() {
        tracing::warn!("the voice reports no phone durations: the lips follow its audio alone");
    }
    let cfg = &pkg.config;
    let motion_cfg = cfg.motion.as_ref().context("the package has no motion")?;
    let layout = motion_cfg.layout.clone();
    let rates = Rates { fps: motion_cfg.fps.round() as u32, sample_rate: cfg.audio.sample_rate };
    let spf = (rates.sample_rate / rates.fps) as usize;
    let mut heard = resample(audio, rate, rates.sample_rate)?; // [samples] at the package's rate
    heard.resize(heard.len().div_ceil(spf) * spf, 0.0); // whole frames
    let motion = SpeechWindows::new(rates, Windows::default()).lips(&mut model, &heard, phones.as_deref())?; // [F, K]
    let k = layout.motion_dim();
    if let Some(path) = &a.motion_out {
        animate::write_motion(path, motion.clone(), k)?;
    }
    if kind == OutKind::Mp4 {
        let n = render_video(a, &dir, &layout, (&heard, rates.sample_rate), &motion)?;
        let secs = heard.len() as f64 / rates.sample_rate as f64;
        println!(
            "{secs:.2} s of speech, {n} frames (piper, lips from phones: {}) -> {}",
            dir.display(),
            a.out.display()
        );
    }
    Ok(())
}

/// The portrait moved by `motion` (`[F, K]`) with `audio` muxed, to `a.out`; returns the frames written.
fn render_video(
    a: &SayArgs,
    dir: &Path,
    layout: &MotionLayout,
    (audio, rate): (&[f32], u32),
    motion: &[f32],
) -> Result<usize> {
    let tmp = temp_wav("say");
    wav::write(&tmp, rate, audio, WavFormat::Pcm16)?;
    let r = (|| -> Result<usize> {
        let (mut renderer, mut sink) = animate::open_video(dir, layout, &a.portrait, a.size, &tmp, &a.out)?;
        let mut n = 0u64;
        for f in motion.chunks_exact(layout.motion_dim()) {
            sink.push(&renderer.render(f, n)?)?;
            n += 1;
        }
        sink.finish()?;
        Ok(n as usize)
    })();
    let _ = std::fs::remove_file(&tmp);
    r
}

/// `--phones-out`: the speech's phone timeline, as `jamflow corpus truth` reads it.
fn write_phones(path: &Path, timeline: &Timeline) -> Result<()> {
    std::fs::write(path, timeline.to_value().to_string() + "\n")
        .with_context(|| format!("--phones-out {}", path.display()))
}

/// The package's model with its vocab and the vocoder of `choice`.
fn package_model(
    dir: &Path,
    choice: Option<&VocoderChoice>,
    (seed, steps): (u64, Option<usize>),
    rt: &RuntimeArgs,
) -> Result<(Package, PackageModel)> {
    let mut pkg = super::load(dir)?;
    if pkg.config.text.is_none() || pkg.vocab.is_none() {
        bail!("{}: the package has no text input (vocab.txt); it cannot speak text", dir.display());
    }
    let backend = super::backend(&mut pkg, &(rt.clone(), Precision::Fp32))?;
    let mut opts = SamplerOptions::from_config(&pkg.config, seed);
    opts.steps = steps.unwrap_or(opts.steps);
    let mut model = PackageModel::new(backend, pkg.config.clone(), opts, pkg.vocab.clone())?;
    let choice = VocoderChoice::for_package(choice, dir);
    model.set_vocoder(Vocoder::open(&choice, &pkg.config.audio, &ort_options(rt)?)?);
    tracing::info!(vocoder = %choice, "text mode");
    Ok((pkg, model))
}

fn say_model(a: &SayArgs, kind: OutKind) -> Result<()> {
    if a.voice.is_some() && a.durations == Durations::Espeak {
        bail!(
            "--voice names a Piper voice: with --engine model it times the text, which --durations espeak does not use"
        );
    }
    if !SPEED_RANGE.contains(&a.speed) {
        bail!("--speed {}: expected {}..={}", a.speed, SPEED_RANGE.start(), SPEED_RANGE.end());
    }
    let dir = speech_package(a.package.as_deref())?;
    let (pkg, mut model) =
        package_model(&dir, vocoder_choice(a.vocoder.as_deref())?.as_ref(), (a.seed, a.steps), &a.rt)?;
    let rate = pkg.config.audio.sample_rate;
    if a.phones_out.is_some() && pkg.config.text.as_ref().is_some_and(|t| t.alignment.is_filler()) {
        bail!(
            "--phones-out: {} has text.alignment = filler, which gives no phone timings; a durations package does",
            dir.display()
        );
    }
    let reference = match (&a.reference, &a.reference_text) {
        (Some(w), Some(t)) => {
            let x = wav::load_mono(w, rate)?;
            let secs = x.len() as f64 / rate as f64;
            if !(0.5..=MAX_REFERENCE_S).contains(&secs) {
                bail!("--reference {}: lasts {secs:.1} s; expected 0.5..={MAX_REFERENCE_S} s", w.display());
            }
            Some((x, t.clone()))
        }
        _ => None,
    };
    model.set_speed(a.speed);
    if pkg.config.text.as_ref().is_some_and(|t| !t.alignment.is_filler()) {
        model.set_timer(phone_timer(a.durations, a.voice.as_deref(), &ort_options(&a.rt)?)?);
    } else if a.voice.is_some() {
        bail!(
            "--voice times a durations package's phonemes; {} has text.alignment = filler, which has none",
            dir.display()
        );
    }
    let speech = speak_all(&mut model, &SayRequest { text: a.text.clone(), reference }, rate)?;
    let secs = speech.audio.len() as f64 / rate as f64;
    let layout = pkg.config.motion.as_ref().map(|m| m.layout.clone()).context("the package has no motion")?;
    let k = layout.motion_dim();
    if let Some(path) = &a.motion_out {
        animate::write_motion(path, speech.motion.clone(), k)?;
    }
    if let Some(path) = &a.phones_out {
        write_phones(path, &Timeline { phone_set: PhoneSet::Espeak, phones: speech.phones.clone() })?;
    }
    match kind {
        OutKind::Wav => {
            wav::write(&a.out, rate, &speech.audio, WavFormat::Pcm16)?;
            println!("{secs:.2} s of speech at {rate} Hz (model, {}) -> {}", dir.display(), a.out.display());
        }
        OutKind::Mp4 => {
            // Lips from the same sampling run as the speech.
            let n = render_video(a, &dir, &layout, (&speech.audio, rate), &speech.motion)?;
            println!("{secs:.2} s of speech, {n} frames (model, {}) -> {}", dir.display(), a.out.display());
        }
    }
    Ok(())
}

pub fn dub(a: &DubArgs) -> Result<()> {
    check_text(&a.text)?;
    if out_kind(&a.out)? != OutKind::Wav {
        bail!("--out {}: dub writes speech, expected OUT.wav", a.out.display());
    }
    let dir = speech_package(a.package.as_deref())?;
    let mut pkg = super::load(&dir)?;
    let cfg = pkg.config.clone();
    let (Some(_), Some(vocab)) = (cfg.text.as_ref(), pkg.vocab.as_ref()) else {
        bail!("{}: the package has no text input (vocab.txt); it cannot dub", dir.display());
    };
    let motion_cfg = cfg.motion.as_ref().with_context(|| format!("{}: the package has no motion", dir.display()))?;
    let k = motion_cfg.layout.motion_dim();
    let t = read_safetensors(&a.motion)?;
    let m = t.get("motion").with_context(|| format!("{}: no tensor `motion`", a.motion.display()))?;
    let data = m.as_f32().with_context(|| format!("{}: `motion` must be f32", a.motion.display()))?;
    if m.shape.len() != 2 || m.shape[1] != k || m.shape[0] == 0 {
        bail!(
            "{}: `motion` has shape {:?}; expected [frames, {k}] ({})",
            a.motion.display(),
            m.shape,
            motion_cfg.layout.name()
        );
    }
    let frames = m.shape[0];
    // Mel frames covering exactly the motion frames.
    let mut mel_frames = (frames as f64 * cfg.audio.mel_rate() / motion_cfg.fps).round() as usize;
    while mel_frames > 0 && cfg.motion_frames_for(mel_frames) > frames {
        mel_frames -= 1;
    }
    // The words over exactly those frames (a `durations` package: the phonemes stretched to the motion's length).
    let input = text_input(&cfg, vocab, &a.text, None, Length::Frames(mel_frames), &mut EspeakTimer)?;
    let req = Request::motion_to_speech(&cfg, data, input.ids, mel_frames);
    let mut backend = super::backend(&mut pkg, &(a.rt.clone(), Precision::Fp32))?;
    let mut opts = SamplerOptions::from_config(&cfg, a.seed);
    opts.steps = a.steps.unwrap_or(opts.steps);
    let out = sampler::sample(backend.as_mut(), &cfg, &req, &opts)?;
    let choice = VocoderChoice::for_package(vocoder_choice(a.vocoder.as_deref())?.as_ref(), &dir);
    let mut vocoder = Vocoder::open(&choice, &cfg.audio, &ort_options(&a.rt)?)?;
    let mel = Mel { frames: out.mel_frames, n_mels: cfg.audio.n_mels, data: out.mel };
    let audio = vocoder.vocode(&mel)?;
    wav::write(&a.out, cfg.audio.sample_rate, &audio, WavFormat::Pcm16)?;
    println!(
        "{frames} motion frames + {:?} -> {:.2} s of speech ({choice}) -> {}",
        a.text,
        audio.len() as f64 / cfg.audio.sample_rate as f64,
        a.out.display()
    );
    Ok(())
}
