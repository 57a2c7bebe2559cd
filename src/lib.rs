//! jamflow: JAM-Flow (joint audio + facial-motion flow matching) on the edge.
//!
//! Modules in data order; nothing reaches backwards:
//! [`model`] (config, weights, graph definition) -> [`runtime`] (one backend trait; ONNX Runtime behind it)
//! -> [`sampler`] (Euler on the rectified flow, CFG, inpainting). [`rng`] is a leaf utility (seeded noise).
//! [`audio`] (WAV, resampling, mel, ALSA capture, vocoders) sits after `runtime`.
//! [`compile`] (pure precision passes on the graph) sits between model and runtime; [`build`] (calibration,
//! manifests, accuracy reports: it executes graphs) after the sampler. [`render`] (portrait renderers) after
//! `runtime`; [`stream`] (GStreamer A/V outputs behind the model-free `AvSource` trait), [`live`] (the model against
//! a timeline: mic / WAV input, model windows, text mode; an `AvSource`) and [`daemon`] (jamflowd: config, control
//! API, systemd) last.
//! [`corpus`] (the many-voice training corpus: speech engines + mouth motion) uses `model` and `audio`;
//! [`animate`] (whole recordings -> motion in windows) uses `audio`, `runtime` and the sampler.
//! [`speech`] (text -> speech: Piper voices, the phonemizer) sits beside `audio`/`render`: it uses `model`,
//! `runtime` and `audio`, never `stream`, `live` or `daemon`.

pub mod animate;
pub mod audio;
pub mod build;
pub mod compile;
pub mod corpus;
pub mod daemon;
pub mod live;
pub mod model;
pub mod render;
pub mod rng;
pub mod runtime;
pub mod sampler;
pub mod speech;
pub mod stream;
