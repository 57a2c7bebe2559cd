//! The F5-TTS character vocabulary (`vocab.txt`: one entry per line, the line number is the id).

use std::collections::HashMap;
use std::path::Path;

use super::ModelError;

/// Character -> id map of a text model.
#[derive(Debug, Clone)]
pub struct Vocab {
    entries: Vec<String>,
    map: HashMap<String, i64>,
}

impl Vocab {
    /// Read `vocab.txt` (UTF-8; each line without its newline is one entry, as F5 reads it: Python text mode
    /// turns `\r\n` and `\r` into `\n`, then `line[:-1]` drops the last character, which for a final line without
    /// a newline is a real character; duplicates: the last line wins).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Io { path: path.to_path_buf(), source: e })?;
        let text = String::from_utf8(bytes)
            .map_err(|e| ModelError::Vocab { path: path.to_path_buf(), msg: format!("not UTF-8 text: {e}") })?;
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let entries: Vec<String> = text
            .split_inclusive('\n')
            .map(|l| {
                let mut c = l.chars();
                c.next_back();
                c.as_str().to_string()
            })
            .collect();
        if entries.is_empty() {
            return Err(ModelError::Vocab {
                path: path.to_path_buf(),
                msg: "is empty; expected one entry per line".into(),
            });
        }
        let map = entries.iter().enumerate().map(|(i, e)| (e.clone(), i as i64)).collect();
        Ok(Self { entries, map })
    }

    /// Number of entries (lines).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Ids of each character of `text`; unknown characters map to 0, as F5's `list_str_to_idx`.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let mut buf = [0u8; 4];
        text.chars().map(|c| *self.map.get(c.encode_utf8(&mut buf) as &str).unwrap_or(&0)).collect()
    }

    /// [`Vocab::encode`] with a length limit: text longer than `max_len` characters is a clear error (the
    /// model's `text.max_len`), never silently truncated.
    pub fn encode_checked(&self, text: &str, max_len: usize) -> Result<Vec<i64>, ModelError> {
        let n = text.chars().count();
        if n > max_len {
            return Err(ModelError::TextTooLong { len: n, max: max_len });
        }
        Ok(self.encode(text))
    }

    /// A vocabulary of `entries` in a temporary `vocab.txt` (unit tests; keep the directory alive).
    #[cfg(test)]
    pub(crate) fn for_test(entries: &[&str]) -> (tempfile::TempDir, Vocab) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("vocab.txt");
        std::fs::write(&p, entries.iter().map(|e| format!("{e}\n")).collect::<String>()).unwrap();
        let v = Vocab::load(&p).unwrap();
        (d, v)
    }

    /// The id of a whole entry (a phoneme name of a `durations` vocabulary, [`super::alignment`]).
    pub fn id(&self, entry: &str) -> Option<i64> {
        self.map.get(entry).copied()
    }

    /// The entry of an id (`None` out of range).
    pub fn entry(&self, id: i64) -> Option<&str> {
        usize::try_from(id).ok().and_then(|i| self.entries.get(i)).map(|s| s.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_f5() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vocab.txt");
        std::fs::write(&p, " \na\nb\né\n").unwrap();
        let v = Vocab::load(&p).unwrap();
        assert_eq!(v.len(), 4);
        assert_eq!(v.encode("ab é?"), vec![1, 2, 0, 3, 0]);
    }

    #[test]
    fn crlf_and_missing_final_newline_as_python_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vocab.txt");
        std::fs::write(&p, " \r\na\r\nbc").unwrap();
        let v = Vocab::load(&p).unwrap();
        assert_eq!((v.len(), v.entry(1), v.entry(2)), (3, Some("a"), Some("b")));
    }

    #[test]
    fn length_limit_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vocab.txt");
        std::fs::write(&p, " \na\n").unwrap();
        let v = Vocab::load(&p).unwrap();
        assert_eq!(v.encode_checked("aaa", 3).unwrap(), vec![1, 1, 1]);
        let e = v.encode_checked("aaaa", 3).unwrap_err().to_string();
        assert!(e.contains("4 characters") && e.contains("3"), "{e}");
    }

    #[test]
    fn rejects_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vocab.txt");
        std::fs::write(&p, [0xff, 0xfe, b'\n']).unwrap();
        let e = Vocab::load(&p).unwrap_err().to_string();
        assert!(e.contains("vocab.txt") && e.contains("UTF-8"), "{e}");
    }
}
