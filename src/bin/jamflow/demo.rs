//! `jamflow demo`, and the demo speech and portrait that the benches share.

use super::*;

/// What the demo says (a few sentences with open vowels, rounding and bilabial closures to watch).
const DEMO_TEXT: &str = "Hello, I am a talking portrait. My lips move with the sound you hear. \
                         Watch my mouth open wide, then close on the words bubble, maybe, and moment.";

pub(crate) fn demo(out: &Path, package: Option<&Path>, (backend, precision): (Target, Precision)) -> Result<()> {
    use jamflow::daemon::{self, config::InputKind, Config};
    use jamflow::live::OUTPUT_FPS;
    use jamflow::stream::Mp4Output;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let root = repo_root();
    let pkg_dir = match package {
        Some(p) => p.to_path_buf(),
        None => daemon::default_package(&root).context("no default model package under engines/")?,
    };
    println!("jamflow demo: {} -> mesh renderer -> MP4 (H.264 + AAC)", pkg_dir.display());
    info(&pkg_dir, 10.0)?;
    // 1. A speech clip from espeak-ng (the voice the default model was trained on), at the package's rate.
    let audio_cfg = load(&pkg_dir)?.config.audio;
    let speech = demo_speech(0.0, &audio_cfg)?;
    let wav = out.join("speech.wav");
    jamflow::audio::wav::write(&wav, audio_cfg.sample_rate, &speech, jamflow::audio::wav::WavFormat::Pcm16)?;
    let clip_s = speech.len() as f64 / audio_cfg.sample_rate as f64;
    println!("speech clip: {clip_s:.1} s -> {}", wav.display());
    // 2. The daemon's own pipeline with the WAV played once in real time.
    let mp4 = out.join("jamflow-demo.mp4");
    let mut cfg = Config::default();
    cfg.input.kind = InputKind::Wav;
    cfg.input.wav = Some(wav.clone());
    cfg.input.loop_wav = false;
    cfg.model.package = Some(pkg_dir.clone());
    (cfg.model.backend, cfg.model.precision) = (backend, precision);
    cfg.portrait.image = Some(root.join(DEMO_PORTRAIT));
    cfg.outputs.mp4 = Some(Mp4Output::new(mp4.clone()));
    cfg.control.enabled = false;
    cfg.check()?;
    // Long enough for the clip after the output delay (at most 2 s with the default streaming settings).
    let frames = ((clip_s + 2.0) * OUTPUT_FPS as f64).ceil() as u64;
    println!("streaming {:.1} s in real time ...", frames as f64 / OUTPUT_FPS as f64);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let outcome = daemon::run(&cfg, Some(frames), stop)?;
    if !outcome.clean_eos {
        bail!("the pipeline did not finish cleanly; {} may be unplayable", mp4.display());
    }
    println!("wrote {} ({} frames at {OUTPUT_FPS} fps, with sound)", mp4.display(), outcome.frames);
    println!("play it:   ffplay {}", mp4.display());
    println!(
        "watch live over RTSP (the same clip, looped; or add --device default for the microphone):\n  \
         target/release/jamflowd --config configs/demo.toml\n  ffplay -rtsp_transport tcp rtsp://127.0.0.1:8554/jamflow\n  \
         curl -X POST -H 'Content-Type: application/json' -d '{{\"text\": \"Hello there.\"}}' http://127.0.0.1:8620/say"
    );
    Ok(())
}

/// Speech for demos and benches: [`DEMO_TEXT`] by espeak-ng at the package's rate, repeated to at least `secs`.
pub(crate) fn demo_speech(secs: f64, audio_cfg: &jamflow::model::config::AudioConfig) -> Result<Vec<f32>> {
    use jamflow::corpus::{articulation::Articulator, espeak::VoiceSettings};
    let voice = VoiceSettings { voice: "en-us".into(), rate: 160, pitch: 50, range: 50 };
    let mut x = Vec::new();
    loop {
        let s = jamflow::corpus::utterance(DEMO_TEXT, &voice, audio_cfg, &Articulator::default())
            .context("synthesizing speech with espeak-ng (scripts/setup.sh installs libespeak-ng1)")?;
        x.extend(s.audio);
        if x.len() as f64 >= secs * audio_cfg.sample_rate as f64 {
            return Ok(x);
        }
    }
}

/// The sample portrait shipped in the repository.
pub(crate) const DEMO_PORTRAIT: &str = "assets/portraits/astronaut.png";

/// The repository checkout: the current directory when it has `engines/`, else where the binary was built from.
pub(crate) fn repo_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    if cwd.join("engines").is_dir() {
        cwd
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }
}
