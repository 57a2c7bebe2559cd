//! WAV files (`hound`): any PCM integer (8/16/24/32-bit) or 32-bit float file, any rate and channel count, in;
//! model-rate mono f32 via [`load_mono`]; 16-bit PCM or 32-bit float out.
//!
//! Every failure names the file and what is wrong: not a WAV/corrupt header, empty (no samples), truncated
//! (fewer sample bytes than the header declares), unsupported encoding (e.g. A-law, 64-bit float).

use std::path::Path;

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use super::resample::resample;
use super::AudioError;

/// Decoded WAV: interleaved f32 samples in [-1, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct Wav {
    pub sample_rate: u32,
    pub channels: u16,
    /// Interleaved frames.
    pub samples: Vec<f32>,
}

impl Wav {
    pub fn frames(&self) -> usize {
        self.samples.len() / self.channels as usize
    }

    /// Average of the channels.
    pub fn to_mono(&self) -> Vec<f32> {
        downmix(&self.samples, self.channels as usize)
    }
}

/// Average interleaved `channels` to mono.
pub fn downmix(interleaved: &[f32], channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved.to_vec();
    }
    interleaved.chunks_exact(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect()
}

/// Sample file formats for writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavFormat {
    /// 16-bit signed PCM (values clipped to [-1, 1]).
    Pcm16,
    /// 32-bit IEEE float.
    F32,
}

fn err(path: &Path, msg: impl Into<String>) -> AudioError {
    AudioError::Wav { path: path.to_path_buf(), msg: msg.into() }
}

fn hound_err(path: &Path, e: hound::Error) -> AudioError {
    match e {
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            err(path, "truncated or empty: the file ends inside the WAV header")
        }
        hound::Error::IoError(io) if io.kind() == std::io::ErrorKind::NotFound => {
            AudioError::Io { path: path.to_path_buf(), source: io }
        }
        hound::Error::IoError(io) => AudioError::Io { path: path.to_path_buf(), source: io },
        hound::Error::FormatError(m) if m.contains("bits per sample") || m.contains("format") => err(
            path,
            format!("unsupported WAV encoding ({m}): expected PCM integer (8/16/24/32-bit) or 32-bit float samples"),
        ),
        hound::Error::FormatError(m) => err(path, format!("not a valid WAV file: {m}")),
        hound::Error::Unsupported => {
            err(path, "unsupported WAV encoding: expected PCM integer (8/16/24/32-bit) or 32-bit float samples")
        }
        hound::Error::TooWide => err(path, "unsupported WAV encoding: samples wider than 32 bits"),
        hound::Error::InvalidSampleFormat => err(path, "unsupported WAV encoding: invalid sample format"),
        hound::Error::UnfinishedSample => err(path, "truncated: the last sample is incomplete"),
    }
}

/// Read a WAV file.
pub fn read(path: &Path) -> Result<Wav, AudioError> {
    read_from(open_file(path)?, path)
}

/// Open a WAV file for reading, refusing an empty one.
fn open_file(path: &Path) -> Result<std::io::BufReader<std::fs::File>, AudioError> {
    let file = std::fs::File::open(path).map_err(|e| AudioError::Io { path: path.to_path_buf(), source: e })?;
    if file.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(err(path, "empty file (0 bytes); expected a WAV file"));
    }
    Ok(std::io::BufReader::new(file))
}

/// How a WAV's samples become f32: read as floats, or as integers times `scale`.
#[derive(Debug, Clone, Copy)]
enum Encoding {
    Float,
    Int { scale: f32 },
}

/// The header checks of every WAV reader: a channel count, a rate, and an encoding this reader decodes.
fn check_spec(path: &Path, spec: &hound::WavSpec) -> Result<Encoding, AudioError> {
    if spec.channels == 0 || spec.sample_rate == 0 {
        return Err(err(path, format!("invalid header: {} channel(s) at {} Hz", spec.channels, spec.sample_rate)));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (SampleFormat::Float, 32) => Ok(Encoding::Float),
        (SampleFormat::Int, bits @ 1..=32) => Ok(Encoding::Int { scale: 1.0 / (1u64 << (bits - 1)) as f32 }),
        (fmt, bits) => Err(err(
            path,
            format!(
                "unsupported WAV encoding: {bits}-bit {fmt:?}; expected PCM integer (8/16/24/32-bit) or 32-bit \
                 float samples"
            ),
        )),
    }
}

/// Read a WAV held in memory (e.g. an upload); `origin` names it in errors.
pub fn read_bytes(bytes: &[u8], origin: &Path) -> Result<Wav, AudioError> {
    if bytes.is_empty() {
        return Err(err(origin, "empty (0 bytes); expected a WAV file"));
    }
    read_from(std::io::Cursor::new(bytes), origin)
}

fn read_from<R: std::io::Read>(input: R, path: &Path) -> Result<Wav, AudioError> {
    let reader = WavReader::new(input).map_err(|e| hound_err(path, e))?;
    let spec = reader.spec();
    let encoding = check_spec(path, &spec)?;
    let declared = reader.len() as usize;
    let samples: Result<Vec<f32>, hound::Error> = match encoding {
        Encoding::Float => reader.into_samples::<f32>().collect(),
        Encoding::Int { scale } => reader.into_samples::<i32>().map(|s| s.map(|v| v as f32 * scale)).collect(),
    };
    let samples = match samples {
        Ok(s) => s,
        Err(hound::Error::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err(err(path, format!("truncated: the header declares {declared} samples, the file ends early")))
        }
        Err(e) => return Err(hound_err(path, e)),
    };
    if samples.len() < declared {
        return Err(err(
            path,
            format!("truncated: the header declares {declared} samples, only {} are present", samples.len()),
        ));
    }
    if samples.is_empty() {
        return Err(err(path, "contains no audio samples"));
    }
    if let Some(i) = samples.iter().position(|v| !v.is_finite()) {
        return Err(err(path, format!("sample {i} is not finite ({})", samples[i])));
    }
    Ok(Wav { sample_rate: spec.sample_rate, channels: spec.channels, samples })
}

/// A WAV file read a block at a time (long recordings in bounded memory), with the errors of [`read`].
pub struct WavStream {
    path: std::path::PathBuf,
    reader: WavReader<std::io::BufReader<std::fs::File>>,
    pub sample_rate: u32,
    pub channels: u16,
    /// Frames the header declares.
    pub frames: u64,
    read: u64,
    encoding: Encoding,
}

impl WavStream {
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let reader = WavReader::new(open_file(path)?).map_err(|e| hound_err(path, e))?;
        let spec = reader.spec();
        let encoding = check_spec(path, &spec)?;
        let frames = reader.duration() as u64;
        if frames == 0 {
            return Err(err(path, "contains no audio samples"));
        }
        Ok(Self {
            path: path.to_path_buf(),
            sample_rate: spec.sample_rate,
            channels: spec.channels,
            frames,
            read: 0,
            reader,
            encoding,
        })
    }

    /// The next `frames` frames (fewer at the end) mixed to mono; `None` once the declared frames are read.
    pub fn next_mono(&mut self, frames: usize) -> Result<Option<Vec<f32>>, AudioError> {
        let left = self.frames - self.read;
        if left == 0 {
            return Ok(None);
        }
        let n = (frames as u64).min(left) as usize * self.channels as usize;
        let got: Result<Vec<f32>, hound::Error> = match self.encoding {
            Encoding::Float => self.reader.samples::<f32>().take(n).collect(),
            Encoding::Int { scale } => {
                self.reader.samples::<i32>().take(n).map(|s| s.map(|v| v as f32 * scale)).collect()
            }
        };
        let got = match got {
            Ok(g) => g,
            Err(hound::Error::IoError(io)) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(err(
                    &self.path,
                    format!("truncated: the header declares {} frames, the file ends early", self.frames),
                ))
            }
            Err(e) => return Err(err(&self.path, format!("truncated or corrupt data after frame {}: {e}", self.read))),
        };
        if got.len() < n {
            return Err(err(
                &self.path,
                format!(
                    "truncated: the header declares {} frames, only {} are present",
                    self.frames,
                    self.read + (got.len() / self.channels as usize) as u64
                ),
            ));
        }
        if let Some(i) = got.iter().position(|v| !v.is_finite()) {
            return Err(err(
                &self.path,
                format!("sample {} is not finite ({})", self.read * self.channels as u64 + i as u64, got[i]),
            ));
        }
        self.read += (n / self.channels as usize) as u64;
        Ok(Some(downmix(&got, self.channels as usize)))
    }
}

/// Read a WAV file as mono f32 at `sample_rate` (channels averaged, then resampled).
pub fn load_mono(path: &Path, sample_rate: u32) -> Result<Vec<f32>, AudioError> {
    to_mono_at(read(path)?, path, sample_rate)
}

/// [`load_mono`] of a WAV held in memory; `origin` names it in errors.
pub fn load_mono_bytes(bytes: &[u8], origin: &Path, sample_rate: u32) -> Result<Vec<f32>, AudioError> {
    to_mono_at(read_bytes(bytes, origin)?, origin, sample_rate)
}

fn to_mono_at(wav: Wav, origin: &Path, sample_rate: u32) -> Result<Vec<f32>, AudioError> {
    resample(&wav.to_mono(), wav.sample_rate, sample_rate).map_err(|e| err(origin, e.to_string()))
}

/// Write mono samples.
pub fn write(path: &Path, sample_rate: u32, samples: &[f32], format: WavFormat) -> Result<(), AudioError> {
    let (bits, fmt) = match format {
        WavFormat::Pcm16 => (16, SampleFormat::Int),
        WavFormat::F32 => (32, SampleFormat::Float),
    };
    let spec = WavSpec { channels: 1, sample_rate, bits_per_sample: bits, sample_format: fmt };
    let werr = |e: hound::Error| err(path, format!("writing: {e}"));
    let mut w = WavWriter::create(path, spec).map_err(werr)?;
    for &s in samples {
        match format {
            WavFormat::Pcm16 => w.write_sample((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).map_err(werr)?,
            WavFormat::F32 => w.write_sample(s).map_err(werr)?,
        }
    }
    w.finalize().map_err(werr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_spec(path: &Path, spec: WavSpec, n: usize) {
        let mut w = WavWriter::create(path, spec).unwrap();
        for i in 0..n {
            let v = ((i as f64 * 0.1).sin() * 0.5) as f32;
            match (spec.sample_format, spec.bits_per_sample) {
                (SampleFormat::Float, _) => w.write_sample(v).unwrap(),
                (SampleFormat::Int, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
                (SampleFormat::Int, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                (SampleFormat::Int, b) => w.write_sample((v * ((1i64 << (b - 1)) - 1) as f32) as i32).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_every_pcm_and_float_format() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, fmt) in [
            (8, SampleFormat::Int),
            (16, SampleFormat::Int),
            (24, SampleFormat::Int),
            (32, SampleFormat::Int),
            (32, SampleFormat::Float),
        ] {
            let p = dir.path().join(format!("{bits}{fmt:?}.wav"));
            write_spec(
                &p,
                WavSpec { channels: 2, sample_rate: 48_000, bits_per_sample: bits, sample_format: fmt },
                960,
            );
            let w = read(&p).unwrap();
            assert_eq!((w.channels, w.sample_rate, w.frames()), (2, 48_000, 480));
            let tol = if bits == 8 { 1.0 / 64.0 } else { 1e-4 };
            for (i, s) in w.samples.iter().enumerate() {
                let want = ((i as f64 * 0.1).sin() * 0.5) as f32;
                assert!((s - want).abs() < tol, "{bits}-bit {fmt:?} sample {i}: {s} vs {want}");
            }
            let mono = load_mono(&p, 24_000).unwrap();
            assert_eq!(mono.len(), 240);
        }
    }

    #[test]
    fn streamed_blocks_equal_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.wav");
        write_spec(
            &p,
            WavSpec { channels: 2, sample_rate: 44_100, bits_per_sample: 24, sample_format: SampleFormat::Int },
            2002,
        );
        let whole = read(&p).unwrap().to_mono();
        let mut st = WavStream::open(&p).unwrap();
        assert_eq!((st.frames, st.channels, st.sample_rate), (1001, 2, 44_100));
        let mut got = Vec::new();
        while let Some(b) = st.next_mono(300).unwrap() {
            assert!(b.len() <= 300);
            got.extend(b);
        }
        assert_eq!(got, whole);
        // A file cut short mid-data: a named error, not a panic or silent short read.
        let bytes = std::fs::read(&p).unwrap();
        let cut = dir.path().join("cut.wav");
        std::fs::write(&cut, &bytes[..bytes.len() - 3000]).unwrap();
        let mut st = WavStream::open(&cut).unwrap();
        let e = loop {
            match st.next_mono(256) {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("truncation not noticed"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(e.contains("cut.wav") && e.contains("truncated"), "{e}");
        std::fs::write(&cut, b"").unwrap();
        assert!(WavStream::open(&cut).err().unwrap().to_string().contains("empty"));
    }

    #[test]
    fn write_read_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.01).sin() * 0.9).collect();
        let p = dir.path().join("f.wav");
        write(&p, 24_000, &x, WavFormat::F32).unwrap();
        assert_eq!(read(&p).unwrap().samples, x);
        write(&p, 24_000, &x, WavFormat::Pcm16).unwrap();
        let y = read(&p).unwrap().samples;
        assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 2.0 / 32767.0));
    }
}
