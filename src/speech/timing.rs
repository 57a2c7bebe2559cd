//! Where a Piper voice's phones lie in its audio.
//!
//! A VITS voice computes each phoneme id's length (frames of `hop_length` samples) in its duration predictor, the
//! output of the graph's one `Ceil` node (`w_ceil`), but exports only the audio. [`with_durations_output`] marks that
//! tensor a graph output as well (what piper-tts's `patch_voice_with_alignment` does; the audio is unchanged), and
//! [`phone_times`] turns the ids' lengths into phones with start and end times, the way `scripts/corpus_piper.py`
//! makes the corpus's Piper timelines (IPA as espeak-ng writes it, one code point a phone; stress and length marks
//! and word spaces merged into their neighbours; sentence marks and punctuation are the pause, the rest pose), so
//! `jamflow corpus truth` reads them with the same table.

use onnx_protobuf::tensor_proto::DataType;

use super::phonemize::{BOS, EOS, PAD};
use super::SpeechError;
use crate::compile::graph::value_info_untyped_shape;
use crate::corpus::phones::PhoneSet;
use crate::model::alignment::{TimedPhone, PAUSE};
use crate::model::onnx;

/// Marks that modify the previous (length) or next (stress) phoneme instead of being spoken.
const MODIFIERS: &[char] = &['ˈ', 'ˌ', 'ː', 'ˑ', 'ʲ', '\u{303}'];
/// The length mark, kept on its phone's name (`iː`).
const LENGTH: char = 'ː';
/// Piper's per-phoneme sample counts run late against its audio by this much (measured on 80 corpus utterances: p/b/m
/// against open-vowel energy peaks); the same value as `PIPER_LAG_S` of scripts/corpus_piper.py, which made the
/// corpus the models were trained on.
pub const PIPER_LAG_S: f64 = 0.045;

fn is_pause(name: &str) -> bool {
    name == BOS || name == EOS || name == PAD || name == "\u{2026}" || name.chars().all(|c| ".,;:!?".contains(c))
}

/// `model` (ONNX bytes) with the tensor of its one `Ceil` node also a graph output; returns the new model and the
/// tensor's name. Errors when the graph has no `Ceil` node or several (not a Piper VITS export we know).
pub fn with_durations_output(model: &[u8]) -> Result<(Vec<u8>, String), SpeechError> {
    let (mut m, name) = parse_with_durations(model)?;
    let g = m.graph.as_mut().expect("checked by parse_with_durations");
    if !g.output.iter().any(|o| o.name == name) {
        g.output.push(value_info_untyped_shape(&name, DataType::FLOAT as i32));
    }
    let bytes = onnx::to_bytes(&m).map_err(|e| SpeechError::Voice(e.to_string()))?;
    Ok((bytes, name))
}

/// `model` cut down to its duration predictor: the `Ceil` tensor its only output, and only the nodes and
/// initializers that tensor needs (no decoder: the phones' times without the audio, at a fraction of the cost).
/// Returns the new model and the tensor's name; errors as [`with_durations_output`].
pub fn durations_only(model: &[u8]) -> Result<(Vec<u8>, String), SpeechError> {
    let (mut m, name) = parse_with_durations(model)?;
    let g = m.graph.as_mut().expect("checked by parse_with_durations");
    // Walk back from the durations: a node is kept when it makes a tensor a kept node reads (names read inside a
    // subgraph of a kept node count as read by it).
    let mut needed = std::collections::HashSet::from([name.clone()]);
    let mut keep = vec![false; g.node.len()];
    for (i, node) in g.node.iter().enumerate().rev() {
        if node.output.iter().any(|o| needed.contains(o)) {
            keep[i] = true;
            needed.extend(node.input.iter().cloned());
            for a in &node.attribute {
                for sub in a.g.iter().chain(a.graphs.iter()) {
                    needed.extend(sub.node.iter().flat_map(|n| n.input.iter().cloned()));
                }
            }
        }
    }
    let mut i = 0;
    g.node.retain(|_| (keep[i], i += 1).0);
    g.initializer.retain(|t| needed.contains(&t.name));
    g.output = vec![value_info_untyped_shape(&name, DataType::FLOAT as i32)];
    let bytes = onnx::to_bytes(&m).map_err(|e| SpeechError::Voice(e.to_string()))?;
    Ok((bytes, name))
}

/// The parsed model and the name of its one `Ceil` node's output.
fn parse_with_durations(model: &[u8]) -> Result<(onnx_protobuf::ModelProto, String), SpeechError> {
    let bad = |msg: String| SpeechError::Voice(msg);
    let m = onnx::from_bytes(model).map_err(|e| bad(e.to_string()))?;
    let g = m.graph.as_ref().ok_or_else(|| bad("the ONNX model has no graph".into()))?;
    let ceil: Vec<String> = g.node.iter().filter(|n| n.op_type == "Ceil").flat_map(|n| n.output.clone()).collect();
    let name = match ceil.as_slice() {
        [one] => one.clone(),
        [] => return Err(bad("no Ceil node: the voice does not expose its phoneme durations".into())),
        more => {
            return Err(bad(format!(
                "{} Ceil nodes ({}): cannot tell the durations apart",
                more.len(),
                more.join(", ")
            )))
        }
    };
    Ok((m, name))
}

/// A Piper timeline ([`phone_times`], IPA) in eSpeak names, through the corpus's IPA table (the names of a
/// `durations` vocabulary, as the corpus's Piper timelines were mapped when the speech package learnt them); a name
/// the table lacks stays as it is (a `durations` package reads it as the pause, with a warning).
pub fn espeak_names(phones: Vec<TimedPhone>) -> Vec<TimedPhone> {
    phones
        .into_iter()
        .map(|p| match PhoneSet::Ipa.to_espeak(&p.name) {
            Some(name) => TimedPhone { name, ..p },
            None => p,
        })
        .collect()
}

/// Phones of one sentence's audio (IPA names or [`PAUSE`], seconds from the sentence's start): `groups` are the
/// phonemes in id order with how many ids each has ([`super::phonemize::SentenceIds::groups`]), `id_samples` the
/// voice's samples per id. Stress marks, length marks and word spaces lengthen the phone before them.
pub fn phone_times(groups: &[(String, usize)], id_samples: &[u64], rate: u32) -> Vec<TimedPhone> {
    let sec = |samples: u64| (samples as f64 / rate as f64 - PIPER_LAG_S).max(0.0);
    let mut out: Vec<TimedPhone> = Vec::new();
    let (mut id, mut t) = (0usize, 0u64);
    for (name, n) in groups {
        let len: u64 = id_samples.iter().skip(id).take(*n).sum();
        id += n;
        let start = t;
        t += len;
        let modifier = name.chars().count() == 1 && name.chars().all(|c| MODIFIERS.contains(&c));
        if modifier || name == " " {
            if let Some(last) = out.last_mut() {
                last.end = sec(t);
                if name.starts_with(LENGTH) {
                    last.name.push(LENGTH);
                }
            }
            continue;
        }
        let name = if is_pause(name) { PAUSE.to_string() } else { name.clone() };
        out.push(TimedPhone { name, start: sec(start), end: sec(t) });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use onnx_protobuf::{GraphProto, ModelProto, NodeProto};
    use protobuf::Message;

    fn graph(ops: &[&str]) -> Vec<u8> {
        let mut g = GraphProto::new();
        for (i, op) in ops.iter().enumerate() {
            let mut n = NodeProto::new();
            n.op_type = op.to_string();
            n.input = vec![format!("t{i}")];
            n.output = vec![format!("t{}", i + 1)];
            g.node.push(n);
        }
        let mut m = ModelProto::new();
        m.graph = Some(g).into();
        m.write_to_bytes().unwrap()
    }

    #[test]
    fn the_ceil_tensor_becomes_an_output() {
        let (bytes, name) = with_durations_output(&graph(&["Exp", "Ceil", "Relu"])).unwrap();
        assert_eq!(name, "t2");
        let m = onnx::from_bytes(&bytes).unwrap();
        assert_eq!(m.graph.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["t2"]);
        let e = with_durations_output(&graph(&["Exp"])).unwrap_err().to_string();
        assert!(e.contains("no Ceil"), "{e}");
        let e = with_durations_output(&graph(&["Ceil", "Ceil"])).unwrap_err().to_string();
        assert!(e.contains("2 Ceil nodes"), "{e}");
        let e = with_durations_output(b"not onnx at all").unwrap_err().to_string();
        assert!(e.contains("ONNX"), "{e}");
    }

    #[test]
    fn durations_only_keeps_what_the_durations_need() {
        // t0 -Exp-> t1 -Ceil-> t2 -Relu-> t3, and a branch t0 -Sin-> t4 the durations do not read
        let mut m = onnx::from_bytes(&graph(&["Exp", "Ceil", "Relu"])).unwrap();
        let mut side = NodeProto::new();
        side.op_type = "Sin".into();
        side.input = vec!["t0".into()];
        side.output = vec!["t4".into()];
        m.graph.as_mut().unwrap().node.push(side);
        let (bytes, name) = durations_only(&m.write_to_bytes().unwrap()).unwrap();
        let g = onnx::from_bytes(&bytes).unwrap().graph.unwrap();
        assert_eq!(name, "t2");
        assert_eq!(g.node.iter().map(|n| n.op_type.as_str()).collect::<Vec<_>>(), ["Exp", "Ceil"]);
        assert_eq!(g.output.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(), ["t2"]);
        let e = durations_only(&graph(&["Exp"])).unwrap_err().to_string();
        assert!(e.contains("no Ceil"), "{e}");
    }

    #[test]
    fn marks_and_spaces_merge_into_the_phone_before_them() {
        // ^ _ | h _ | ˈ _ | i _ | ː _ | ␠ _ | . _ | $    (2 ids each but the last), 1000 samples an id at 10 kHz
        let groups: Vec<(String, usize)> = ["^", "h", "ˈ", "i", "ː", " ", ".", "$"]
            .iter()
            .map(|s| (s.to_string(), if *s == "$" { 1 } else { 2 }))
            .collect();
        let samples = vec![1000u64; 15];
        let p = phone_times(&groups, &samples, 10_000);
        let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [PAUSE, "h", "iː", PAUSE, PAUSE]);
        let lag = PIPER_LAG_S;
        assert!((p[1].start - (0.2 - lag)).abs() < 1e-9 && (p[1].end - (0.6 - lag)).abs() < 1e-9, "{p:?}");
        assert!((p[2].start - (0.6 - lag)).abs() < 1e-9 && (p[2].end - (1.2 - lag)).abs() < 1e-9, "{p:?}");
        assert!((p[4].end - (1.5 - lag)).abs() < 1e-9 && p[0].start == 0.0, "{p:?}");
    }

    #[test]
    fn ipa_timelines_read_as_espeak_names_with_their_times() {
        let ph = |n: &str, a: f64| TimedPhone { name: n.into(), start: a, end: a + 0.1 };
        let got = espeak_names(vec![ph(PAUSE, 0.0), ph("m", 0.1), ph("aɪ", 0.2), ph("iː", 0.3), ph("ʘ", 0.4)]);
        let names: Vec<&str> = got.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [PAUSE, "m", "aI", "i:", "ʘ"], "the corpus's IPA table; an unknown name kept");
        assert_eq!(got[2].start, 0.2);
    }
}
