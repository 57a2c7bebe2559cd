//! espeak-ng through its C API (`speak_lib.h`), loaded at run time from `libespeak-ng.so.1`.
//!
//! Only what the corpus needs: synchronous synthesis into memory with phoneme events
//! (`espeakINITIALIZE_PHONEME_EVENTS`, eSpeak phoneme mnemonics). The library keeps global state, so one
//! process-wide instance behind a mutex serves every caller.

use std::ffi::{c_char, c_int, c_uint, c_void, CString};
use std::sync::{Mutex, OnceLock};

use super::CorpusError;

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

struct Api {
    _lib: libloading::Library,
    synth: unsafe extern "C" fn(*const c_void, usize, c_uint, c_int, c_uint, c_uint, *mut c_uint, *mut c_void) -> c_int,
    set_parameter: unsafe extern "C" fn(c_int, c_int, c_int) -> c_int,
    set_voice_by_name: unsafe extern "C" fn(*const c_char) -> c_int,
    sample_rate: u32,
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
        let initialize: libloading::Symbol<unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int> =
            lib.get(b"espeak_Initialize\0").map_err(sym_err)?;
        let set_cb: libloading::Symbol<unsafe extern "C" fn(SynthCallback)> =
            lib.get(b"espeak_SetSynthCallback\0").map_err(sym_err)?;
        let rate = initialize(
            AUDIO_OUTPUT_SYNCHRONOUS,
            500,
            std::ptr::null(),
            INITIALIZE_PHONEME_EVENTS | INITIALIZE_DONT_EXIT,
        );
        if rate <= 0 {
            return Err(format!("espeak_Initialize failed ({rate}); is espeak-ng-data installed?"));
        }
        set_cb(callback);
        let synth = *lib.get(b"espeak_Synth\0").map_err(sym_err)?;
        let set_parameter = *lib.get(b"espeak_SetParameter\0").map_err(sym_err)?;
        let set_voice_by_name = *lib.get(b"espeak_SetVoiceByName\0").map_err(sym_err)?;
        Ok(Api { _lib: lib, synth, set_parameter, set_voice_by_name, sample_rate: rate as u32 })
    }
}

/// Synthesize `text` with `voice`; deterministic for the same inputs.
pub fn synthesize(text: &str, voice: &VoiceSettings) -> Result<Speech, CorpusError> {
    let engine = ENGINE.get_or_init(open).as_ref().map_err(|e| CorpusError::Espeak(e.clone()))?;
    let api = engine.lock().unwrap_or_else(|p| p.into_inner());
    let name = CString::new(voice.voice.as_str())
        .map_err(|_| CorpusError::Espeak(format!("voice name {:?} contains a NUL byte", voice.voice)))?;
    let ctext = CString::new(text).map_err(|_| CorpusError::Espeak(format!("text {text:?} contains a NUL byte")))?;
    let mut collect = Collect { samples: Vec::new(), phonemes: Vec::new() };
    // SAFETY: the function pointers come from the loaded library (kept alive in `api`); `collect` outlives
    // the synchronous `espeak_Synth` call that the callback writes it from.
    unsafe {
        if (api.set_voice_by_name)(name.as_ptr()) != 0 {
            return Err(CorpusError::Espeak(format!("unknown espeak-ng voice {:?}", voice.voice)));
        }
        for (p, v, field) in
            [(PARAM_RATE, voice.rate, "rate"), (PARAM_PITCH, voice.pitch, "pitch"), (PARAM_RANGE, voice.range, "range")]
        {
            if (api.set_parameter)(p, v as c_int, 0) != 0 {
                return Err(CorpusError::Espeak(format!("espeak-ng refused {field} = {v}")));
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
            return Err(CorpusError::Espeak(format!("espeak_Synth failed ({rc}) on {text:?}")));
        }
    }
    Ok(Speech { sample_rate: api.sample_rate, samples: collect.samples, phonemes: collect.phonemes })
}
