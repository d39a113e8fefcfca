//! The camera of a build without the `webcam` feature: there is none to open, and opening one
//! says so plainly, so that a screen offers its other ways in (a picture, a pasted link).

use image::RgbaImage;

use super::{Camera, WebcamError};
use crate::pairing::scan::CameraError;

/// A camera that cannot exist in this build: opening one always fails with
/// [`WebcamError::NotBuilt`].
#[derive(Debug)]
pub struct Webcam {
    never: std::convert::Infallible,
}

impl Webcam {
    /// Always [`WebcamError::NotBuilt`]: this build has no camera support.
    pub fn open() -> Result<Webcam, WebcamError> {
        Webcam::open_index(0)
    }

    /// Always [`WebcamError::NotBuilt`], whatever the index.
    pub fn open_index(_index: u32) -> Result<Webcam, WebcamError> {
        Err(WebcamError::NotBuilt)
    }
}

impl Camera for Webcam {
    fn next_rgba(&mut self) -> Option<Result<RgbaImage, CameraError>> {
        match self.never {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_a_camera_says_this_build_has_none() {
        assert_eq!(Webcam::open().unwrap_err(), WebcamError::NotBuilt);
        assert_eq!(Webcam::open_index(3).unwrap_err(), WebcamError::NotBuilt);
        assert_eq!(
            CameraError::from(WebcamError::NotBuilt).to_string(),
            "the camera failed: this copy of Carebook was built without camera support"
        );
    }
}
