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
    /// Read `vocab.txt` (UTF-8; each line without its newline is one entry, as F5 reads it).
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::Io { path: path.to_path_buf(), source: e })?;
        let text = String::from_utf8(bytes)
            .map_err(|e| ModelError::Vocab { path: path.to_path_buf(), msg: format!("not UTF-8 text: {e}") })?;
        let entries: Vec<String> =
            text.split_inclusive('\n').map(|l| l.strip_suffix('\n').unwrap_or(l).to_string()).collect();
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
    fn rejects_non_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vocab.txt");
        std::fs::write(&p, [0xff, 0xfe, b'\n']).unwrap();
        let e = Vocab::load(&p).unwrap_err().to_string();
        assert!(e.contains("vocab.txt") && e.contains("UTF-8"), "{e}");
    }
}
