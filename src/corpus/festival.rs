//! festival (Debian `festival` + `festvox-*` voices) as a corpus engine: one batch process per call, a Scheme
//! script that synthesizes each sentence, saves its wave and its segment relation (`utt.save.segs`: the end time
//! of every phone, ARPAbet-style `radio` phones for the US voices).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::articulation::Segment;
use super::CorpusError;

/// A festival voice the corpus uses: its Scheme selector and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FestivalVoice {
    /// Short name (the corpus voice family is `festival:NAME`).
    pub name: &'static str,
    /// The Scheme function that selects it.
    pub select: &'static str,
    /// Debian package.
    pub package: &'static str,
}

/// Voices of Debian 12's main component (`festvox-rablpc16k` is not in it).
pub const VOICES: [FestivalVoice; 3] = [
    FestivalVoice { name: "kal", select: "voice_kal_diphone", package: "festvox-kallpc16k" },
    FestivalVoice { name: "ked", select: "voice_ked_diphone", package: "festvox-kdlpc16k" },
    FestivalVoice { name: "slt", select: "voice_cmu_us_slt_arctic_hts", package: "festvox-us-slt-hts" },
];

/// One sentence to speak.
#[derive(Debug, Clone)]
pub struct Job {
    pub text: String,
    pub voice: FestivalVoice,
    /// Duration stretch (> 1 slower).
    pub stretch: f64,
    /// Where festival writes the wave (its native rate) and the segments.
    pub wav: PathBuf,
    pub segs: PathBuf,
}

fn scheme_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Is festival there with `voice`? The error names the Debian package to install.
pub fn check(voice: &FestivalVoice) -> Result<(), CorpusError> {
    let out = Command::new("festival").args(["-b", &format!("({})", voice.select)]).output().map_err(|e| {
        CorpusError::Engine(format!(
            "festival not found ({e}): install the Debian package `festival` (scripts/setup.sh)"
        ))
    })?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() || err.contains("unbound variable") {
        return Err(CorpusError::Engine(format!(
            "festival voice {} ({}) is missing: install the Debian package `{}`",
            voice.name, voice.select, voice.package
        )));
    }
    Ok(())
}

/// Speak every job in one festival process.
pub fn run(jobs: &[Job], script: &Path) -> Result<(), CorpusError> {
    let mut s = String::new();
    for j in jobs {
        s.push_str(&format!(
            "({})\n(Parameter.set 'Duration_Stretch {:.4})\n(set! u (SynthText {}))\n(utt.save.wave u {} 'riff)\n\
             (utt.save.segs u {})\n",
            j.voice.select,
            j.stretch,
            scheme_string(&j.text),
            scheme_string(&j.wav.to_string_lossy()),
            scheme_string(&j.segs.to_string_lossy()),
        ));
    }
    std::fs::write(script, s).map_err(|e| CorpusError::Io { path: script.to_path_buf(), source: e })?;
    let out = Command::new("festival")
        .arg("-b")
        .arg(script)
        .output()
        .map_err(|e| CorpusError::Engine(format!("festival: {e}: install the Debian package `festival`")))?;
    if !out.status.success() {
        return Err(CorpusError::Engine(format!(
            "festival -b {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    for j in jobs {
        if !j.segs.is_file() || !j.wav.is_file() {
            return Err(CorpusError::Engine(format!(
                "festival wrote no {} for {:?} ({}): {}",
                j.wav.display(),
                j.text,
                j.voice.name,
                String::from_utf8_lossy(&out.stderr)
            )));
        }
    }
    Ok(())
}

/// Parse an xlabel segment file (`utt.save.segs`): header, `#`, then `END_TIME COLOUR NAME` per phone.
pub fn parse_segs(text: &str, path: &Path) -> Result<Vec<Segment>, CorpusError> {
    let mut out: Vec<Segment> = Vec::new();
    let mut body = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if !body {
            body = line == "#";
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let end: f64 = match (f.len(), f.first().and_then(|t| t.parse().ok())) {
            (3, Some(t)) => t,
            _ => {
                return Err(CorpusError::Format {
                    path: path.to_path_buf(),
                    msg: format!("line {}: expected `END_TIME COLOUR NAME`, found {line:?}", i + 1),
                })
            }
        };
        let start = out.last().map(|s| s.end).unwrap_or(0.0);
        out.push(Segment { name: f[2].to_string(), start, end: end.max(start) });
    }
    if out.is_empty() {
        return Err(CorpusError::Format { path: path.to_path_buf(), msg: "no segments".into() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segs_parse_into_a_contiguous_timeline() {
        let t = "separator ;\nnfields 1\n#\n0.2400 100 pau\n0.3150 100 m\n0.4595 100 ey\n";
        let s = parse_segs(t, Path::new("x.segs")).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!((s[0].start, s[0].end, s[0].name.as_str()), (0.0, 0.24, "pau"));
        assert_eq!((s[2].start, s[2].end, s[2].name.as_str()), (0.315, 0.4595, "ey"));
        let err = parse_segs("#\n0.1 pau\n", Path::new("x.segs")).unwrap_err().to_string();
        assert!(err.contains("x.segs") && err.contains("line 2"), "{err}");
        assert!(parse_segs("#\n", Path::new("e.segs")).is_err());
    }

    #[test]
    fn scheme_strings_are_escaped() {
        assert_eq!(scheme_string(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
