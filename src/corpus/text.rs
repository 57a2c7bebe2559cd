//! English sentences for the corpus from plain text: fortune-mod files (entries separated by `%` lines,
//! Debian packages `fortunes`, `fortunes-min`) or any UTF-8 text. Attribution lines (`-- Author`) are dropped,
//! entries are split into sentences, and only speakable, moderately long sentences are kept.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::CorpusError;

/// Sentence filter bounds.
pub const MIN_WORDS: usize = 4;
pub const MAX_WORDS: usize = 24;
pub const MAX_CHARS: usize = 150;

/// Fortune files in `dir` (data files without an extension; `.dat`/`.u8` indexes and links skipped), sorted.
pub fn fortune_files(dir: &Path) -> Result<Vec<PathBuf>, CorpusError> {
    let rd = std::fs::read_dir(dir).map_err(|e| CorpusError::Io { path: dir.to_path_buf(), source: e })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
        .map(|e| e.path())
        .filter(|p| p.extension().is_none())
        .collect();
    files.sort();
    Ok(files)
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphabetic() || " ,.'?!;:-".contains(c)
}

/// Keep a sentence if it is plain English prose of a reasonable length.
pub fn keep(s: &str) -> bool {
    let words = s.split_whitespace().count();
    s.len() <= MAX_CHARS
        && (MIN_WORDS..=MAX_WORDS).contains(&words)
        && s.chars().all(allowed)
        && s.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && s.ends_with(['.', '!', '?'])
        && !s.contains("--")
        && !s.contains("..")
}

/// Sentences of one text (fortune entries or paragraphs), in order of appearance.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Entries: fortune `%` separators or blank lines.
    let mut entry = String::new();
    let flush = |entry: &mut String, out: &mut Vec<String>| {
        let joined = entry.split_whitespace().collect::<Vec<_>>().join(" ");
        entry.clear();
        let chars: Vec<char> = joined.chars().collect();
        let mut start = 0;
        for i in 0..chars.len() {
            let end_here = matches!(chars[i], '.' | '!' | '?')
                && (i + 1 == chars.len()
                    || (chars[i + 1] == ' ' && i + 2 < chars.len() && chars[i + 2].is_uppercase()));
            if end_here {
                let s: String = chars[start..=i].iter().collect::<String>().trim().to_string();
                if keep(&s) {
                    out.push(s);
                }
                start = i + 1;
            }
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if t == "%" || t.is_empty() {
            flush(&mut entry, &mut out);
        } else if t.starts_with("--") || t.starts_with('-') && t.len() > 1 && line.starts_with(char::is_whitespace) {
            // attribution
        } else {
            entry.push(' ');
            entry.push_str(t);
        }
    }
    flush(&mut entry, &mut out);
    out
}

/// All distinct kept sentences of `files`, sorted (the order the seed then shuffles).
pub fn load_sentences(files: &[PathBuf]) -> Result<Vec<String>, CorpusError> {
    let mut set = BTreeSet::new();
    for f in files {
        let bytes = std::fs::read(f).map_err(|e| CorpusError::Io { path: f.clone(), source: e })?;
        set.extend(sentences(&String::from_utf8_lossy(&bytes)));
    }
    Ok(set.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_fortunes_and_filters() {
        let text = "The cat sat on the mat. Then it left quietly!\n\t\t-- Somebody Famous\n%\n\
                    Short one.\n%\nA line with 42 digits is dropped here.\nWhy would you ask me that question?\n%\n";
        let s = sentences(text);
        assert_eq!(s, vec!["The cat sat on the mat.", "Then it left quietly!", "Why would you ask me that question?"]);
    }
}
