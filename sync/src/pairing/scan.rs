//! Scanning a stream of frames for a pairing code: a webcam, or in tests a list of pictures,
//! behind [`FrameSource`]. Each frame is decoded until the first intact Carebook pairing link,
//! which ends the scan at once; frames with no code or a foreign one are skipped, and the last
//! refusal is kept to tell the person why nothing happened.

use std::sync::atomic::{AtomicBool, Ordering};

use image::GrayImage;

use crate::pairing::pairing_link::{LinkError, PairingLink};
use crate::pairing::qr::{self, QrError};

/// Where frames come from.
pub trait FrameSource {
    /// The next frame, or None when the source has ended (the camera closed, the list ran out).
    fn next_frame(&mut self) -> Option<Result<GrayImage, CameraError>>;
}

/// A camera that failed (unplugged, in use by another program, no permission).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the camera failed: {0}")]
pub struct CameraError(pub String);

/// Why a scan ended without a pairing link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("scanning was stopped{}", why(.last_refusal))]
    Cancelled { last_refusal: Option<LinkError> },
    #[error("the camera stopped before a pairing code was seen{}", why(.last_refusal))]
    Ended { last_refusal: Option<LinkError> },
    #[error(transparent)]
    Camera(CameraError),
}

fn why(refusal: &Option<LinkError>) -> String {
    refusal
        .as_ref()
        .map(|e| format!("; the last code seen was refused: {e}"))
        .unwrap_or_default()
}

/// Reads frames until one holds an intact Carebook pairing link, the source ends, the camera
/// fails, or `cancel` is set (checked before each frame).
pub fn scan(source: &mut dyn FrameSource, cancel: &AtomicBool) -> Result<PairingLink, ScanError> {
    scan_telling(source, cancel, &mut |_| {})
}

/// [`scan`], telling `refused` about each code in view that was refused as it is seen (a
/// screen can say at once why the code held up is not taken, while scanning goes on).
pub fn scan_telling(
    source: &mut dyn FrameSource,
    cancel: &AtomicBool,
    refused: &mut dyn FnMut(&LinkError),
) -> Result<PairingLink, ScanError> {
    let mut last_refusal = None;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ScanError::Cancelled { last_refusal });
        }
        let frame = match source.next_frame() {
            None => return Err(ScanError::Ended { last_refusal }),
            Some(Err(e)) => return Err(ScanError::Camera(e)),
            Some(Ok(frame)) => frame,
        };
        match qr::decode_link(&frame) {
            Ok(link) => return Ok(link),
            Err(QrError::Refused(e)) => {
                tracing::debug!("a code in view was refused: {e}");
                refused(&e);
                last_refusal = Some(e);
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::DeviceId;
    use crate::pairing::pairing_link::Foreign;

    /// Frames from a list; counts how many were taken.
    struct Frames {
        frames: std::vec::IntoIter<Result<GrayImage, CameraError>>,
        taken: usize,
    }

    impl Frames {
        fn new(frames: Vec<Result<GrayImage, CameraError>>) -> Frames {
            Frames {
                frames: frames.into_iter(),
                taken: 0,
            }
        }
    }

    impl FrameSource for Frames {
        fn next_frame(&mut self) -> Option<Result<GrayImage, CameraError>> {
            let f = self.frames.next()?;
            self.taken += 1;
            Some(f)
        }
    }

    fn blank() -> GrayImage {
        GrayImage::from_pixel(120, 90, image::Luma([200]))
    }

    /// Another app's code: any text, black on white.
    fn foreign(text: &str) -> GrayImage {
        qr::render_text(text, 4).unwrap()
    }

    fn link(n: u8) -> PairingLink {
        PairingLink::new(
            DeviceId::of_certificate(&[n]),
            &["127.0.0.1:7462".parse().unwrap()],
            "Front desk",
        )
    }

    #[test]
    fn stops_on_the_first_valid_code_and_takes_no_more_frames() {
        let mut frames = Frames::new(vec![
            Ok(blank()),
            Ok(foreign("https://example.org/")),
            Ok(blank()),
            Ok(qr::render(&link(1), 4).unwrap()),
            Ok(qr::render(&link(2), 4).unwrap()),
            Err(CameraError("never reached".into())),
        ]);
        let found = scan(&mut frames, &AtomicBool::new(false));
        assert_eq!(found, Ok(link(1)));
        assert_eq!(frames.taken, 4);
    }

    #[test]
    fn each_refused_code_is_told_as_it_is_seen() {
        let mut frames = Frames::new(vec![
            Ok(foreign("https://example.org/")),
            Ok(blank()),
            Ok(foreign("WIFI:S:clinic;T:WPA;P:x;;")),
            Ok(qr::render(&link(3), 4).unwrap()),
        ]);
        let mut told = Vec::new();
        let found = scan_telling(&mut frames, &AtomicBool::new(false), &mut |e| {
            told.push(e.clone())
        });
        assert_eq!(found, Ok(link(3)));
        assert_eq!(
            told,
            [
                LinkError::NotCarebook(Foreign::WebAddress),
                LinkError::NotCarebook(Foreign::Other)
            ]
        );
    }

    #[test]
    fn without_a_valid_code_the_last_refusal_is_told() {
        let mut frames = Frames::new(vec![
            Ok(foreign("https://example.org/")),
            Ok(foreign("WIFI:S:clinic;T:WPA;P:x;;")),
            Ok(blank()),
        ]);
        assert_eq!(
            scan(&mut frames, &AtomicBool::new(false)),
            Err(ScanError::Ended {
                last_refusal: Some(LinkError::NotCarebook(Foreign::Other))
            })
        );
        let mut frames = Frames::new(vec![Ok(blank())]);
        let err = scan(&mut frames, &AtomicBool::new(false)).unwrap_err();
        assert_eq!(err, ScanError::Ended { last_refusal: None });
        assert_eq!(
            err.to_string(),
            "the camera stopped before a pairing code was seen"
        );
    }

    #[test]
    fn a_cancelled_scan_or_a_failed_camera_ends_it() {
        let mut frames = Frames::new(vec![Ok(qr::render(&link(1), 4).unwrap())]);
        assert_eq!(
            scan(&mut frames, &AtomicBool::new(true)),
            Err(ScanError::Cancelled { last_refusal: None })
        );
        assert_eq!(frames.taken, 0);
        let mut frames = Frames::new(vec![Ok(blank()), Err(CameraError("unplugged".into()))]);
        assert_eq!(
            scan(&mut frames, &AtomicBool::new(false)),
            Err(ScanError::Camera(CameraError("unplugged".into())))
        );
    }
}
