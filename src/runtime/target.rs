//! The one backend choice: where the network runs. `jamflow build --target`, `--backend` on the run commands
//! and jamflowd's `[model] backend` all take a [`Target`].

use super::ort_backend::Provider;

/// Where the network runs (and what `jamflow build` makes artifacts for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// ONNX Runtime, CPU provider.
    #[default]
    #[value(alias = "cpu")]
    #[serde(alias = "cpu")]
    OrtCpu,
    /// ONNX Runtime, CUDA provider (build with `--features cuda`, ORT GPU build at run time).
    #[value(alias = "cuda")]
    #[serde(alias = "cuda")]
    OrtCuda,
    /// ONNX Runtime's TensorRT provider (build with `--features tensorrt`); its engine cache under
    /// `DIR/build/trt-cache`.
    OrtTensorrt,
    /// Native TensorRT 10 through the C++ shim (build with `--features tensorrt-native`): the package's
    /// serialized engine `DIR/build/<precision>-tensorrt/model.engine`.
    Tensorrt,
}

impl Target {
    pub const ALL: [Target; 4] = [Target::OrtCpu, Target::OrtCuda, Target::OrtTensorrt, Target::Tensorrt];

    pub fn name(self) -> &'static str {
        match self {
            Target::OrtCpu => "ort-cpu",
            Target::OrtCuda => "ort-cuda",
            Target::OrtTensorrt => "ort-tensorrt",
            Target::Tensorrt => "tensorrt",
        }
    }

    /// The ONNX Runtime execution provider of an `ort-*` target; `None` for native TensorRT.
    pub fn provider(self) -> Option<Provider> {
        match self {
            Target::OrtCpu => Some(Provider::Cpu),
            Target::OrtCuda => Some(Provider::Cuda),
            Target::OrtTensorrt => Some(Provider::Tensorrt),
            Target::Tensorrt => None,
        }
    }

    /// Whether this build can serve the target at all (the cargo feature); `Err` says which build is needed.
    /// Libraries and devices are checked when a backend is opened.
    pub fn compiled_in(self) -> Result<(), String> {
        let need = |feature: &str, what: &str| {
            format!("backend `{}` needs a build with `--features {feature}` ({what})", self.name())
        };
        match self {
            Target::OrtCpu => Ok(()),
            Target::OrtCuda if cfg!(feature = "cuda") => Ok(()),
            Target::OrtCuda => Err(need("cuda", "ONNX Runtime's CUDA provider, an ORT GPU build at run time")),
            Target::OrtTensorrt if cfg!(feature = "tensorrt") => Ok(()),
            Target::OrtTensorrt => {
                Err(need("tensorrt", "ONNX Runtime's TensorRT provider, an ORT GPU build at run time"))
            }
            Target::Tensorrt if cfg!(any(feature = "tensorrt-native", feature = "tensorrt-mock")) => Ok(()),
            Target::Tensorrt => Err(need("tensorrt-native", "TensorRT 10 and CUDA headers; on the Jetson")),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_clap_and_serde_with_the_old_provider_names() {
        use clap::ValueEnum;
        for t in Target::ALL {
            assert_eq!(Target::from_str(t.name(), false).unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.name()));
            assert_eq!(serde_json::from_str::<Target>(&json).unwrap(), t);
        }
        assert_eq!(Target::from_str("cpu", false).unwrap(), Target::OrtCpu);
        assert_eq!(serde_json::from_str::<Target>("\"cuda\"").unwrap(), Target::OrtCuda);
        assert!(serde_json::from_str::<Target>("\"gpu\"").is_err());
    }

    #[test]
    fn only_ort_cpu_is_always_compiled_in() {
        assert!(Target::OrtCpu.compiled_in().is_ok());
        assert_eq!(Target::OrtCpu.provider(), Some(Provider::Cpu));
        assert_eq!(Target::Tensorrt.provider(), None);
        if !cfg!(any(feature = "tensorrt-native", feature = "tensorrt-mock")) {
            let e = Target::Tensorrt.compiled_in().unwrap_err();
            assert!(e.contains("--features tensorrt-native"), "{e}");
        }
    }
}
