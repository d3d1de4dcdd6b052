//! `--init-image`: the picture img2img starts from, read as ComfyUI's
//! LoadImage → VAEEncode read it: EXIF orientation applied, alpha dropped,
//! and, when the output keeps the image's own size, cropped to multiples of
//! 8 around the centre (`vae_encode_crop_pixels`). When `--width` or
//! `--height` ask for another size, the image is resized to it (Lanczos, as
//! A1111's img2img "just resize").

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, imageops::FilterType};

use crate::error::GenError;

/// The decoded picture, RGB8, before any crop or resize.
pub struct InitImage {
    image: DynamicImage,
}

/// The smallest side the renderer takes.
const MIN_SIDE: u32 = 64;
/// What a decoder may allocate: a 16384 x 16384 RGBA image.
const MAX_ALLOC: u64 = 16384 * 16384 * 4;

impl InitImage {
    /// Reads a PNG, JPEG or WebP file. Errors name the file and say why.
    pub fn read(path: &Path) -> Result<InitImage, GenError> {
        let shown = path.display();
        let bad = |e: &dyn std::fmt::Display| {
            GenError::usage(format!("--init-image {shown}: {e}"))
                .with_hint("give a PNG, JPEG or WebP image")
        };
        let mut reader = ImageReader::open(path)
            .map_err(|e| GenError::usage(format!("--init-image {shown}: {e}")))?
            .with_guessed_format()
            .map_err(|e| bad(&e))?;
        let mut limits = image::Limits::default();
        limits.max_alloc = Some(MAX_ALLOC);
        reader.limits(limits);
        let mut decoder = reader.into_decoder().map_err(|e| bad(&e))?;
        let orientation = decoder.orientation().ok();
        let mut image = DynamicImage::from_decoder(decoder).map_err(|e| bad(&e))?;
        if let Some(o) = orientation {
            image.apply_orientation(o);
        }
        let image = DynamicImage::ImageRgb8(image.to_rgb8());
        if image.width() < MIN_SIDE || image.height() < MIN_SIDE {
            return Err(GenError::usage(format!(
                "--init-image {shown}: {}x{} is smaller than {MIN_SIDE}x{MIN_SIDE}",
                image.width(),
                image.height()
            )));
        }
        Ok(InitImage { image })
    }

    /// The output size the image gives by itself: its own, rounded down to
    /// multiples of 8.
    pub fn natural_size(&self) -> (u32, u32) {
        (self.image.width() / 8 * 8, self.image.height() / 8 * 8)
    }

    /// Interleaved RGB bytes at `width` x `height`: a centred crop when that
    /// is the natural size, a resize otherwise.
    pub fn pixels(&self, width: u32, height: u32) -> Vec<u8> {
        let (w, h) = (self.image.width(), self.image.height());
        let img = if (width, height) == self.natural_size() {
            self.image.crop_imm((w % 8) / 2, (h % 8) / 2, width, height)
        } else {
            self.image.resize_exact(width, height, FilterType::Lanczos3)
        };
        img.to_rgb8().into_raw()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, w: u32, h: u32) {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        img.save(path).unwrap();
    }

    #[test]
    fn odd_sizes_are_cropped_around_the_centre() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.png");
        write_png(&p, 75, 70);
        let img = InitImage::read(&p).unwrap();
        assert_eq!(img.natural_size(), (72, 64));
        let px = img.pixels(72, 64);
        assert_eq!(px.len(), 72 * 64 * 3);
        // 75 % 8 = 3 → 1 column off the left; 70 % 8 = 6 → 3 rows off the top.
        assert_eq!(&px[..3], &[1, 3, 7]);
        let last = &px[px.len() - 3..];
        assert_eq!(last, &[72, 66, 7]);
    }

    #[test]
    fn another_size_resizes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.png");
        write_png(&p, 128, 128);
        let img = InitImage::read(&p).unwrap();
        assert_eq!(img.pixels(64, 96).len(), 64 * 96 * 3);
    }

    #[test]
    fn bad_files_are_usage_errors() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.png");
        std::fs::write(&junk, b"not an image at all").unwrap();
        let small = dir.path().join("small.png");
        write_png(&small, 32, 80);
        for (p, says) in [
            (junk.as_path(), "junk.png"),
            (small.as_path(), "smaller than 64x64"),
            (dir.path().join("missing.png").as_path(), "missing.png"),
        ] {
            let err = match InitImage::read(p) {
                Ok(_) => panic!("{} was accepted", p.display()),
                Err(e) => e,
            };
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
