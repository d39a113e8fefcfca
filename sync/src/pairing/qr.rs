//! Pairing links as QR codes: drawn into a grayscale picture (or a PNG file) to show or print,
//! and read back from a picture (a photo, a screenshot, a webcam frame), taking the first
//! intact Carebook pairing link among the codes found and saying clearly why a picture was
//! refused otherwise.

use std::path::Path;

use image::GrayImage;
use qrcode::{Color, EcLevel, QrCode};

use crate::pairing::pairing_link::{Foreign, LinkError, PairingLink};

/// The light border around a code, in modules (the QR standard asks for 4).
const QUIET_ZONE: u32 = 4;

/// Why no pairing link came out of a picture (or could not be drawn).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    #[error("no QR code was found in the picture")]
    NoCode,
    #[error("a QR code was found but could not be read; hold it straighter or closer")]
    Unreadable,
    #[error(transparent)]
    Refused(#[from] LinkError),
    #[error("could not read the picture {0}")]
    Image(String),
    #[error("could not draw the code: {0}")]
    Draw(String),
}

/// The link's code, `module_px` pixels a module, black on white with the standard border.
pub fn render(link: &PairingLink, module_px: u32) -> Result<GrayImage, QrError> {
    render_text(&link.to_uri(), module_px)
}

/// Draws a code of any text the same way (also what another app's code looks like, for tests
/// that must refuse one).
pub fn render_text(text: &str, module_px: u32) -> Result<GrayImage, QrError> {
    let code = QrCode::with_error_correction_level(text, EcLevel::M)
        .map_err(|e| QrError::Draw(e.to_string()))?;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let module_px = module_px.max(1);
    let side = (modules + 2 * QUIET_ZONE) * module_px;
    Ok(GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / module_px, y / module_px);
        let inside = QUIET_ZONE..QUIET_ZONE + modules;
        let dark = inside.contains(&mx)
            && inside.contains(&my)
            && colors[((my - QUIET_ZONE) * modules + mx - QUIET_ZONE) as usize] == Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    }))
}

/// Writes the link's code to a PNG file.
pub fn save_png(link: &PairingLink, path: &Path) -> Result<(), QrError> {
    render(link, 8)?
        .save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| QrError::Draw(format!("{}: {e}", path.display())))
}

/// Reads the pairing link in a picture file (PNG or JPEG).
pub fn read_file(path: &Path) -> Result<PairingLink, QrError> {
    let picture = image::open(path)
        .map_err(|e| QrError::Image(format!("{}: {e}", path.display())))?
        .to_luma8();
    decode_link(&picture)
}

/// The first intact Carebook pairing link among the codes in a picture. A picture that gives
/// none as it is is tried again cleaned up: smoothed (a 3×3 median against speckle and sensor
/// noise) and cut to black and white at one threshold (Otsu's), then the same at half size
/// (blur, large frames). Without a link, says why, the most telling reason first: a code
/// refused, a code seen but unreadable, no code at all.
pub fn decode_link(picture: &GrayImage) -> Result<PairingLink, QrError> {
    let mut why = match decode_once(picture) {
        Ok(link) => return Ok(link),
        Err(e) => e,
    };
    let smooth = median3(picture);
    let mut tries = vec![black_and_white(&smooth)];
    if picture.width().min(picture.height()) >= 160 {
        tries.push(black_and_white(&half(&smooth)));
    }
    for attempt in &tries {
        match decode_once(attempt) {
            Ok(link) => return Ok(link),
            Err(e) if telling(&e) > telling(&why) => why = e,
            Err(_) => {}
        }
    }
    Err(why)
}

fn telling(e: &QrError) -> u8 {
    match e {
        QrError::Refused(_) => 2,
        QrError::Unreadable => 1,
        _ => 0,
    }
}

fn decode_once(picture: &GrayImage) -> Result<PairingLink, QrError> {
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        picture.width() as usize,
        picture.height() as usize,
        |x, y| picture.get_pixel(x as u32, y as u32).0[0],
    );
    let grids = prepared.detect_grids();
    let mut refused = None;
    for grid in &grids {
        let text = match grid.decode() {
            Ok((_, text)) => text,
            Err(rqrr::DeQRError::EncodingError) => {
                refused.get_or_insert(LinkError::NotCarebook(Foreign::Other));
                continue;
            }
            Err(_) => continue,
        };
        match PairingLink::parse(&text) {
            Ok(link) => return Ok(link),
            Err(e) => {
                refused.get_or_insert(e);
            }
        }
    }
    match refused {
        Some(e) => Err(QrError::Refused(e)),
        None if grids.is_empty() => Err(QrError::NoCode),
        None => Err(QrError::Unreadable),
    }
}

/// Each pixel the median of its 3×3 neighbourhood (edges clamped).
fn median3(img: &GrayImage) -> GrayImage {
    let (w, h) = (img.width(), img.height());
    GrayImage::from_fn(w, h, |x, y| {
        let mut v = [0u8; 9];
        for (i, (dx, dy)) in (0..9).map(|i| (i % 3, i / 3)).enumerate() {
            let sx = (x + dx).saturating_sub(1).min(w - 1);
            let sy = (y + dy).saturating_sub(1).min(h - 1);
            v[i] = img.get_pixel(sx, sy).0[0];
        }
        v.sort_unstable();
        image::Luma([v[4]])
    })
}

/// Black and white, cut at the grey that best separates the picture's dark and light pixels
/// (Otsu's method).
fn black_and_white(img: &GrayImage) -> GrayImage {
    let mut histogram = [0u64; 256];
    for p in img.pixels() {
        histogram[usize::from(p.0[0])] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let sum_all: u64 = histogram
        .iter()
        .enumerate()
        .map(|(v, n)| v as u64 * n)
        .sum();
    let (mut below, mut sum_below, mut best, mut cut) = (0u64, 0u64, 0f64, 128u8);
    for (v, n) in histogram.iter().enumerate() {
        below += n;
        sum_below += v as u64 * n;
        let above = total - below;
        if below == 0 || above == 0 {
            continue;
        }
        let mean_below = sum_below as f64 / below as f64;
        let mean_above = (sum_all - sum_below) as f64 / above as f64;
        let between = below as f64 * above as f64 * (mean_below - mean_above).powi(2);
        if between > best {
            (best, cut) = (between, v as u8);
        }
    }
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        image::Luma([if img.get_pixel(x, y).0[0] <= cut {
            0
        } else {
            255
        }])
    })
}

/// Half the width and height, each pixel the mean of four.
fn half(img: &GrayImage) -> GrayImage {
    GrayImage::from_fn(img.width() / 2, img.height() / 2, |x, y| {
        let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
            .iter()
            .map(|(dx, dy)| u32::from(img.get_pixel(2 * x + dx, 2 * y + dy).0[0]))
            .sum();
        image::Luma([(sum / 4) as u8])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::DeviceId;

    #[test]
    fn a_rendered_code_has_its_border_and_reads_back() {
        let link = PairingLink::new(
            DeviceId::of_certificate(b"x"),
            &["127.0.0.1:7462".parse().unwrap()],
            "Front desk",
        );
        let picture = render(&link, 3).unwrap();
        assert_eq!(picture.width() % 3, 0);
        assert!((0..picture.width()).all(|x| picture.get_pixel(x, 0).0[0] == 255));
        assert_eq!(picture.get_pixel(4 * 3, 4 * 3).0[0], 0, "a finder corner");
        assert_eq!(decode_link(&picture), Ok(link));
        assert_eq!(
            decode_link(&GrayImage::from_pixel(50, 50, image::Luma([255]))),
            Err(QrError::NoCode)
        );
    }
}
