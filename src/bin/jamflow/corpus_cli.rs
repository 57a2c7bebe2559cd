//! `jamflow corpus make | truth` (docs/corpus.md).

use super::*;

#[derive(Subcommand)]
pub(crate) enum CorpusCmd {
    /// Speak sentences with espeak-ng and derive ground-truth mouth motion; writes WAVs, safetensors, manifest.json.
    Make {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Hours of audio over all splits.
        #[arg(long, default_value_t = 1.0)]
        hours: f64,
        /// Share of validation and of test (each), of sentences and of hours.
        #[arg(long, default_value_t = 0.03)]
        eval_fraction: f64,
        /// Text files (fortune format or plain text); default: every fortune file in /usr/share/games/fortunes.
        #[arg(long)]
        text: Vec<PathBuf>,
        /// Engines that speak (comma-separated).
        #[arg(long, value_enum, value_delimiter = ',', default_values_t = jamflow::corpus::voices::Engine::ALL)]
        engines: Vec<jamflow::corpus::voices::Engine>,
        /// Share of training/validation utterances heard through drawn recording conditions (docs/corpus.md).
        #[arg(long, default_value_t = 0.65)]
        augment: f64,
        /// Python with piper-tts, pocketsphinx, pyroomacoustics (default $JAMFLOW_PYTHON, else .venv/bin/python).
        #[arg(long)]
        python: Option<PathBuf>,
    },
    /// Mouth truth for any speech: a phone timeline (JSON as scripts/corpus_piper.py prints it: `phone_set`
    /// espeak|arpabet|ipa, `phones` [[name, start_s, end_s], ...]) -> a corpus motion file covering AUDIO's length,
    /// through the corpus's phone tables and articulator (scores `say` lips: scripts/eval_say_lips.py).
    Truth {
        /// The phone timeline (JSON).
        #[arg(long)]
        phones: PathBuf,
        /// The speech the timeline belongs to (any WAV): the motion covers its mel frames.
        #[arg(long)]
        audio: PathBuf,
        /// OUT.safetensors (`motion` [F, 12], `ph_start`, `ph_end`, phoneme names).
        #[arg(long)]
        out: PathBuf,
    },
}

pub(crate) fn corpus_cmd(c: CorpusCmd) -> Result<()> {
    use jamflow::corpus;
    match c {
        CorpusCmd::Make { out, seed, hours, eval_fraction, text, engines, augment, python } => {
            let text = if text.is_empty() {
                corpus::text::fortune_files(Path::new(corpus::DEFAULT_TEXT_DIR))
                    .context("no --text given; install the Debian package fortunes or pass --text FILE")?
            } else {
                text
            };
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let python = python
                .or_else(|| std::env::var_os("JAMFLOW_PYTHON").map(PathBuf::from))
                .unwrap_or_else(|| root.join(".venv/bin/python"));
            let scripts = root.join("scripts");
            let opts = corpus::CorpusOptions {
                out: out.clone(),
                seed,
                hours,
                eval_fraction,
                text,
                engines,
                augment,
                python,
                scripts,
            };
            let m = corpus::make_corpus(&opts)?;
            for s in corpus::SPLITS {
                let st = &m.splits[s];
                println!("{s:5}: {} utterances, {} sentences, {:.3} h", st.utterances, st.sentences, st.hours);
            }
            if !m.unknown_phonemes.is_empty() {
                println!("phonemes without a mapping (neutral target): {}", m.unknown_phonemes.join(" "));
            }
            println!("{} source sentences -> {}", m.source_sentences, out.join(corpus::MANIFEST).display());
            Ok(())
        }
        CorpusCmd::Truth { phones, audio, out } => {
            let text = std::fs::read_to_string(&phones).with_context(|| format!("reading {}", phones.display()))?;
            let timeline = corpus::truth::Timeline::parse(&text, &phones)?;
            let cfg = jamflow::model::config::AudioConfig::default();
            let samples = jamflow::audio::wav::load_mono(&audio, cfg.sample_rate)?.len();
            let art = corpus::articulation::Articulator::default();
            let t = corpus::truth::write_truth(&timeline, samples, &cfg, &art, &out)?;
            if !t.unknown.is_empty() {
                tracing::warn!(phones = %t.unknown.join(" "), "phones without a mapping (neutral target)");
            }
            println!("{} phones -> {} frames -> {}", t.phonemes, t.frames, out.display());
            Ok(())
        }
    }
}
