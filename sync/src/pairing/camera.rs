//! The webcam, through nokhwa (V4L2 on Linux, Media Foundation on Windows, AVFoundation on
//! macOS): opening the computer's camera with a plain reason when it cannot be used (there is
//! none, another program has it, or the system does not allow it), colour frames to show, and
//! the same frames in grey for [`scan`](crate::pairing::scan) behind its [`FrameSource`].

use image::{GrayImage, RgbaImage};
use nokhwa::pixel_format::{RgbAFormat, RgbFormat};
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use crate::pairing::scan::{CameraError, FrameSource};

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
