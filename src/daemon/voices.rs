//! Reference voices for `/say`: by name from `control.voices_dir` (`NAME.wav` with its transcript `NAME.txt`),
//! or uploaded as base64 WAV bytes in the request (at most [`MAX_REFERENCE_BYTES`]). Never a filesystem path
//! from the request.

use std::path::{Path, PathBuf};

/// Largest uploaded reference WAV (decoded bytes): 40 s of 24 kHz 16-bit mono with room for headers.
pub const MAX_REFERENCE_BYTES: usize = 2 * 1024 * 1024;
/// Longest voice name.
const MAX_NAME: usize = 64;

/// A reference voice request, as the `/say` body gives it.
#[derive(Debug, Default)]
pub struct ReferenceSpec<'a> {
    pub voice: Option<&'a str>,
    pub wav_base64: Option<&'a str>,
    pub text: Option<&'a str>,
}

/// Why a reference was refused (the message names the field).
pub type VoiceError = String;

/// A name is letters, digits, `-` and `_` only (so it cannot leave the directory).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Voices available in `dir`: names of `NAME.wav` files that have a `NAME.txt` transcript, sorted.
pub fn list(dir: Option<&Path>) -> Vec<String> {
    let Some(Ok(entries)) = dir.map(std::fs::read_dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".wav")).map(str::to_string))
        .filter(|n| valid_name(n) && dir.is_some_and(|d| d.join(format!("{n}.txt")).is_file()))
        .collect();
    names.sort();
    names
}

/// The reference audio (mono at `sample_rate`) and its transcript, or `None` when the request names none.
pub fn resolve(
    dir: Option<&Path>,
    spec: &ReferenceSpec,
    sample_rate: u32,
) -> Result<Option<(Vec<f32>, String)>, VoiceError> {
    match (spec.voice, spec.wav_base64) {
        (None, None) if spec.text.is_some() => {
            Err("reference_text needs reference_voice or reference_wav_base64".into())
        }
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err("give reference_voice or reference_wav_base64, not both".into()),
        (Some(name), None) => {
            let dir = dir.ok_or("reference_voice: no voices directory configured (control.voices_dir)")?;
            if !valid_name(name) {
                return Err(format!(
                    "reference_voice: {name:?} is not a voice name (letters, digits, - and _, at most {MAX_NAME})"
                ));
            }
            let wav = dir.join(format!("{name}.wav"));
            if !wav.is_file() {
                return Err(format!("reference_voice: no voice {name:?} (GET /voices lists them)"));
            }
            let text = match spec.text {
                Some(t) => t.to_string(),
                None => transcript(&dir.join(format!("{name}.txt")))?,
            };
            let audio = crate::audio::wav::load_mono(&wav, sample_rate)
                .map_err(|e| format!("reference_voice {name:?}: {e}"))?;
            Ok(Some((audio, text)))
        }
        (None, Some(b64)) => {
            let text = spec.text.ok_or("reference_wav_base64 needs reference_text (what the recording says)")?;
            if b64.len() > MAX_REFERENCE_BYTES.div_ceil(3) * 4 + 4 {
                return Err(format!("reference_wav_base64: larger than {MAX_REFERENCE_BYTES} bytes"));
            }
            let bytes = decode_base64(b64).map_err(|e| format!("reference_wav_base64: {e}"))?;
            let origin = PathBuf::from("reference_wav_base64");
            let audio = crate::audio::wav::load_mono_bytes(&bytes, &origin, sample_rate).map_err(|e| e.to_string())?;
            Ok(Some((audio, text.to_string())))
        }
    }
}

fn transcript(path: &Path) -> Result<String, VoiceError> {
    let t =
        std::fs::read_to_string(path).map_err(|e| format!("{}: cannot read the transcript: {e}", path.display()))?;
    let t = t.trim();
    if t.is_empty() {
        return Err(format!("{}: empty transcript", path.display()));
    }
    Ok(t.to_string())
}

/// Standard base64 (RFC 4648, `+/`, optional `=` padding; whitespace ignored).
pub fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for (i, c) in text.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding = true;
                continue;
            }
            b' ' | b'\n' | b'\r' | b'\t' => continue,
            _ => return Err(format!("invalid base64 character {:?} at {i}", c as char)),
        };
        if padding {
            return Err(format!("base64 data after '=' padding at {i}"));
        }
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_known_vectors() {
        for (enc, dec) in [("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYmFy", "foobar")] {
            assert_eq!(decode_base64(enc).unwrap(), dec.as_bytes(), "{enc}");
        }
        assert!(decode_base64("Zm9v!").is_err());
        assert!(decode_base64("Zg==Zg").is_err());
    }

    #[test]
    fn names_never_leave_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let rate = 24_000;
        let tone: Vec<f32> = (0..2400).map(|i| (i as f32 * 0.1).sin() * 0.3).collect();
        crate::audio::wav::write(&dir.path().join("alice.wav"), rate, &tone, crate::audio::wav::WavFormat::Pcm16)
            .unwrap();
        std::fs::write(dir.path().join("alice.txt"), "Hello.\n").unwrap();
        std::fs::write(dir.path().join("notes.wav"), b"no transcript beside me").unwrap();
        assert_eq!(list(Some(dir.path())), vec!["alice".to_string()]);
        let spec = |voice| ReferenceSpec { voice: Some(voice), ..ReferenceSpec::default() };
        let (audio, text) = resolve(Some(dir.path()), &spec("alice"), rate).unwrap().unwrap();
        assert_eq!((audio.len(), text.as_str()), (2400, "Hello."));
        for bad in ["../alice", "/etc/shadow", "a/b", ""] {
            let e = resolve(Some(dir.path()), &spec(bad), rate).unwrap_err();
            assert!(e.contains("not a voice name"), "{bad}: {e}");
        }
        assert!(resolve(Some(dir.path()), &spec("bob"), rate).unwrap_err().contains("no voice"));
        assert!(resolve(None, &spec("alice"), rate).unwrap_err().contains("voices_dir"));
    }

    #[test]
    fn uploads_are_decoded_and_limited() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("u.wav");
        crate::audio::wav::write(&wav, 16_000, &[0.1; 1600], crate::audio::wav::WavFormat::Pcm16).unwrap();
        let bytes = std::fs::read(&wav).unwrap();
        let b64 = encode(&bytes);
        let spec = ReferenceSpec { wav_base64: Some(&b64), text: Some("hi"), ..ReferenceSpec::default() };
        let (audio, _) = resolve(None, &spec, 24_000).unwrap().unwrap();
        assert_eq!(audio.len(), 2400, "resampled 16 -> 24 kHz");
        let no_text = ReferenceSpec { text: None, ..spec };
        assert!(resolve(None, &no_text, 24_000).unwrap_err().contains("reference_text"));
        let huge = "A".repeat(MAX_REFERENCE_BYTES / 3 * 4 + 100);
        let spec = ReferenceSpec { wav_base64: Some(&huge), text: Some("hi"), ..ReferenceSpec::default() };
        assert!(resolve(None, &spec, 24_000).unwrap_err().contains("larger than"));
        let junk = encode(b"RIFF not really");
        let spec = ReferenceSpec { wav_base64: Some(&junk), text: Some("hi"), ..ReferenceSpec::default() };
        assert!(resolve(None, &spec, 24_000).unwrap_err().contains("reference_wav_base64"));
    }

    /// Test-side encoder (the daemon only decodes).
    fn encode(b: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in b.chunks(3) {
            let n = c.iter().enumerate().fold(0u32, |acc, (i, &x)| acc | (x as u32) << (16 - 8 * i));
            for i in 0..=c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
            s.push_str(&"=".repeat(3 - c.len()));
        }
        s
    }
}
