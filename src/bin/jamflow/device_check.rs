//! `jamflow device-check`: the arguments and the printout of `jamflow::build::device_check`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use jamflow::build::device_check::{self, CheckOptions};
use jamflow::compile::roofline::Device;
use jamflow::compile::Precision;
use jamflow::runtime::OrtOptions;

#[derive(Args)]
pub struct DeviceCheckArgs {
    /// Model packages.
    #[arg(required = true)]
    packages: Vec<PathBuf>,
    #[arg(long, value_enum, value_delimiter = ',', default_value = "fp32,fp16,int8,w8a16")]
    precision: Vec<Precision>,
    /// Calibration set for int8 (`calibration/NAME`); int8 is reported as not checked without one.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Mel frames of the timed window.
    #[arg(long, default_value_t = 469)]
    frames: usize,
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Generated requests compared end to end.
    #[arg(long, default_value_t = 3)]
    requests: usize,
    /// The device whose roofline floor the times are set against.
    #[arg(long, value_enum)]
    project: Option<Device>,
    /// Intra-op threads of the ORT CPU reference.
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(a: &DeviceCheckArgs) -> Result<()> {
    let opts = CheckOptions {
        precisions: a.precision.clone(),
        calibration: a.calibration.clone(),
        frames: a.frames,
        iters: a.iters,
        requests: a.requests,
        device: a.project,
        ort: OrtOptions { threads: a.threads, ..OrtOptions::default() },
    };
    let mut failed = false;
    for p in &a.packages {
        let rows = device_check::check_package(p, &opts).with_context(|| format!("device check of {}", p.display()))?;
        failed |= rows.iter().any(|(_, r)| r.is_err());
        print!("{}", device_check::render(p, &rows));
    }
    if failed {
        anyhow::bail!("some precisions could not be checked (see the table)");
    }
    Ok(())
}
