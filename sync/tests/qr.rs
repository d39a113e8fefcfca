//! The app's own pairing codes read back from pictures as a camera or a phone photo would give
//! them (several sizes, noise, blur, rotation, a perspective tilt, low contrast in a larger
//! scene, PNG and JPEG files), and foreign, tampered and newer codes refused with the right
//! reason. The picture transforms are small helpers here, not a dependency.

use carebook_sync::identity::DeviceId;
use carebook_sync::pairing::pairing_link::{Foreign, LinkError, PairingLink};
use carebook_sync::pairing::qr::{self, QrError};
use image::{GrayImage, Luma};

fn link() -> PairingLink {
    PairingLink::new(
        DeviceId::of_certificate(b"front desk certificate"),
        &[
            "192.168.1.20:7462".parse().unwrap(),
            "10.0.0.7:7462".parse().unwrap(),
            "127.0.0.1:7462".parse().unwrap(),
        ],
        "Front desk",
    )
}

/// A code of any text, as another app would show it.
fn code_of(text: &str, module_px: u32) -> GrayImage {
    qr::render_text(text, module_px).unwrap()
}

/// A small deterministic random number generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Sensor noise: every pixel off by up to ±`amount`, and `speckle` of them black or white.
fn noise(img: &GrayImage, amount: f32, speckle: f32) -> GrayImage {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let v = f32::from(img.get_pixel(x, y).0[0]) + (rng.next() * 2.0 - 1.0) * amount;
        let r = rng.next();
        let v = if r < speckle / 2.0 {
            0.0
        } else if r < speckle {
            255.0
        } else {
            v
        };
        Luma([v.clamp(0.0, 255.0) as u8])
    })
}

/// A gaussian blur of standard deviation `sigma` pixels (separable, edges clamped).
fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    let r = (sigma * 3.0).ceil() as i64;
    let kernel: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let pass = |src: &GrayImage, dx: i64, dy: i64| {
        GrayImage::from_fn(src.width(), src.height(), |x, y| {
            let mut acc = 0.0;
            for (k, weight) in kernel.iter().enumerate() {
                let o = k as i64 - r;
                let sx = (i64::from(x) + o * dx).clamp(0, w - 1) as u32;
                let sy = (i64::from(y) + o * dy).clamp(0, h - 1) as u32;
                acc += weight * f32::from(src.get_pixel(sx, sy).0[0]);
            }
            Luma([(acc / total).round() as u8])
        })
    };
    pass(&pass(img, 1, 0), 0, 1)
}

/// Samples `img` at a real position (bilinear), white outside.
fn sample(img: &GrayImage, x: f32, y: f32) -> u8 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let at = |x: f32, y: f32| -> f32 {
        if x < 0.0 || y < 0.0 || x >= img.width() as f32 || y >= img.height() as f32 {
            255.0
        } else {
            f32::from(img.get_pixel(x as u32, y as u32).0[0])
        }
    };
    let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1.0, y0) * fx;
    let bottom = at(x0, y0 + 1.0) * (1.0 - fx) + at(x0 + 1.0, y0 + 1.0) * fx;
    (top * (1.0 - fy) + bottom * fy).round() as u8
}

/// Rotated by `degrees` about its centre, on a canvas large enough to hold it.
fn rotate(img: &GrayImage, degrees: f32) -> GrayImage {
    let (s, c) = degrees.to_radians().sin_cos();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let side = ((w * w + h * h).sqrt()).ceil() as u32;
    let mid = side as f32 / 2.0;
    GrayImage::from_fn(side, side, |x, y| {
        let (dx, dy) = (x as f32 - mid, y as f32 - mid);
        Luma([sample(
            img,
            c * dx + s * dy + w / 2.0,
            -s * dx + c * dy + h / 2.0,
        )])
    })
}

/// The homography taking the unit square's corners (0,0) (1,0) (1,1) (0,1) to `quad`.
fn square_to_quad(quad: [(f32, f32); 4]) -> [f32; 9] {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = quad;
    let (dx1, dx2, sx) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
    let (dy1, dy2, sy) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
    let det = dx1 * dy2 - dx2 * dy1;
    let g = (sx * dy2 - dx2 * sy) / det;
    let h = (dx1 * sy - sx * dy1) / det;
    [
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
        1.0,
    ]
}

/// The picture of a code held tilted away from the camera: its square becomes `quad` (the
/// corners top-left, top-right, bottom-right, bottom-left) on a `w`×`h` frame.
fn perspective(img: &GrayImage, quad: [(f32, f32); 4], w: u32, h: u32) -> GrayImage {
    let [a, b, c, d, e, f, g, hh, _] = square_to_quad(quad);
    GrayImage::from_fn(w, h, |x, y| {
        // Invert the homography for this pixel: solve for (u, v) in the unit square.
        let (px, py) = (x as f32, y as f32);
        let m = [[a - g * px, b - hh * px], [d - g * py, e - hh * py]];
        let (r0, r1) = (px - c, py - f);
        let det = m[0][0] * m[1][1] - m[0][1] * m[1][0];
        let u = (r0 * m[1][1] - m[0][1] * r1) / det;
        let v = (m[0][0] * r1 - r0 * m[1][0]) / det;
        if !(0.0..=1.0).contains(&u) || !(0.0..=1.0).contains(&v) {
            return Luma([255]);
        }
        Luma([sample(img, u * img.width() as f32, v * img.height() as f32)])
    })
}

/// The code, faded to low contrast, in the middle of a larger grey scene.
fn in_scene(img: &GrayImage) -> GrayImage {
    let (w, h) = (img.width() * 2, img.height() * 3 / 2);
    let (ox, oy) = (img.width() / 3, img.height() / 5);
    GrayImage::from_fn(w, h, |x, y| {
        let inside = x >= ox && y >= oy && x - ox < img.width() && y - oy < img.height();
        if inside {
            let v = f32::from(img.get_pixel(x - ox, y - oy).0[0]);
            Luma([(70.0 + v * 0.5) as u8])
        } else {
            Luma([(110 + (x + y) % 40) as u8])
        }
    })
}

#[track_caller]
fn reads(what: &str, picture: &GrayImage) {
    assert_eq!(
        qr::decode_link(picture),
        Ok(link()),
        "{what} ({}x{})",
        picture.width(),
        picture.height()
    );
}

#[test]
fn reads_its_own_code_at_several_sizes() {
    for module_px in [2, 3, 4, 6, 10] {
        reads(
            &format!("{module_px} px a module"),
            &qr::render(&link(), module_px).unwrap(),
        );
    }
}

#[test]
fn reads_through_noise_and_blur() {
    let code = qr::render(&link(), 6).unwrap();
    reads("noise", &noise(&code, 70.0, 0.02));
    reads("blur", &blur(&code, 1.5));
    reads("blur then noise", &noise(&blur(&code, 1.2), 40.0, 0.01));
    reads(
        "low contrast in a larger scene",
        &noise(&in_scene(&code), 15.0, 0.0),
    );
}

#[test]
fn reads_rotated_codes() {
    let code = qr::render(&link(), 5).unwrap();
    for degrees in [10.0, 45.0, 90.0, 180.0, 333.0] {
        reads(&format!("rotated {degrees}°"), &rotate(&code, degrees));
    }
}

#[test]
fn reads_a_code_held_at_a_tilt() {
    let code = qr::render(&link(), 6).unwrap();
    let s = code.width() as f32;
    // Leaning back: the top edge farther away (narrower) than the bottom.
    let leaning = [
        (0.25 * s, 0.15 * s),
        (0.95 * s, 0.15 * s),
        (1.15 * s, 1.05 * s),
        (0.05 * s, 1.05 * s),
    ];
    reads(
        "tilted back",
        &perspective(&code, leaning, (1.2 * s) as u32, (1.2 * s) as u32),
    );
    // Turned to the side and a little rotated, then blurred and noisy like a webcam frame.
    let turned = [
        (0.1 * s, 0.2 * s),
        (0.9 * s, 0.05 * s),
        (0.95 * s, 1.1 * s),
        (0.15 * s, 0.95 * s),
    ];
    let frame = perspective(&code, turned, (1.2 * s) as u32, (1.2 * s) as u32);
    reads(
        "turned, blurred, noisy",
        &noise(&blur(&frame, 1.0), 30.0, 0.005),
    );
}

#[test]
fn reads_png_and_jpeg_files() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("front-desk.png");
    qr::save_png(&link(), &png).unwrap();
    assert_eq!(qr::read_file(&png), Ok(link()));
    let jpeg = dir.path().join("photo.jpg");
    let photo = blur(&rotate(&qr::render(&link(), 4).unwrap(), 20.0), 0.8);
    let mut out = std::fs::File::create(&jpeg).unwrap();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 50)
        .encode_image(&photo)
        .unwrap();
    assert_eq!(qr::read_file(&jpeg), Ok(link()));
    let missing = qr::read_file(&dir.path().join("none.png")).unwrap_err();
    assert!(matches!(missing, QrError::Image(_)), "{missing}");
    std::fs::write(dir.path().join("text.png"), "not a picture").unwrap();
    assert!(matches!(
        qr::read_file(&dir.path().join("text.png")),
        Err(QrError::Image(_))
    ));
}

#[test]
fn refuses_foreign_codes() {
    assert_eq!(
        qr::decode_link(&code_of("https://example.org/carebook", 4)),
        Err(QrError::Refused(LinkError::NotCarebook(
            Foreign::WebAddress
        )))
    );
    assert_eq!(
        qr::decode_link(&code_of("BEGIN:VCARD\nFN:Someone\nEND:VCARD", 4)),
        Err(QrError::Refused(LinkError::NotCarebook(Foreign::Other)))
    );
    assert_eq!(
        qr::decode_link(&GrayImage::from_pixel(300, 200, Luma([128]))),
        Err(QrError::NoCode)
    );
}

#[test]
fn refuses_tampered_and_newer_links() {
    let uri = link().to_uri();
    // One character of the ID changed, in an otherwise perfect code.
    let at = uri.find("id=").unwrap() + 5;
    let mut bytes = uri.clone().into_bytes();
    bytes[at] = if bytes[at] == b'Q' { b'R' } else { b'Q' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(
        qr::decode_link(&code_of(&tampered, 4)),
        Err(QrError::Refused(LinkError::Damaged(
            "the checksum does not match"
        )))
    );
    // An address changed to send the joiner elsewhere.
    let moved = uri.replace("192.168.1.20", "192.168.1.66");
    assert_eq!(
        qr::decode_link(&code_of(&moved, 4)),
        Err(QrError::Refused(LinkError::Damaged(
            "the checksum does not match"
        )))
    );
    let newer = uri.replace("v=1&", "v=2&");
    let refused = qr::decode_link(&code_of(&newer, 4)).unwrap_err();
    assert_eq!(
        refused,
        QrError::Refused(LinkError::UnsupportedVersion("2".into()))
    );
    assert!(refused.to_string().contains("newer Carebook"), "{refused}");
}

#[test]
fn picks_the_carebook_code_among_several() {
    let other = code_of("https://example.org/", 4);
    let ours = qr::render(&link(), 4).unwrap();
    let (w, h) = (
        other.width() + ours.width() + 40,
        ours.height().max(other.height()),
    );
    let both = GrayImage::from_fn(w, h, |x, y| {
        if x < other.width() && y < other.height() {
            *other.get_pixel(x, y)
        } else if x >= other.width() + 40 && y < ours.height() {
            *ours.get_pixel(x - other.width() - 40, y)
        } else {
            Luma([255])
        }
    });
    reads("beside a web address's code", &both);
}
