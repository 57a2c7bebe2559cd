//! Where rendered frames go: a directory of PNGs, an MP4 (ffmpeg, raw RGB frames piped in), a contact sheet.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use image::RgbImage;

use super::warp::{sample_bilinear, Pt};
use super::{save_png, RenderError, FPS};

/// A sink for frames.
pub enum FrameSink {
    /// `DIR/frame_000000.png`, ...
    Pngs { dir: PathBuf, next: usize },
    /// H.264 MP4 through `ffmpeg` (Debian package `ffmpeg`).
    Mp4 { path: PathBuf, child: Child, size: (u32, u32) },
}

impl FrameSink {
    /// `OUT.mp4` -> MP4 via ffmpeg; anything else -> a directory of PNGs.
    pub fn create(out: &Path, size: (u32, u32)) -> Result<Self, RenderError> {
        Self::create_with_audio(out, size, None)
    }

    /// As [`FrameSink::create`], the MP4 with `audio` (any file ffmpeg reads) muxed in as AAC.
    pub fn create_with_audio(out: &Path, size: (u32, u32), audio: Option<&Path>) -> Result<Self, RenderError> {
        let is_mp4 = out.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4"));
        if !is_mp4 {
            std::fs::create_dir_all(out).map_err(|e| RenderError::File { path: out.into(), msg: e.to_string() })?;
            return Ok(FrameSink::Pngs { dir: out.into(), next: 0 });
        }
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| RenderError::File { path: dir.into(), msg: e.to_string() })?;
        }
        // yuv420p needs even sizes: pad by one pixel if needed.
        let child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s"])
            .arg(format!("{}x{}", size.0, size.1))
            .args(["-r", &FPS.to_string(), "-i", "-"])
            .args(audio.map(|a| vec!["-i".as_ref(), a.as_os_str()]).unwrap_or_default())
            .args(if audio.is_some() {
                &["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "128k"][..]
            } else {
                &[]
            })
            .args(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
            .args([
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-crf",
                "18",
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
            ])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                RenderError::Output(format!(
                    "cannot start ffmpeg for {}: {e} (install the Debian package `ffmpeg`, or give --out a directory)",
                    out.display()
                ))
            })?;
        Ok(FrameSink::Mp4 { path: out.into(), child, size })
    }

    pub fn push(&mut self, frame: &RgbImage) -> Result<(), RenderError> {
        match self {
            FrameSink::Pngs { dir, next } => {
                save_png(frame, &dir.join(format!("frame_{next:06}.png")))?;
                *next += 1;
                Ok(())
            }
            FrameSink::Mp4 { path, child, size } => {
                if frame.dimensions() != *size {
                    return Err(RenderError::Output(format!(
                        "frame size {:?} != video size {size:?}",
                        frame.dimensions()
                    )));
                }
                let stdin = child.stdin.as_mut().expect("piped");
                stdin
                    .write_all(frame.as_raw())
                    .map_err(|e| RenderError::Output(format!("ffmpeg writing {} stopped: {e}", path.display())))
            }
        }
    }

    /// Flush and close (waits for ffmpeg).
    pub fn finish(self) -> Result<(), RenderError> {
        match self {
            FrameSink::Pngs { .. } => Ok(()),
            FrameSink::Mp4 { path, mut child, .. } => {
                drop(child.stdin.take());
                let out = child.wait_with_output().map_err(|e| RenderError::Output(e.to_string()))?;
                if !out.status.success() {
                    return Err(RenderError::Output(format!(
                        "ffmpeg failed writing {}: {}",
                        path.display(),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
                Ok(())
            }
        }
    }
}

/// A grid of frames (`cols` per row, each scaled to `cell` pixels wide) on a dark background.
pub fn contact_sheet(frames: &[RgbImage], cols: usize, cell: u32) -> RgbImage {
    let cols = cols.max(1).min(frames.len().max(1));
    let rows = frames.len().div_ceil(cols).max(1);
    let (fw, fh) = frames.first().map(|f| f.dimensions()).unwrap_or((cell, cell));
    let cell_h = ((cell as f32) * fh as f32 / fw as f32).round().max(1.0) as u32;
    let gap = 4u32;
    let w = cols as u32 * (cell + gap) + gap;
    let h = rows as u32 * (cell_h + gap) + gap;
    let mut sheet = RgbImage::from_pixel(w, h, image::Rgb([24, 24, 24]));
    for (i, f) in frames.iter().enumerate() {
        let (cx, cy) = ((i % cols) as u32 * (cell + gap) + gap, (i / cols) as u32 * (cell_h + gap) + gap);
        let (sw, sh) = f.dimensions();
        let k = sw as f32 / cell as f32;
        let n = k.ceil().max(1.0) as usize;
        for y in 0..cell_h {
            for x in 0..cell {
                let mut acc = [0u32; 3];
                for j in 0..n {
                    for i in 0..n {
                        let p = Pt::new(
                            (x as f32 + (i as f32 + 0.5) / n as f32) * k - 0.5,
                            (y as f32 + (j as f32 + 0.5) / n as f32) * (sh as f32 / cell_h as f32) - 0.5,
                        );
                        let v = sample_bilinear(f.as_raw(), sw, sh, p.x, p.y);
                        for c in 0..3 {
                            acc[c] += v[c] as u32;
                        }
                    }
                }
                let nn = (n * n) as u32;
                sheet.put_pixel(cx + x, cy + y, image::Rgb(acc.map(|v| ((v + nn / 2) / nn) as u8)));
            }
        }
    }
    sheet
}
