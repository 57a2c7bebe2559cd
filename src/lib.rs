//! jamflow: JAM-Flow (joint audio + facial-motion flow matching) on the edge.
//!
//! Modules in data order; nothing reaches backwards:
//! [`model`] (config, weights, graph definition) -> [`runtime`] (one backend trait; ONNX Runtime behind it)
//! -> [`sampler`] (Euler on the rectified flow, CFG, inpainting). [`rng`] is a leaf utility (seeded noise).

pub mod corpus;
pub mod model;
pub mod rng;
pub mod runtime;
pub mod sampler;
