//! espeak-ng through its C API (`speak_lib.h`), loaded at run time from `libespeak-ng.so.1`: the one loader of
//! the project (the corpus and the Piper phonemizer both use it).
//!
//! - [`synthesize`]: synchronous synthesis into memory with phoneme events (`espeakINITIALIZE_PHONEME_EVENTS`,
//!   eSpeak phoneme mnemonics), with the system's espeak-ng-data (the corpus).
//! - [`text_to_phonemes`]: `espeak_TextToPhonemes` clause by clause, with the byte range of the text each call
//!   consumed, from any espeak-ng-data directory (Piper voices use the data Piper ships).
//!
//! The library keeps global state, so one process-wide instance behind a mutex serves every caller; it is
//! re-initialized when a caller asks for another data directory than the current one.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::model::alignment::{TimedPhone, PAUSE};

/// espeak-ng failures (library missing, data directory, voice, text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EspeakError(pub String);

// speak_lib.h values.
const AUDIO_OUTPUT_SYNCHRONOUS: c_int = 2;
const INITIALIZE_PHONEME_EVENTS: c_int = 0x0001;
const INITIALIZE_DONT_EXIT: c_int = 0x8000;
const POS_CHARACTER: c_int = 1;
const CHARS_UTF8: c_uint = 1;
const EVENT_LIST_TERMINATED: c_int = 0;
const EVENT_PHONEME: c_int = 7;
const PARAM_RATE: c_int = 1;
const PARAM_PITCH: c_int = 3;
const PARAM_RANGE: c_int = 4;

/// `espeak_EVENT` (speak_lib.h); the union `id` is 8 bytes (a pointer or `char[8]`).
#[repr(C)]
struct Event {
    kind: c_int,
    unique_identifier: c_uint,
    text_position: c_int,
    length: c_int,
    audio_position: c_int,
    sample: c_int,
    user_data: *mut c_void,
    id: [u8; 8],
}

type SynthCallback = unsafe extern "C" fn(*mut i16, c_int, *mut Event) -> c_int;

type InitFn = unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int;

struct Api {
    _lib: libloading::Library,
    initialize: InitFn,
    synth: unsafe extern "C" fn(*const c_void, usize, c_uint, c_int, c_uint, c_uint, *mut c_uint, *mut c_void) -> c_int,
    set_parameter: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    set_voice_by_name: unsafe extern "C" fn(*const c_char) -> c_int,
    text_to_phonemes: unsafe extern "C" fn(*mut *const c_void, c_int, c_int) -> *const c_char,
    set_synth_callback: unsafe extern "C" fn(SynthCallback),
    sample_rate: u32,
    /// The data directory the library was initialized with (`None`: its compiled-in default).
    data: Option<PathBuf>,
}

// SAFETY: the library is only ever used under the `ENGINE` mutex.
unsafe impl Send for Api {}

/// The library file names tried, in order.
const LIBRARY_NAMES: [&str; 2] = ["libespeak-ng.so.1", "libespeak-ng.so"];

static ENGINE: OnceLock<Result<Mutex<Api>, String>> = OnceLock::new();

/// One phoneme as espeak-ng reported it: its mnemonic and where it starts in the output.
#[derive(Debug, Clone, PartialEq)]
pub struct PhonemeEvent {
    pub name: String,
    /// First sample of the phoneme at the engine's native rate.
    pub sample: usize,
}

/// Speech of one utterance at the engine's native rate.
#[derive(Debug, Clone)]
pub struct Speech {
    pub sample_rate: u32,
    pub samples: Vec<i16>,
    pub phonemes: Vec<PhonemeEvent>,
}

impl Speech {
    /// The phoneme timeline in seconds, eSpeak names: espeak-ng reports no phoneme for its leading silence, so
    /// a pause ([`PAUSE`]) covers the time until the first phoneme; each phoneme lasts until the next one, the
    /// last until the end of the audio. (The corpus's motion truth and the `durations` text input both use it.)
    pub fn timeline(&self) -> Vec<TimedPhone> {
        let sr = self.sample_rate as f64;
        let total = self.seconds();
        let ph = &self.phonemes;
        let mut out = Vec::with_capacity(ph.len() + 1);
        if let Some(first) = ph.first().filter(|p| p.sample > 0) {
            out.push(TimedPhone { name: PAUSE.into(), start: 0.0, end: first.sample as f64 / sr });
        }
        out.extend((0..ph.len()).map(|i| {
            let start = ph[i].sample as f64 / sr;
            let end = ph.get(i + 1).map(|n| n.sample as f64 / sr).unwrap_or(total).max(start);
            TimedPhone { name: ph[i].name.clone(), start, end }
        }));
        out
    }

    /// Length of the audio in seconds.
    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / self.sample_rate as f64
    }
}

/// Voice settings of one utterance.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceSettings {
    /// espeak-ng voice name, e.g. `en-us+f3`.
    pub voice: String,
    /// Words per minute (80..450).
    pub rate: u32,
    /// Base pitch 0..100 (50 normal).
    pub pitch: u32,
    /// Pitch range 0..100 (50 normal).
    pub range: u32,
}

struct Collect {
    samples: Vec<i16>,
    phonemes: Vec<PhonemeEvent>,
}

unsafe extern "C" fn callback(wav: *mut i16, n: c_int, events: *mut Event) -> c_int {
    // SAFETY: espeak-ng passes an event list terminated by EVENT_LIST_TERMINATED; `user_data` is the
    // `Collect` handed to `espeak_Synth` below, alive for the whole synchronous call.
    unsafe {
        let mut e = events;
        while !e.is_null() && (*e).kind != EVENT_LIST_TERMINATED {
            let c = (*e).user_data as *mut Collect;
            if !c.is_null() && (*e).kind == EVENT_PHONEME {
                let id = (*e).id;
                let len = id.iter().position(|&b| b == 0).unwrap_or(8);
                let name = String::from_utf8_lossy(&id[..len]).into_owned();
                (*c).phonemes.push(PhonemeEvent { name, sample: (*e).sample.max(0) as usize });
            }
            e = e.add(1);
        }
        if !wav.is_null() && n > 0 && !events.is_null() {
            let c = (*events).user_data as *mut Collect;
            if !c.is_null() {
                (*c).samples.extend_from_slice(std::slice::from_raw_parts(wav, n as usize));
            }
        }
    }
    0
}

fn open() -> Result<Mutex<Api>, String> {
    let mut last = String::new();
    for name in LIBRARY_NAMES {
        // SAFETY: loading espeak-ng runs no initialisers with preconditions.
        match unsafe { libloading::Library::new(name) } {
            Ok(lib) => return init(lib).map(Mutex::new),
            Err(e) => last = format!("{name}: {e}"),
        }
    }
    Err(format!("cannot load espeak-ng ({last}); install the Debian packages espeak-ng and libespeak-ng1"))
}

fn init(lib: libloading::Library) -> Result<Api, String> {
    // SAFETY: the symbol types are the declarations of speak_lib.h.
    unsafe {
        let sym_err = |e: libloading::Error| format!("libespeak-ng: {e}");
        let initialize: InitFn = *lib.get(b"espeak_Initialize\0").map_err(sym_err)?;
        let set_synth_callback = *lib.get(b"espeak_SetSynthCallback\0").map_err(sym_err)?;
        let synth = *lib.get(b"espeak_Synth\0").map_err(sym_err)?;
        let set_parameter = *lib.get(b"espeak_SetParameter\0").map_err(sym_err)?;
        let set_voice_by_name = *lib.get(b"espeak_SetVoiceByName\0").map_err(sym_err)?;
        let text_to_phonemes = *lib.get(b"espeak_TextToPhonemes\0").map_err(sym_err)?;
        let mut api = Api {
            initialize,
            synth,
            set_parameter,
            set_voice_by_name,
            text_to_phonemes,
            set_synth_callback,
            sample_rate: 0,
            data: None,
            _lib: lib,
        };
        api.initialize(None)?;
        Ok(api)
    }
}

impl Api {
    /// (Re-)initialize the library with `data` (an `espeak-ng-data` directory; `None`: the compiled-in default).
    fn initialize(&mut self, data: Option<&Path>) -> Result<(), String> {
        let cpath = match data {
            Some(d) => {
                if !d.join("phontab").is_file() {
                    return Err(format!("{}: not an espeak-ng-data directory (no phontab)", d.display()));
                }
                Some(
                    CString::new(d.to_string_lossy().as_bytes())
                        .map_err(|_| format!("{}: NUL in path", d.display()))?,
                )
            }
            None => None,
        };
        let ptr = cpath.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: `initialize` is espeak_Initialize from the loaded library; `ptr` is NULL or a C string alive here.
        let rate = unsafe {
            (self.initialize)(AUDIO_OUTPUT_SYNCHRONOUS, 500, ptr, INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT)
        };
        if rate <= 0 {
            let what = data.map_or("the default espeak-ng-data".to_string(), |d| d.display().to_string());
            return Err(format!("espeak_Initialize failed ({rate}) with {what}; is espeak-ng-data installed?"));
        }
        // SAFETY: espeak_SetSynthCallback of the loaded library; `callback` has the declared signature.
        unsafe { (self.set_synth_callback)(callback) };
        self.sample_rate = rate as u32;
        self.data = data.map(Path::to_path_buf);
        Ok(())
    }

    /// The engine on `data`, re-initialized if it runs on another directory.
    fn on_data(&mut self, data: Option<&Path>) -> Result<(), EspeakError> {
        if self.data.as_deref() != data {
            self.initialize(data).map_err(EspeakError)?;
        }
        Ok(())
    }

    fn set_voice(&self, voice: &str) -> Result<(), EspeakError> {
        let name = CString::new(voice).map_err(|_| EspeakError(format!("voice name {voice:?} contains a NUL byte")))?;
        // SAFETY: a function of the loaded library; `name` is a C string alive for the call.
        if unsafe { (self.set_voice_by_name)(name.as_ptr()) } != 0 {
            return Err(EspeakError(format!("unknown espeak-ng voice {voice:?}")));
        }
        Ok(())
    }
}

fn engine() -> Result<std::sync::MutexGuard<'static, Api>, EspeakError> {
    let engine = ENGINE.get_or_init(open).as_ref().map_err(|e| EspeakError(e.clone()))?;
    Ok(engine.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Synthesize `text` with `voice` (the system's espeak-ng-data); deterministic for the same inputs.
pub fn synthesize(text: &str, voice: &VoiceSettings) -> Result<Speech, EspeakError> {
    let mut api = engine()?;
    api.on_data(None)?;
    api.set_voice(&voice.voice)?;
    let ctext = CString::new(text).map_err(|_| EspeakError(format!("text {text:?} contains a NUL byte")))?;
    let mut collect = Collect { samples: Vec::new(), phonemes: Vec::new() };
    // SAFETY: the function pointers come from the loaded library (kept alive in `api`); `collect` outlives
    // the synchronous `espeak_Synth` call that the callback writes it from.
    unsafe {
        for (p, v, field) in
            [(PARAM_RATE, voice.rate, "rate"), (PARAM_PITCH, voice.pitch, "pitch"), (PARAM_RANGE, voice.range, "range")]
        {
            if (api.set_parameter)(p, v as c_int, 0) != 0 {
                return Err(EspeakError(format!("espeak-ng refused {field} = {v}")));
            }
        }
        let bytes = ctext.as_bytes_with_nul();
        let rc = (api.synth)(
            bytes.as_ptr() as *const c_void,
            bytes.len(),
            0,
            POS_CHARACTER,
            0,
            CHARS_UTF8,
            std::ptr::null_mut(),
            &mut collect as *mut Collect as *mut c_void,
        );
        if rc != 0 {
            return Err(EspeakError(format!("espeak_Synth failed ({rc}) on {text:?}")));
        }
    }
    Ok(Speech { sample_rate: api.sample_rate, samples: collect.samples, phonemes: collect.phonemes })
}

/// Phoneme output of [`text_to_phonemes`] (`phonememode` of `espeak_TextToPhonemes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhonemeNames {
    /// IPA, as UTF-8.
    Ipa,
    /// eSpeak's ASCII mnemonics (`D`, `I2`, `;`).
    Mnemonic,
}

/// One clause as `espeak_TextToPhonemes` returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// The phonemes; words separated by spaces, phonemes inside a word by `separator` when one was asked for.
    pub phonemes: String,
    /// Byte range of the text this call read. espeak-ng reads one character past the clause (kept for the next
    /// call in its own state), so unless `at_end`, the range ends with that look-ahead character.
    pub consumed: std::ops::Range<usize>,
    /// Whether the call read the text to its end.
    pub at_end: bool,
}

/// `text` -> phonemes, one [`Clause`] per `espeak_TextToPhonemes` call, with `voice` (an espeak-ng voice name such
/// as `en-us`) and the espeak-ng-data directory `data` (`None`: the library's default); once per pass of `passes`
/// (the phoneme names, and a character written between the phonemes of a word or `None`), all under one lock so
/// that no other caller's state (espeak-ng keeps its look-ahead character between calls) comes between them.
pub fn text_to_phonemes(
    text: &str,
    voice: &str,
    data: Option<&Path>,
    passes: &[(PhonemeNames, Option<char>)],
) -> Result<Vec<Vec<Clause>>, EspeakError> {
    let mut api = engine()?;
    api.on_data(data)?;
    api.set_voice(voice)?;
    let ctext = CString::new(text).map_err(|_| EspeakError(format!("text {text:?} contains a NUL byte")))?;
    passes.iter().map(|&(names, separator)| clauses(&api, text, &ctext, names, separator)).collect()
}

fn clauses(
    api: &Api,
    text: &str,
    ctext: &CString,
    names: PhonemeNames,
    separator: Option<char>,
) -> Result<Vec<Clause>, EspeakError> {
    const PHONEMES_IPA: c_int = 0x02;
    let mode = match names {
        PhonemeNames::Ipa => PHONEMES_IPA,
        PhonemeNames::Mnemonic => 0,
    } | separator.map_or(0, |c| (c as c_int) << 8);
    let base = ctext.as_ptr() as usize;
    let mut ptr = ctext.as_ptr() as *const c_void;
    let mut out = Vec::new();
    while !ptr.is_null() {
        let start = ptr as usize - base;
        // SAFETY: `ptr` points into `ctext` (NUL-terminated, alive for the loop); espeak-ng advances it within
        // that buffer or sets it to NULL at the end, and returns a NUL-terminated string it owns, copied at once.
        let phonemes = unsafe {
            let p = (api.text_to_phonemes)(&mut ptr, CHARS_UTF8 as c_int, mode);
            if p.is_null() {
                return Err(EspeakError(format!("espeak_TextToPhonemes failed on {text:?}")));
            }
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        };
        let at_end = ptr.is_null();
        let end = if at_end { text.len() } else { (ptr as usize - base).min(text.len()) };
        if end <= start && !at_end {
            return Err(EspeakError(format!("espeak_TextToPhonemes made no progress on {text:?}")));
        }
        out.push(Clause { phonemes, consumed: start..end, at_end });
    }
    Ok(out)
}
