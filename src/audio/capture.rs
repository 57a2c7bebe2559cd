//! ALSA capture (see capture.rs)
