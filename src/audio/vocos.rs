//! Vocos
