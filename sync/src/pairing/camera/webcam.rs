//! The computer's camera through nokhwa (V4L2 on Linux, Media Foundation on Windows,
//! AVFoundation on macOS), with the systems' errors turned into plain reasons.

use image::RgbaImage;
use nokhwa::pixel_format::{RgbAFormat, RgbFormat};
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use super::{Camera, WebcamError};
use crate::pairing::scan::CameraError;

/// The size asked of the camera: enough for a code held up at arm's length, small enough to
/// decode several frames a second.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 480;

/// The computer's camera, streaming.
pub struct Webcam {
    camera: nokhwa::Camera,
}

impl std::fmt::Debug for Webcam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webcam")
            .field("index", self.camera.index())
            .finish()
    }
}

impl Webcam {
    /// The first camera of the computer, streaming.
    pub fn open() -> Result<Webcam, WebcamError> {
        Webcam::open_index(0)
    }

    /// The camera with this index (0 is the first), streaming.
    pub fn open_index(index: u32) -> Result<Webcam, WebcamError> {
        allowed()?;
        if index == 0 {
            // Where the system lists its cameras, an empty list says it plainly.
            if let Ok(cameras) = nokhwa::query(ApiBackend::Auto) {
                if cameras.is_empty() {
                    return Err(WebcamError::NoCamera);
                }
            }
        }
        let wanted = RequestedFormat::new::<RgbAFormat>(RequestedFormatType::Closest(
            CameraFormat::new(Resolution::new(WIDTH, HEIGHT), FrameFormat::MJPEG, 30),
        ));
        let mut camera = nokhwa::Camera::new(CameraIndex::Index(index), wanted)
            .map_err(|e| classify(&e.to_string()))?;
        camera.open_stream().map_err(|e| classify(&e.to_string()))?;
        tracing::info!(
            index,
            format = %camera.camera_format(),
            "camera open"
        );
        Ok(Webcam { camera })
    }
}

impl Camera for Webcam {
    fn next_rgba(&mut self) -> Option<Result<RgbaImage, CameraError>> {
        let frame = match self.camera.frame() {
            Ok(buffer) => {
                colour(&buffer).map_err(|e| CameraError(format!("a frame could not be read: {e}")))
            }
            Err(e) => Err(CameraError::from(classify(&e.to_string()))),
        };
        Some(frame)
    }
}

/// A frame as the camera sent it, in colour: MJPEG through `image`'s JPEG decoder, the raw
/// formats (YUYV, NV12, grey, RGB) through nokhwa's converters.
fn colour(buffer: &nokhwa::Buffer) -> Result<RgbaImage, String> {
    match buffer.source_frame_format() {
        FrameFormat::MJPEG => {
            image::load_from_memory_with_format(buffer.buffer(), image::ImageFormat::Jpeg)
                .map(|picture| picture.to_rgba8())
                .map_err(|e| e.to_string())
        }
        _ => buffer
            .decode_image::<RgbFormat>()
            .map(|rgb| image::DynamicImage::ImageRgb8(rgb).to_rgba8())
            .map_err(|e| e.to_string()),
    }
}

impl Drop for Webcam {
    fn drop(&mut self) {
        // Lets go of the device at once, so another program (or the next scan) can have it.
        let _ = self.camera.stop_stream();
    }
}

/// On macOS the person is asked once whether Carebook may use the camera; elsewhere the
/// device's permissions answer when it is opened.
#[cfg(target_os = "macos")]
fn allowed() -> Result<(), WebcamError> {
    if nokhwa::nokhwa_check() {
        return Ok(());
    }
    let (tx, rx) = std::sync::mpsc::channel();
    nokhwa::nokhwa_initialize(move |granted| {
        let _ = tx.send(granted);
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(true) => Ok(()),
        _ => Err(WebcamError::Refused),
    }
}

#[cfg(not(target_os = "macos"))]
fn allowed() -> Result<(), WebcamError> {
    Ok(())
}

/// What a camera library's error means for the person: the operating systems' own words for
/// a missing device, a busy one and a refused one (EBUSY, EACCES, ENOENT/ENODEV, Windows'
/// "access is denied", AVFoundation's "not authorized").
fn classify(error: &str) -> WebcamError {
    let e = error.to_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| e.contains(w));
    if any(&["busy", "os error 16", "in use", "already in use"]) {
        WebcamError::Busy
    } else if any(&[
        "permission denied",
        "os error 13",
        "access is denied",
        "not authorized",
        "e_accessdenied",
    ]) {
        WebcamError::Refused
    } else if any(&[
        "no such file",
        "os error 2)",
        "no such device",
        "os error 19",
        "not found",
        "no camera",
        "no device",
    ]) {
        WebcamError::NoCamera
    } else {
        WebcamError::Failed(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_systems_words_become_plain_reasons() {
        assert_eq!(
            classify("Could not open device /dev/video0: Device or resource busy (os error 16)"),
            WebcamError::Busy
        );
        assert_eq!(
            classify("Failed to open /dev/video0: Permission denied (os error 13)"),
            WebcamError::Refused
        );
        assert_eq!(
            classify("Error opening device index 0: No such file or directory (os error 2)"),
            WebcamError::NoCamera
        );
        assert_eq!(
            classify("MF_E_HW_MFT_FAILED_START_STREAMING"),
            WebcamError::Failed("MF_E_HW_MFT_FAILED_START_STREAMING".into())
        );
        assert_eq!(
            WebcamError::Busy.to_string(),
            "the camera is in use by another program; close it and try again"
        );
    }

    #[test]
    fn a_camera_that_is_not_there_says_so() {
        // No computer has a hundredth camera: the device is missing everywhere.
        assert_eq!(Webcam::open_index(99).unwrap_err(), WebcamError::NoCamera);
    }
}
