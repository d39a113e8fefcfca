//! The webcam: opening the computer's camera with a plain reason when it cannot be used (there
//! is none, another program has it, the system does not allow it, or this build has no camera
//! support), colour frames to show, and the same frames in grey for
//! [`scan`](crate::pairing::scan) behind its [`FrameSource`]. The camera itself is read
//! through nokhwa when the `webcam` feature is on (the default).

use image::{GrayImage, RgbaImage};

use crate::pairing::scan::{CameraError, FrameSource};

#[cfg(not(feature = "webcam"))]
mod absent;
#[cfg(feature = "webcam")]
mod webcam;

#[cfg(not(feature = "webcam"))]
pub use absent::Webcam;
#[cfg(feature = "webcam")]
pub use webcam::Webcam;

/// Why the camera cannot be used. The messages are for the person at the screen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebcamError {
    #[error("no camera was found on this computer")]
    NoCamera,
    #[error("the camera is in use by another program; close it and try again")]
    Busy,
    #[error(
        "this computer does not allow Carebook to use the camera (see the system's privacy or camera settings)"
    )]
    Refused,
    #[error("this copy of Carebook was built without camera support")]
    NotBuilt,
    #[error("the camera could not be started: {0}")]
    Failed(String),
}

impl From<WebcamError> for CameraError {
    fn from(e: WebcamError) -> CameraError {
        CameraError(e.to_string())
    }
}

/// Colour frames, one at a time.
pub trait Camera {
    /// The next frame, or None when the camera has closed.
    fn next_rgba(&mut self) -> Option<Result<RgbaImage, CameraError>>;
}

/// A camera whose frames are shown (`show` gets each one in colour) and then scanned in grey.
pub struct Shown<C, F> {
    camera: C,
    show: F,
}

impl<C: Camera, F: FnMut(RgbaImage)> Shown<C, F> {
    pub fn new(camera: C, show: F) -> Shown<C, F> {
        Shown { camera, show }
    }
}

impl<C: Camera, F: FnMut(RgbaImage)> FrameSource for Shown<C, F> {
    fn next_frame(&mut self) -> Option<Result<GrayImage, CameraError>> {
        let frame = match self.camera.next_rgba()? {
            Ok(frame) => frame,
            Err(e) => return Some(Err(e)),
        };
        let grey = image::imageops::grayscale(&frame);
        (self.show)(frame);
        Some(Ok(grey))
    }
}

impl<C: Camera + ?Sized> Camera for Box<C> {
    fn next_rgba(&mut self) -> Option<Result<RgbaImage, CameraError>> {
        (**self).next_rgba()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::DeviceId;
    use crate::pairing::pairing_link::PairingLink;
    use std::sync::atomic::AtomicBool;

    /// Colour frames from a list.
    struct Pictures(std::vec::IntoIter<RgbaImage>);

    impl Camera for Pictures {
        fn next_rgba(&mut self) -> Option<Result<RgbaImage, CameraError>> {
            self.0.next().map(Ok)
        }
    }

    #[test]
    fn frames_are_shown_in_colour_and_scanned_in_grey() {
        let link = PairingLink::new(
            DeviceId::of_certificate(b"front desk"),
            &["127.0.0.1:7462".parse().unwrap()],
            "Front desk",
        );
        let code = image::DynamicImage::ImageLuma8(crate::pairing::qr::render(&link, 4).unwrap());
        // The code printed in dark blue on cream: only its grey version is black and white.
        let tinted = RgbaImage::from_fn(code.width(), code.height(), |x, y| {
            let dark = code.as_luma8().unwrap().get_pixel(x, y).0[0] < 128;
            image::Rgba(if dark {
                [20, 30, 110, 255]
            } else {
                [250, 240, 210, 255]
            })
        });
        let blank = RgbaImage::from_pixel(100, 80, image::Rgba([90, 160, 90, 255]));
        let mut shown = Vec::new();
        let mut source = Shown::new(Pictures(vec![blank, tinted].into_iter()), |f| shown.push(f));
        let found = crate::pairing::scan::scan(&mut source, &AtomicBool::new(false));
        assert_eq!(found, Ok(link));
        drop(source);
        assert_eq!(shown.len(), 2);
        assert_eq!(
            shown[1].get_pixel(0, 0).0,
            [250, 240, 210, 255],
            "in colour"
        );
    }
}
