//! Input shape ranges an artifact is built for (TensorRT optimization profiles, manifests).

use serde::{Deserialize, Serialize};

use super::CompileError;
use crate::model::ModelConfig;

/// `[min, opt, max]` of one dynamic dimension (TensorRT optimization profile).
pub type Range3 = [usize; 3];

/// Input shape ranges the artifacts are built for. Motion frames follow the mel frames.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapeRanges {
    /// Batch rows `B` (2 = cond + uncond with guidance).
    pub batch: Range3,
    /// Mel frames `T`.
    pub mel: Range3,
    /// Text tokens `Nt` (text models).
    pub text: Option<Range3>,
    /// Motion frames `F` (motion models; derived from `mel`).
    pub motion: Option<Range3>,
}

impl ShapeRanges {
    /// Defaults: B 1..2 (opt 2 with guidance), T 1 s..5 s..10 s, Nt 1..64..min(512, max_len).
    pub fn default_for(cfg: &ModelConfig) -> Self {
        let sec = |s: f64| (s * cfg.audio.mel_rate()).ceil() as usize;
        let guided = !cfg.sampler.guidance_baked && cfg.sampler.cfg_strength.abs() > 1e-5;
        let mut r = Self {
            batch: [1, if guided { 2 } else { 1 }, 2],
            mel: [sec(1.0), sec(5.0), sec(10.0)],
            text: cfg.text.as_ref().map(|t| [1, 64.min(t.max_len), 512.min(t.max_len)]),
            motion: None,
        };
        r.derive_motion(cfg);
        r
    }

    fn derive_motion(&mut self, cfg: &ModelConfig) {
        self.motion = cfg.motion.as_ref().map(|_| self.mel.map(|t| cfg.motion_frames_for(t)));
    }

    /// Parse `B=1:2:2,T=94:469:938,Nt=1:64:512` over the defaults (each key optional; `K=N` fixes one size).
    pub fn parse(cfg: &ModelConfig, spec: &str) -> Result<Self, CompileError> {
        let mut r = Self::default_for(cfg);
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| CompileError::Shapes(format!("`{part}`: expected KEY=MIN:OPT:MAX (keys B, T, Nt)")))?;
            let nums: Vec<usize> = v
                .split(':')
                .map(|x| {
                    x.parse::<usize>().map_err(|_| CompileError::Shapes(format!("`{part}`: `{x}` is not a count")))
                })
                .collect::<Result<_, _>>()?;
            let r3: Range3 = match nums.as_slice() {
                [n] => [*n; 3],
                [a, b, c] => [*a, *b, *c],
                _ => return Err(CompileError::Shapes(format!("`{part}`: expected one size or MIN:OPT:MAX"))),
            };
            if r3[0] == 0 || r3[0] > r3[1] || r3[1] > r3[2] {
                return Err(CompileError::Shapes(format!("`{part}`: need 0 < MIN <= OPT <= MAX")));
            }
            match k {
                "B" => r.batch = r3,
                "T" => r.mel = r3,
                "Nt" if cfg.text.is_some() => r.text = Some(r3),
                "Nt" => return Err(CompileError::Shapes("`Nt`: this package has no text input".into())),
                "F" => {
                    return Err(CompileError::Shapes(
                        "`F` follows `T` (motion frames cover the mel frames); set T".into(),
                    ))
                }
                other => return Err(CompileError::Shapes(format!("unknown key `{other}` (expected B, T or Nt)"))),
            }
        }
        r.derive_motion(cfg);
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::random::Preset;

    #[test]
    fn shapes_parse_and_motion_follows_mel() {
        let cfg = Preset::SmallMmdit.config();
        let r = ShapeRanges::parse(&cfg, "B=1:2:2, T=94:200:400").unwrap();
        assert_eq!(r.mel, [94, 200, 400]);
        assert_eq!(r.motion.unwrap()[2], cfg.motion_frames_for(400));
        assert_eq!(ShapeRanges::parse(&cfg, "T=100").unwrap().mel, [100; 3]);
        for bad in ["T=5:4:3", "Q=1", "F=1:2:3", "T=a", "T=1:2"] {
            assert!(ShapeRanges::parse(&cfg, bad).is_err(), "{bad}");
        }
    }
}
