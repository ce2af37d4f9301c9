//! 12-bit lossy JPEG: DICOM's JPEG Extended (process 2 & 4), what phosphor-plate readers and
//! older sensors write. Neither the image crate nor dicom-rs's decoder reads 12-bit samples;
//! libjpeg-turbo 3 does (the copy the turbojpeg crate already builds), through its TurboJPEG 3
//! API, which the safe wrapper does not expose for 12 bits. So this module calls it directly,
//! and keeps the unsafe part to that: one handle freed on every path, the size read from the
//! header and checked against the pixel budget (and handed to libjpeg-turbo as its own limit)
//! before anything is decoded, and an output buffer sized from that header. Warnings are not
//! errors: sensors write SOS parameters libjpeg only warns about (the NEMA sample does), and a
//! JPEG cut inside an intact DICOM fragment decodes with its missing rows grey — a preview
//! either way, never a crash; the DICOM's own structure is checked before this is reached.
#![allow(unsafe_code)]

use std::ffi::CStr;

use turbojpeg_sys as tj;

/// A decoded image: `channels` (1 grey, 3 RGB) samples of 12 bits a pixel, row after row.
pub struct Decoded {
    pub width: u32,
    pub height: u32,
    pub channels: u32,
    pub samples: Vec<i16>,
}

struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init, is not null, and is destroyed once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Handle {
    fn error(&self) -> String {
        // SAFETY: the handle is live; libjpeg-turbo returns a NUL-terminated string it owns.
        let message = unsafe { tj::tj3GetErrorStr(self.0) };
        if message.is_null() {
            return "libjpeg-turbo failed".into();
        }
        // SAFETY: non-null and NUL-terminated (above); copied before the handle goes.
        unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned()
    }

    fn get(&self, param: tj::TJPARAM) -> i32 {
        // SAFETY: the handle is live; an unknown parameter answers -1.
        unsafe { tj::tj3Get(self.0, param as libc::c_int) }
    }

    fn set(&self, param: tj::TJPARAM, value: i32) -> Result<(), String> {
        // SAFETY: the handle is live.
        match unsafe { tj::tj3Set(self.0, param as libc::c_int, value) } {
            0 => Ok(()),
            _ => Err(self.error()),
        }
    }
}

/// The precision of a JPEG's samples (8, 12, 16), from its header; `None` when it has none.
pub fn precision(jpeg: &[u8]) -> Option<i32> {
    let h = header(jpeg).ok()?;
    Some(h.get(tj::TJPARAM_TJPARAM_PRECISION))
}

fn header(jpeg: &[u8]) -> Result<Handle, String> {
    // SAFETY: tj3Init has no preconditions; a null answer is checked.
    let raw = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as libc::c_int) };
    if raw.is_null() {
        return Err("libjpeg-turbo could not start a decoder".into());
    }
    let h = Handle(raw);
    // SAFETY: the handle is live; the pointer and length describe `jpeg`, which outlives the call.
    if unsafe { tj::tj3DecompressHeader(h.0, jpeg.as_ptr(), jpeg.len() as tj::size_t) } != 0 {
        return Err(h.error());
    }
    Ok(h)
}

/// Decodes a 12-bit JPEG whose pixels are at most `max_pixels`.
pub fn decode(jpeg: &[u8], max_pixels: u64) -> Result<Decoded, String> {
    let h = header(jpeg)?;
    let (w, height) = (h.get(tj::TJPARAM_TJPARAM_JPEGWIDTH), h.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT));
    let precision = h.get(tj::TJPARAM_TJPARAM_PRECISION);
    if precision != 12 {
        return Err(format!("its JPEG data has {precision}-bit samples, not 12"));
    }
    let (Ok(w), Ok(height)) = (u32::try_from(w), u32::try_from(height)) else {
        return Err("its JPEG header has no size".into());
    };
    let pixels = w as u64 * height as u64;
    if pixels == 0 || pixels > max_pixels {
        return Err(format!("its JPEG data is {w} × {height} pixels, over the limit of {max_pixels}"));
    }
    let grey = h.get(tj::TJPARAM_TJPARAM_COLORSPACE) == tj::TJCS_TJCS_GRAY as i32;
    let (format, channels) = if grey { (tj::TJPF_TJPF_GRAY, 1u32) } else { (tj::TJPF_TJPF_RGB, 3u32) };
    h.set(tj::TJPARAM_TJPARAM_STOPONWARNING, 0)?;
    h.set(tj::TJPARAM_TJPARAM_MAXPIXELS, i32::try_from(pixels).unwrap_or(i32::MAX))?;
    let pitch = i32::try_from(w as u64 * channels as u64).map_err(|_| "its rows are too long".to_string())?;
    let mut samples = vec![0i16; pixels as usize * channels as usize];
    // SAFETY: the handle is live; `samples` holds height rows of `pitch` samples, the size the
    // header gave, which libjpeg-turbo writes at most (no scaling is set); `jpeg` outlives it.
    let rc = unsafe {
        tj::tj3Decompress12(
            h.0,
            jpeg.as_ptr(),
            jpeg.len() as tj::size_t,
            samples.as_mut_ptr(),
            pitch,
            format as libc::c_int,
        )
    };
    // SAFETY: the handle is live. A warning makes the call answer -1 with every row decoded.
    if rc != 0 && unsafe { tj::tj3GetErrorCode(h.0) } != tj::TJERR_TJERR_WARNING as libc::c_int {
        return Err(h.error());
    }
    Ok(Decoded { width: w, height, channels, samples })
}

#[cfg(test)]
mod tests {
    #[test]
    fn garbage_and_eight_bit_jpegs_are_refused_not_read() {
        assert!(super::decode(b"not a jpeg at all", 1 << 20).is_err());
        assert!(super::decode(&[], 1 << 20).is_err());
        let eight =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/orient_1.jpg")).expect("fixture");
        assert_eq!(super::precision(&eight), Some(8));
        assert!(super::decode(&eight, 1 << 24).is_err_and(|e| e.contains("8-bit")));
    }
}
