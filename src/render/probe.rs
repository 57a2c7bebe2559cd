//! The sync-probe renderer: black frames with the top half white where motion channel 0 is set. With the live
//! path's click detector (`crate::live::ClickDetector`) it turns clicks in the input audio into white markers, so
//! the A/V offset of the whole live path can be measured at the output.

use image::RgbImage;

use super::{RenderError, Renderer};
use crate::model::config::MotionLayout;

/// Black frames, top half white where `motion[0] > 0.5`.
pub struct ProbeRenderer {
    pub size: u32,
}

impl Renderer for ProbeRenderer {
    fn name(&self) -> &'static str {
        "sync-probe"
    }
    fn layouts(&self) -> Vec<MotionLayout> {
        vec![MotionLayout::Mouth4_2d]
    }
    fn frame_size(&self) -> (u32, u32) {
        (self.size, self.size)
    }
    fn render(&mut self, motion: &[f32], index: u64) -> Result<RgbImage, RenderError> {
        let mut img = RgbImage::new(self.size, self.size);
        self.render_into(motion, index, &mut img)?;
        Ok(img)
    }
    fn render_into(&mut self, motion: &[f32], _index: u64, out: &mut RgbImage) -> Result<(), RenderError> {
        if out.dimensions() != (self.size, self.size) {
            *out = RgbImage::new(self.size, self.size);
        }
        let half = (self.size / 2 * self.size * 3) as usize;
        let marked = motion.first().is_some_and(|&v| v > 0.5);
        let raw: &mut [u8] = out.as_mut();
        raw[..half].fill(if marked { 255 } else { 0 });
        raw[half..].fill(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_the_top_half_only_when_set() {
        let mut r = ProbeRenderer { size: 4 };
        let mut out = RgbImage::new(1, 1);
        r.render_into(&[1.0, 0.0], 0, &mut out).unwrap();
        assert_eq!(out.dimensions(), (4, 4));
        assert!(out.as_raw()[..24].iter().all(|&v| v == 255) && out.as_raw()[24..].iter().all(|&v| v == 0));
        r.render_into(&[0.0, 0.0], 1, &mut out).unwrap();
        assert!(out.as_raw().iter().all(|&v| v == 0));
        assert_eq!(r.render(&[1.0, 0.0], 2).unwrap().get_pixel(0, 0).0, [255, 255, 255]);
    }
}
