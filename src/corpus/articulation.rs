//! The corpus "teacher" of lip motion: espeak-ng phonemes -> articulatory targets -> coarticulated
//! trajectories -> `mouth4-2d` motion at 25 fps. Documented in docs/corpus.md (the table there is
//! [`targets`] below; keep them in step).
//!
//! Four articulatory parameters, each in 0..1: `aperture` (jaw and lip opening), `round` (rounding and
//! protrusion), `spread` (corners drawn back), `labiodental` (lower lip to the upper teeth). Every phoneme
//! gives a target and a *dominance* per parameter; the trajectory is the dominance-weighted mean of the
//! targets (Cohen & Massaro 1993), dominance decaying exponentially outside a segment, more slowly
//! before it (anticipation) than after it (carry-over). A phoneme with low dominance for a parameter lets its
//! neighbours decide it: rounding of /u/ spreads over the preceding consonants, /h/ takes the next vowel's shape,
//! while bilabial closure and labiodental contact dominate strongly.

use crate::model::config::{MOUTH_POINTS, POINT_DIMS};

/// Number of articulatory parameters.
pub const PARAMS: usize = 4;
const APERTURE: usize = 0;
const ROUND: usize = 1;
const SPREAD: usize = 2;
const LABIODENTAL: usize = 3;

/// One articulatory target: parameter values and their dominance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub value: [f32; PARAMS],
    pub dominance: [f32; PARAMS],
    /// Multiplier of the time constants outside the segment: strong, brief gestures (closures) reach less far.
    pub reach: f32,
}

const fn t(aperture: f32, round: f32, spread: f32, labiodental: f32, dominance: [f32; PARAMS]) -> Target {
    Target { value: [aperture, round, spread, labiodental], dominance, reach: 1.0 }
}

/// Reach of the lip closures and labiodental contacts.
const CLOSURE_REACH: f32 = 0.3;

const fn brief(target: Target) -> Target {
    Target { reach: CLOSURE_REACH, ..target }
}

// Dominance profiles: vowels decide all parameters; consonants mostly leave them to their neighbours.
const VOWEL: [f32; PARAMS] = [1.0, 1.0, 1.0, 1.0];
const BILABIAL: [f32; PARAMS] = [25.0, 0.3, 0.3, 5.0];
const LABIODENTAL_D: [f32; PARAMS] = [8.0, 0.3, 0.3, 20.0];
const ROUNDED_C: [f32; PARAMS] = [2.0, 6.0, 6.0, 1.0];
const SIBILANT: [f32; PARAMS] = [3.0, 0.8, 0.8, 1.0];
const CORONAL: [f32; PARAMS] = [0.6, 0.2, 0.2, 1.0];
const DORSAL: [f32; PARAMS] = [0.3, 0.1, 0.1, 1.0];
const GLOTTAL: [f32; PARAMS] = [0.05, 0.05, 0.05, 0.05];
const PAUSE: [f32; PARAMS] = [1.5, 1.5, 1.5, 1.5];

/// Articulatory classes used for reporting (closure recall needs the bilabials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Vowel,
    Bilabial,
    Labiodental,
    Consonant,
    Pause,
    Unknown,
}

/// The targets of one espeak-ng phoneme mnemonic (English voices), in order: a diphthong gives two or three
/// targets that share its duration. Unknown names get a neutral, weak target.
pub fn targets(name: &str) -> (Class, Vec<Target>) {
    use Class::*;
    let v = |a, r, s| t(a, r, s, 0.0, VOWEL);
    let vowel = |name: &str| -> Option<Target> {
        Some(match name {
            "i" | "i:" | "i@3" => v(0.20, 0.0, 1.0),
            "I" | "I#" | "I2" | "y" => v(0.30, 0.0, 0.7),
            "e" | "eI" => v(0.45, 0.0, 0.6),
            "E" | "e@" => v(0.55, 0.0, 0.5),
            "a" | "a#" | "&" | "aa" => v(0.85, 0.0, 0.3),
            "A:" | "A@" | "A" => v(1.00, 0.0, 0.1),
            "V" => v(0.65, 0.0, 0.2),
            "@" | "@-" | "@2" | "@5" | "3" | "@L" => v(0.40, 0.0, 0.2),
            "3:" => v(0.45, 0.3, 0.0),
            "0" => v(0.80, 0.4, 0.0),
            "O:" | "O@" | "O" | "O2" | "o@" => v(0.60, 0.8, 0.0),
            "o" | "oU" => v(0.45, 0.7, 0.0),
            "u:" | "u" => v(0.20, 1.0, 0.0),
            "U" => v(0.30, 0.7, 0.0),
            _ => return None,
        })
    };
    let seq = |names: &[&str]| names.iter().map(|n| vowel(n).expect("diphthong part is a vowel")).collect();
    match name {
        "aI" => (Vowel, seq(&["a", "I"])),
        "aU" => (Vowel, seq(&["a", "U"])),
        "eI" => (Vowel, seq(&["e", "I"])),
        "oU" => (Vowel, seq(&["o", "U"])),
        "OI" => (Vowel, seq(&["O:", "I"])),
        "e@" => (Vowel, seq(&["E", "@"])),
        "i@" | "i@3" => (Vowel, seq(&["i", "@"])),
        "U@" => (Vowel, seq(&["U", "@"])),
        "aI@" | "aI3" => (Vowel, seq(&["a", "I", "@"])),
        "aU@" => (Vowel, seq(&["a", "U", "@"])),
        "p" | "b" | "m" => (Bilabial, vec![brief(t(0.0, 0.0, 0.0, 0.0, BILABIAL))]),
        "f" | "v" => (Labiodental, vec![brief(t(0.08, 0.0, 0.0, 1.0, LABIODENTAL_D))]),
        "w" | "W" => (Consonant, vec![t(0.10, 1.0, 0.0, 0.0, ROUNDED_C)]),
        "r" | "r-" | "*" => (Consonant, vec![t(0.25, 0.5, 0.0, 0.0, [1.0, 2.0, 2.0, 1.0])]),
        "S" | "Z" | "tS" | "dZ" => (Consonant, vec![t(0.15, 0.6, 0.0, 0.0, [3.0, 3.0, 3.0, 1.0])]),
        "s" | "z" => (Consonant, vec![t(0.10, 0.0, 0.3, 0.0, SIBILANT)]),
        "T" | "D" => (Consonant, vec![t(0.20, 0.0, 0.1, 0.0, [2.0, 0.3, 0.3, 1.0])]),
        "t" | "d" | "n" | "l" | "t#" | "d#" | "n-" | "l-" | "t2" | "d2" | "t[" | "d[" => {
            (Consonant, vec![t(0.18, 0.0, 0.1, 0.0, CORONAL)])
        }
        "j" => (Consonant, vec![t(0.15, 0.0, 0.6, 0.0, [1.0, 1.0, 1.0, 1.0])]),
        "k" | "g" | "N" | "x" => (Consonant, vec![t(0.30, 0.0, 0.0, 0.0, DORSAL)]),
        // `;` is eSpeak's palatalization modifier: no articulation of its own.
        "h" | "?" | ";" => (Consonant, vec![t(0.30, 0.0, 0.0, 0.0, GLOTTAL)]),
        _ if name.starts_with('_') || name.is_empty() => (Pause, vec![t(0.0, 0.0, 0.0, 0.0, PAUSE)]),
        _ => match vowel(name) {
            Some(tg) => (Vowel, vec![tg]),
            None => (Unknown, vec![t(0.30, 0.0, 0.0, 0.0, DORSAL)]),
        },
    }
}

/// One phoneme on the utterance timeline (seconds): the model layer's timed phone, which espeak-ng's timeline and
/// the `durations` text input use too.
pub use crate::model::alignment::TimedPhone as Segment;

/// Coarticulation and geometry constants (inter-ocular units for distances).
#[derive(Debug, Clone, PartialEq)]
pub struct Articulator {
    /// Dominance time constant before a segment (anticipation), seconds.
    pub tau_anticipation: f64,
    /// Dominance time constant after a segment (carry-over), seconds.
    pub tau_carryover: f64,
    /// The lips lead the sound: the motion at time t shows the articulation of time t + lead.
    pub lead: f64,
    /// Lip aperture at full opening (aperture = 1).
    pub max_opening: f32,
    /// Corner inward motion at full rounding (per corner).
    pub round_narrowing: f32,
    /// Lip protrusion at full rounding.
    pub round_protrusion: f32,
    /// Corner outward motion at full spreading (per corner).
    pub spread_widening: f32,
}

impl Default for Articulator {
    fn default() -> Self {
        Self {
            tau_anticipation: 0.060,
            tau_carryover: 0.040,
            lead: 0.030,
            max_opening: 0.22,
            round_narrowing: 0.06,
            round_protrusion: 0.05,
            spread_widening: 0.04,
        }
    }
}

/// Index of each point's x in a `mouth4-2d` frame (DESIGN §2 order).
pub const UPPER: usize = 0;
pub const LOWER: usize = POINT_DIMS;
pub const LEFT: usize = 2 * POINT_DIMS;
pub const RIGHT: usize = 3 * POINT_DIMS;
/// Values per frame.
pub const FRAME: usize = MOUTH_POINTS * POINT_DIMS;

/// Mouth opening of a `mouth4-2d` frame: lower-lip y minus upper-lip y (image y grows downwards).
pub fn opening(frame: &[f32]) -> f32 {
    frame[LOWER + 1] - frame[UPPER + 1]
}

impl Articulator {
    /// Blended articulatory parameters at time `time` (seconds).
    pub fn params_at(&self, parts: &[(f64, f64, Target)], time: f64) -> [f32; PARAMS] {
        let mut num = [0f64; PARAMS];
        let mut den = [0f64; PARAMS];
        for (s, e, tg) in parts {
            let reach = tg.reach as f64;
            let decay = if time < *s {
                (-(s - time) / (self.tau_anticipation * reach)).exp()
            } else if time > *e {
                (-(time - e) / (self.tau_carryover * reach)).exp()
            } else {
                1.0
            };
            if decay < 1e-6 {
                continue;
            }
            for p in 0..PARAMS {
                let w = tg.dominance[p] as f64 * decay;
                num[p] += w * tg.value[p] as f64;
                den[p] += w;
            }
        }
        std::array::from_fn(|p| if den[p] > 0.0 { (num[p] / den[p]) as f32 } else { 0.0 })
    }

    /// Split segments into their targets' sub-intervals.
    pub fn parts(segments: &[Segment]) -> Vec<(f64, f64, Target)> {
        let mut out = Vec::new();
        for seg in segments {
            let (_, tgs) = targets(&seg.name);
            let n = tgs.len() as f64;
            let d = (seg.end - seg.start) / n;
            for (k, tg) in tgs.into_iter().enumerate() {
                out.push((seg.start + d * k as f64, seg.start + d * (k + 1) as f64, tg));
            }
        }
        out
    }

    /// One `mouth4-2d` frame from articulatory parameters.
    pub fn geometry(&self, p: [f32; PARAMS]) -> [f32; FRAME] {
        let (a, r, s, l) = (p[APERTURE], p[ROUND], p[SPREAD], p[LABIODENTAL]);
        let open = a * self.max_opening;
        let mut f = [0f32; FRAME];
        // Upper lip: rises a quarter of the opening, protrudes when rounded.
        f[UPPER + 1] = -0.25 * open;
        f[UPPER + 2] = self.round_protrusion * r;
        // Lower lip: follows the jaw; labiodental contact tucks it up and back under the upper teeth.
        f[LOWER + 1] = 0.75 * open - 0.01 * l;
        f[LOWER + 2] = self.round_protrusion * r - 0.03 * l;
        // Corners (image left / right): inward when rounded, outward and slightly up when spread,
        // down with the jaw by a third of the lower lip.
        let dx = self.round_narrowing * r - self.spread_widening * s;
        f[LEFT] = dx;
        f[RIGHT] = -dx;
        let cy = 0.25 * open - 0.01 * s;
        f[LEFT + 1] = cy;
        f[RIGHT + 1] = cy;
        let cz = 0.4 * self.round_protrusion * r - 0.01 * s;
        f[LEFT + 2] = cz;
        f[RIGHT + 2] = cz;
        f
    }

    /// Motion frames at `fps` (frame j at time j / fps, averaged over its frame period) for `frames` frames.
    pub fn motion(&self, segments: &[Segment], fps: f64, frames: usize) -> Vec<f32> {
        const SUB: usize = 5;
        let parts = Self::parts(segments);
        let mut out = Vec::with_capacity(frames * FRAME);
        for j in 0..frames {
            let mut acc = [0f32; PARAMS];
            for k in 0..SUB {
                let dt = ((k as f64 + 0.5) / SUB as f64 - 0.5) / fps;
                let p = self.params_at(&parts, j as f64 / fps + dt + self.lead);
                for q in 0..PARAMS {
                    acc[q] += p[q] / SUB as f32;
                }
            }
            out.extend_from_slice(&self.geometry(acc));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(list: &[(&str, f64)]) -> Vec<Segment> {
        let mut t0 = 0.0;
        list.iter()
            .map(|(n, d)| {
                let s = Segment { name: n.to_string(), start: t0, end: t0 + d };
                t0 += d;
                s
            })
            .collect()
    }

    fn opening_at(m: &[f32], fps: f64, time: f64) -> f32 {
        let j = (time * fps).round() as usize;
        opening(&m[j * FRAME..(j + 1) * FRAME])
    }

    #[test]
    fn bilabial_closes_and_open_vowel_opens() {
        let a = Articulator::default();
        // "_ a p a _": the /p/ is 0.40..0.48 s.
        let s = segs(&[("_", 0.2), ("A:", 0.2), ("p", 0.08), ("A:", 0.2), ("_", 0.2)]);
        let m = a.motion(&s, 25.0, 22);
        let vowel = opening_at(&m, 25.0, 0.30 - a.lead);
        let closure = opening_at(&m, 25.0, 0.44 - a.lead);
        let rest = opening_at(&m, 25.0, 0.0);
        assert!(vowel > 0.15, "open vowel opening {vowel}");
        assert!(closure < 0.02, "bilabial opening {closure}");
        assert!(rest < 0.02, "rest opening {rest}");
    }

    #[test]
    fn rounding_narrows_and_protrudes_spreading_widens() {
        let a = Articulator::default();
        let round = a.geometry(targets("u:").1[0].value);
        let spread = a.geometry(targets("i:").1[0].value);
        // Mouth width change = right.x - left.x displacement.
        assert!(round[RIGHT] - round[LEFT] < -0.1 && round[UPPER + 2] > 0.04);
        assert!(spread[RIGHT] - spread[LEFT] > 0.07 && spread[UPPER + 2] <= 0.0);
    }

    #[test]
    fn rounding_is_anticipated_across_consonants() {
        let a = Articulator::default();
        // "s t u:": rounding already rises during /t/ because /s t/ hardly dominate rounding.
        let parts = Articulator::parts(&segs(&[("i:", 0.2), ("s", 0.1), ("t", 0.05), ("u:", 0.2)]));
        let during_t = a.params_at(&parts, 0.325)[ROUND];
        let during_i = a.params_at(&parts, 0.1)[ROUND];
        assert!(during_t > 0.3 && during_i < 0.1, "round in /t/ {during_t}, in /i/ {during_i}");
    }

    #[test]
    fn labiodental_tucks_lower_lip() {
        let a = Articulator::default();
        let parts = Articulator::parts(&segs(&[("A:", 0.2), ("f", 0.1), ("A:", 0.2)]));
        let p = a.params_at(&parts, 0.25);
        assert!(p[LABIODENTAL] > 0.8 && p[APERTURE] < 0.2, "{p:?}");
    }

    #[test]
    fn every_known_class_has_targets() {
        for n in ["aI", "p", "f", "w", "S", "s", "t", "k", "h", "_:", "3:", "zz"] {
            let (_, tg) = targets(n);
            assert!(!tg.is_empty(), "{n}");
        }
        assert_eq!(targets("zz").0, Class::Unknown);
        assert_eq!(targets("m").0, Class::Bilabial);
    }
}
