//! Video (MP4, MOV, M4V, WebM) through FFmpeg's libraries: what the container says (duration,
//! codec, size, frame rate, rotation, capture time, camera, GPS), a poster frame (the first
//! frame that is not black, turned as the file says), a frame at a given time, and a playable
//! H.264 proxy for what the webview cannot play. Everything reads the stored file from disk,
//! a packet at a time: a 4 GB video is never held.
//!
//! FFmpeg's demuxers are large C code fed hostile files, so what they may do is narrowed:
//! only the demuxers of the containers we accept, only plain files (a QuickTime reference or a
//! playlist cannot make it open anything else), a bounded probe, and every loop here bounded
//! by a count of packets and frames.

use std::path::Path;
use std::sync::Once;

use ff::codec::packet::side_data::Type as SideDataType;
use ff::format::Pixel;
use ff::software::scaling::{Context as Scaler, Flags};
use ffmpeg_next as ff;
use serde::Serialize;

use crate::decode::{DecodeError, Limits, check_budget};
use crate::exif::ExifInfo;

/// The demuxers a video file may be opened with: ISO BMFF (MP4, MOV, M4V) and Matroska/WebM.
const DEMUXERS: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm";
/// A poster is looked for in the first seconds only: a clip that starts black for longer
/// gets its brightest early frame.
const POSTER_SEARCH_SECONDS: f64 = 5.0;
const POSTER_SEARCH_FRAMES: usize = 150;
/// Packets read before giving up on a first frame (a file of nothing but audio or junk).
const MAX_PACKETS_FOR_A_FRAME: usize = 4000;
/// The proxy fits in 1080p, whichever way up the video is.
const PROXY_LONG_EDGE: u32 = 1920;
const PROXY_SHORT_EDGE: u32 = 1080;

/// What the container says about a video, kept in `blobs.details_json` as `{"video": …}`.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct VideoInfo {
    /// Seconds (0 when the container does not say).
    pub duration_s: f64,
    /// FFmpeg's name of the video codec: `h264`, `hevc`, `vp9`, `av1`, `svq1`…
    pub codec: String,
    /// As displayed, after rotation.
    pub width: u32,
    pub height: u32,
    pub fps: Option<f64>,
    /// Clockwise degrees the stored frames are turned by for display (0, 90, 180, 270).
    pub rotation: u16,
    /// The audio codec, when there is an audio track.
    pub audio: Option<String>,
    /// Whether the app's webview plays the original as it is; if not, a proxy is made.
    pub playable: bool,
}

/// Where a video document plays from (see `Media::video_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFile {
    pub path: std::path::PathBuf,
    pub mime: &'static str,
    pub len: u64,
    /// The H.264 proxy rather than the original.
    pub proxy: bool,
}

/// A decoded picture, RGB8, as displayed.
pub struct Picture {
    pub rgb: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // Registration cannot fail on FFmpeg ≥ 4; what it logs about hostile files is ours to
        // report, not stderr's.
        let _ = ff::init();
        ff::log::set_level(ff::log::Level::Quiet);
    });
}

fn corrupt(why: impl Into<String>) -> DecodeError {
    DecodeError::Corrupt(why.into())
}

fn open(path: &Path) -> Result<ff::format::context::Input, DecodeError> {
    init();
    let mut options = ff::Dictionary::new();
    options.set("format_whitelist", DEMUXERS);
    options.set("protocol_whitelist", "file");
    options.set("probesize", "20000000");
    options.set("analyzeduration", "10000000");
    ff::format::input_with_dictionary(path, options)
        .map_err(|e| corrupt(format!("its container cannot be read ({e}): is it a complete copy?")))
}

/// The clockwise rotation a stream's display matrix asks for, to the nearest quarter turn.
fn rotation(stream: &ff::format::stream::Stream) -> u16 {
    for side in stream.side_data() {
        if side.kind() != SideDataType::DisplayMatrix {
            continue;
        }
        let data = side.data();
        if data.len() < 36 {
            return 0;
        }
        let at = |i: usize| i32::from_le_bytes([data[i * 4], data[i * 4 + 1], data[i * 4 + 2], data[i * 4 + 3]]) as f64;
        // The matrix maps stored to displayed pixels; its first row is (cos θ, -sin θ) scaled,
        // θ counter-clockwise (libavutil/display.h): the display turns by -θ, clockwise.
        let (a, b) = (at(0), at(1));
        if a == 0.0 && b == 0.0 {
            return 0;
        }
        let degrees = b.atan2(a).to_degrees();
        let quarter = ((degrees / 90.0).round() as i64).rem_euclid(4);
        return (quarter * 90) as u16;
    }
    0
}

fn rational(r: ff::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0).then(|| r.numerator() as f64 / r.denominator() as f64)
}

/// Whether WebKitGTK (GStreamer) plays this as it is: H.264 in 8-bit 4:2:0, VP8/VP9, AV1.
fn playable(codec: ff::codec::Id, pixel: Pixel) -> bool {
    use ff::codec::Id;
    matches!(codec, Id::H264 | Id::VP8 | Id::VP9 | Id::AV1) && matches!(pixel, Pixel::YUV420P | Pixel::YUVJ420P)
}

/// Camera, capture time and GPS from the container's tags (QuickTime's Apple keys first:
/// they carry the time zone).
fn tags(input: &ff::format::context::Input) -> ExifInfo {
    let meta = input.metadata();
    let get = |keys: &[&str]| keys.iter().find_map(|k| meta.get(k).map(str::trim).filter(|v| !v.is_empty()));
    let captured_at = get(&["com.apple.quicktime.creationdate", "creation_time", "date"]).and_then(parse_time);
    ExifInfo {
        captured_at,
        make: get(&["com.apple.quicktime.make", "make"]).map(str::to_string),
        model: get(&["com.apple.quicktime.model", "model"]).map(str::to_string),
        software: get(&["com.apple.quicktime.software"]).map(str::to_string),
        has_gps: get(&["com.apple.quicktime.location.ISO6709", "location", "location-eng"]).is_some(),
        ..ExifInfo::default()
    }
}

/// A container time as UTC RFC 3339; muxers that write no date write 1904 or 1970.
fn parse_time(text: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDateTime, Utc};
    let parsed = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc()))?;
    (parsed.format("%Y").to_string().parse::<i32>().ok()? >= 1990)
        .then(|| parsed.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Turns an RGB8 picture clockwise by `rotation` degrees.
fn rotate(rgb: Vec<u8>, width: u32, height: u32, rotation: u16) -> Picture {
    let Some(image) = image::RgbImage::from_raw(width, height, rgb) else {
        return Picture { rgb: Vec::new(), width: 0, height: 0 };
    };
    let turned = match rotation {
        90 => image::imageops::rotate90(&image),
        180 => image::imageops::rotate180(&image),
        270 => image::imageops::rotate270(&image),
        _ => image,
    };
    let (width, height) = turned.dimensions();
    Picture { rgb: turned.into_raw(), width, height }
}

/// One video stream opened for decoding.
struct Track {
    input: ff::format::context::Input,
    input_path: std::path::PathBuf,
    index: usize,
    time_base: ff::Rational,
    decoder: ff::decoder::Video,
    rotation: u16,
    codec: ff::codec::Id,
}

fn track(path: &Path, limits: &Limits) -> Result<Track, DecodeError> {
    let input = open(path)?;
    let stream = input.streams().best(ff::media::Type::Video).ok_or_else(|| corrupt("it has no video track"))?;
    let index = stream.index();
    let time_base = stream.time_base();
    let codec = stream.parameters().id();
    let rotation = rotation(&stream);
    if ff::decoder::find(codec).is_none() {
        return Err(DecodeError::Corrupt(format!(
            "its video is coded as {}, which this workstation cannot decode",
            codec.name()
        )));
    }
    let context = ff::codec::context::Context::from_parameters(stream.parameters())
        .map_err(|e| corrupt(format!("its video track cannot be read ({e})")))?;
    let decoder = context.decoder().video().map_err(|e| corrupt(format!("its video cannot be decoded ({e})")))?;
    if decoder.width() == 0 || decoder.height() == 0 {
        return Err(corrupt("its video track has no picture size"));
    }
    check_budget(decoder.width() as u64, decoder.height() as u64, 3, limits)?;
    Ok(Track { input, input_path: path.to_path_buf(), index, time_base, decoder, rotation, codec })
}

/// Converts decoded frames to RGB8 at a fixed size, whatever each frame's own format.
struct ToRgb {
    scaler: Option<(Scaler, Pixel, u32, u32)>,
    long_edge: u32,
    /// A fixed output size instead of a longest edge.
    exact: Option<(u32, u32)>,
}

impl ToRgb {
    fn new(long_edge: u32) -> Self {
        ToRgb { scaler: None, long_edge, exact: None }
    }

    fn exact(width: u32, height: u32) -> Self {
        ToRgb { scaler: None, long_edge: width.max(height), exact: Some((width, height)) }
    }

    fn convert(&mut self, frame: &ff::frame::Video) -> Result<(Vec<u8>, u32, u32), DecodeError> {
        let (w, h, format) = (frame.width(), frame.height(), frame.format());
        if w == 0 || h == 0 || format == Pixel::None {
            return Err(corrupt("a frame of its video has no picture"));
        }
        let (dw, dh) = self.exact.unwrap_or_else(|| crate::thumbs::fit(w, h, self.long_edge));
        let stale = !matches!(&self.scaler, Some((_, f, sw, sh)) if *f == format && *sw == w && *sh == h);
        if stale {
            let scaler = Scaler::get(format, w, h, Pixel::RGB24, dw, dh, Flags::BILINEAR)
                .map_err(|e| corrupt(format!("its pictures cannot be converted ({e})")))?;
            self.scaler = Some((scaler, format, w, h));
        }
        let Some((scaler, ..)) = self.scaler.as_mut() else {
            return Err(corrupt("its pictures cannot be converted"));
        };
        let mut out = ff::frame::Video::empty();
        scaler.run(frame, &mut out).map_err(|e| corrupt(format!("a frame cannot be converted ({e})")))?;
        let (ow, oh) = (out.width(), out.height());
        let stride = out.stride(0);
        let data = out.data(0);
        let row = ow as usize * 3;
        let mut rgb = Vec::with_capacity(row * oh as usize);
        for y in 0..oh as usize {
            let start = y * stride;
            rgb.extend_from_slice(data.get(start..start + row).ok_or_else(|| corrupt("a converted frame is short"))?);
        }
        Ok((rgb, ow, oh))
    }
}

/// Mean and spread of a picture's brightness, from a sample of its pixels.
fn brightness(rgb: &[u8]) -> (f64, f64) {
    let step = (rgb.len() / 3 / 4096).max(1) * 3;
    let (mut sum, mut sq, mut n) = (0.0, 0.0, 0.0);
    for px in rgb.chunks_exact(3).step_by(step / 3) {
        let y = 0.299 * px[0] as f64 + 0.587 * px[1] as f64 + 0.114 * px[2] as f64;
        sum += y;
        sq += y * y;
        n += 1.0;
    }
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let mean = sum / n;
    (mean, (sq / n - mean * mean).max(0.0).sqrt())
}

fn is_black(rgb: &[u8]) -> bool {
    let (mean, spread) = brightness(rgb);
    mean < 20.0 || spread < 4.0
}

/// Reads packets of the track and feeds the decoder, calling `each` with every frame until it
/// says stop. Ends at the end of the file (draining the decoder) or after `max_packets`
/// packets. A read error other than the end is an error: the file is damaged there.
fn decode_frames(
    track: &mut Track,
    max_packets: usize,
    each: &mut dyn FnMut(&ff::frame::Video) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    let mut frame = ff::frame::Video::empty();
    let mut fed = 0usize;
    loop {
        if fed >= max_packets {
            return Ok(());
        }
        let packet = match read_packet(&mut track.input) {
            Ok(packet) => packet,
            Err(ff::Error::Eof) => break,
            Err(e) => return Err(corrupt(format!("it is damaged or cut off partway ({e})"))),
        };
        fed += 1;
        if packet.stream() != track.index {
            continue;
        }
        // A damaged packet is skipped as players do; a file with no good packet at all ends
        // with no frame, which the caller refuses.
        if track.decoder.send_packet(&packet).is_err() {
            continue;
        }
        while track.decoder.receive_frame(&mut frame).is_ok() {
            if !each(&frame)? {
                return Ok(());
            }
        }
    }
    let _ = track.decoder.send_eof();
    while track.decoder.receive_frame(&mut frame).is_ok() {
        if !each(&frame)? {
            break;
        }
    }
    Ok(())
}

fn seconds(time_base: Option<f64>, frame: &ff::frame::Video) -> f64 {
    time_base.map_or(0.0, |tb| frame.timestamp().unwrap_or(0) as f64 * tb)
}

/// The next packet of `input`, in a packet of its own. `av_read_frame` does not release what a
/// packet it is handed still holds, nor does ffmpeg-next's `Packet::read`: one packet reused
/// across reads leaked every earlier packet's buffers (LeakSanitizer, under the video fuzz
/// target). Dropping each packet unreferences it.
fn read_packet(input: &mut ff::format::context::Input) -> Result<ff::Packet, ff::Error> {
    let mut packet = ff::Packet::empty();
    packet.read(input).map(|()| packet)
}

/// Reads a video's facts, proves a frame decodes, checks that its last packets are there, and
/// returns its poster at most `long_edge` pixels long.
pub fn inspect(path: &Path, limits: &Limits, long_edge: u32) -> Result<(VideoInfo, ExifInfo, Picture), DecodeError> {
    let mut track = track(path, limits)?;
    let stream = track.input.stream(track.index).ok_or_else(|| corrupt("its video track vanished"))?;
    let fps = rational(stream.avg_frame_rate()).or_else(|| rational(stream.rate())).filter(|f| *f < 1000.0);
    let stream_seconds = rational(stream.time_base()).map(|tb| stream.duration().max(0) as f64 * tb);
    let audio = track.input.streams().best(ff::media::Type::Audio).map(|a| a.parameters().id().name().to_string());
    let container_seconds = track.input.duration().max(0) as f64 / f64::from(ff::ffi::AV_TIME_BASE);
    let duration_s = if container_seconds > 0.0 { container_seconds } else { stream_seconds.unwrap_or(0.0) };
    let exif = tags(&track.input);
    let (stored_w, stored_h) = (track.decoder.width(), track.decoder.height());
    let rotation = track.rotation;

    let mut best: Option<(f64, Vec<u8>, u32, u32)> = None;
    let mut first_format = Pixel::None;
    let mut seen = 0usize;
    let mut to_rgb = ToRgb::new(long_edge);
    let time_base = rational(track.time_base);
    let mut look = |frame: &ff::frame::Video| -> Result<bool, DecodeError> {
        if seen == 0 {
            first_format = frame.format();
        }
        seen += 1;
        let at = seconds(time_base, frame);
        let (rgb, w, h) = to_rgb.convert(frame)?;
        let (mean, _) = brightness(&rgb);
        let found = !is_black(&rgb);
        if found || best.as_ref().is_none_or(|(m, ..)| mean > *m) {
            best = Some((mean, rgb, w, h));
        }
        Ok(!(found || seen >= POSTER_SEARCH_FRAMES || at > POSTER_SEARCH_SECONDS))
    };
    decode_frames(&mut track, MAX_PACKETS_FOR_A_FRAME, &mut look)?;
    let Some((_, rgb, w, h)) = best else {
        return Err(corrupt("no frame of its video could be decoded"));
    };
    check_tail(&mut track, duration_s)?;
    let poster = rotate(rgb, w, h, rotation);
    let (width, height) = if rotation % 180 == 90 { (stored_h, stored_w) } else { (stored_w, stored_h) };
    let info = VideoInfo {
        duration_s: (duration_s * 1000.0).round() / 1000.0,
        codec: track.codec.name().to_string(),
        width,
        height,
        fps: fps.map(|f| (f * 1000.0).round() / 1000.0),
        rotation,
        audio,
        playable: playable(track.codec, first_format),
    };
    Ok((info, exif, poster))
}

/// Reads the last seconds of the file's packets: a copy cut off partway (a recording stopped
/// by a full card, an interrupted transfer) fails there, though its start plays.
fn check_tail(track: &mut Track, duration_s: f64) -> Result<(), DecodeError> {
    let total = f64::from(ff::ffi::AV_TIME_BASE);
    let from = ((duration_s - 3.0).max(0.0) * total) as i64;
    if from > 0 {
        // A file that cannot seek is read on from where the poster search stopped.
        let _ = track.input.seek(from, ..from);
    }
    let file_len = std::fs::metadata(track.input_path.as_path()).map(|m| m.len()).unwrap_or(u64::MAX);
    // Where the packets read end, in seconds: a cut-off copy's index (written first by a
    // "fast start" muxer) still promises the missing packets, but reading them ends early.
    let mut reached = 0.0f64;
    // Bounded: 3 s of packets is a few hundred; the cap only stops a file that never ends.
    for _ in 0..200_000 {
        let packet = match read_packet(&mut track.input) {
            Ok(packet) => packet,
            Err(ff::Error::Eof) => {
                // Muxers end the last packet within a frame or two of the promised duration;
                // half a second short is a copy cut off.
                if duration_s > 0.0 && reached + 0.5 < duration_s {
                    return Err(corrupt(format!(
                        "it ends at {reached:.1} s of the {duration_s:.1} s its index promises: the copy is cut off"
                    )));
                }
                return Ok(());
            }
            Err(e) => return Err(corrupt(format!("it is cut off or damaged near its end ({e})"))),
        };
        if packet.position() >= 0 && packet.position() as u64 + packet.size() as u64 > file_len {
            return Err(corrupt("its last packets lie beyond the end of the file: the copy is cut off"));
        }
        let base = track.input.stream(packet.stream()).and_then(|s| rational(s.time_base()));
        if let (Some(tb), Some(ts)) = (base, packet.pts().or(packet.dts())) {
            reached = reached.max((ts + packet.duration().max(0)) as f64 * tb);
        }
    }
    Err(corrupt("it has more packets than a video of its length can have"))
}

/// The frame shown at `at_s` seconds (the first frame at or after it), full size, turned as
/// displayed: what "save this frame as a photo" keeps.
pub fn frame_at(path: &Path, at_s: f64, limits: &Limits) -> Result<Picture, DecodeError> {
    let mut track = track(path, limits)?;
    let time_base = rational(track.time_base);
    let total = f64::from(ff::ffi::AV_TIME_BASE);
    let target = (at_s.max(0.0) * total) as i64;
    if target > 0 {
        // Seeks to the key frame at or before the time, then decodes up to it.
        track.input.seek(target, ..target).map_err(|e| corrupt(format!("it cannot be sought to {at_s:.2} s ({e})")))?;
        track.decoder.flush();
    }
    let long_edge = track.decoder.width().max(track.decoder.height());
    let mut to_rgb = ToRgb::new(long_edge);
    let mut last: Option<(Vec<u8>, u32, u32)> = None;
    let mut take = |frame: &ff::frame::Video| -> Result<bool, DecodeError> {
        let reached = seconds(time_base, frame) + 1e-3 >= at_s;
        if reached || last.is_none() {
            last = Some(to_rgb.convert(frame)?);
        }
        Ok(!reached)
    };
    // Key frames come at least every few seconds in what cameras write; a file whose next key
    // frame is further than this many packets away gives its last decoded frame.
    decode_frames(&mut track, 20_000, &mut take)?;
    let (rgb, w, h) = last.ok_or_else(|| corrupt(format!("no frame could be decoded at {at_s:.2} s")))?;
    Ok(rotate(rgb, w, h, track.rotation))
}

/// Writes a playable copy of a video: H.264 (libx264) in MP4, at most 1080p, turned upright
/// (no rotation left for a player to get wrong), its AAC audio copied as it is. Written to
/// `dst` through a temporary name; the original is only read.
pub fn make_proxy(src: &Path, dst: &Path, limits: &Limits) -> Result<(), DecodeError> {
    let tmp = dst.with_extension("mp4.tmp");
    let result = write_proxy(src, &tmp, limits).and_then(|()| {
        // FFmpeg creates the file with the umask's mode: it is patient data, this account's only.
        chairside_store::private::set_mode(&tmp, 0o600)
            .map_err(|e| corrupt(format!("the proxy's permissions cannot be set ({e})")))?;
        std::fs::rename(&tmp, dst).map_err(|e| corrupt(format!("the proxy cannot be put in place ({e})")))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_proxy(src: &Path, tmp: &Path, limits: &Limits) -> Result<(), DecodeError> {
    let fail = |what: &str, e: ff::Error| corrupt(format!("{what} ({e})"));
    let mut track = track(src, limits)?;
    let (stored_w, stored_h) = (track.decoder.width(), track.decoder.height());
    let turned = track.rotation % 180 == 90;
    let (shown_w, shown_h) = if turned { (stored_h, stored_w) } else { (stored_w, stored_h) };
    let (box_w, box_h) =
        if shown_w >= shown_h { (PROXY_LONG_EDGE, PROXY_SHORT_EDGE) } else { (PROXY_SHORT_EDGE, PROXY_LONG_EDGE) };
    // Never enlarged: a small clip stays its size.
    let (fit_w, fit_h) = if shown_w <= box_w && shown_h <= box_h {
        (shown_w, shown_h)
    } else {
        crate::thumbs::fit_within(shown_w, shown_h, box_w, box_h)
    };
    // 4:2:0 needs even sides.
    let (out_w, out_h) = ((fit_w & !1).max(2), (fit_h & !1).max(2));
    let (scaled_w, scaled_h) = if turned { (out_h, out_w) } else { (out_w, out_h) };
    let in_tb = track.time_base;
    let stream = track.input.stream(track.index).ok_or_else(|| corrupt("its video track vanished"))?;
    let frame_rate = Some(stream.avg_frame_rate()).filter(|r| rational(*r).is_some());
    let audio = track
        .input
        .streams()
        .best(ff::media::Type::Audio)
        .filter(|a| a.parameters().id() == ff::codec::Id::AAC)
        .map(|a| (a.index(), a.time_base(), a.parameters()));

    let codec = ff::encoder::find(ff::codec::Id::H264)
        .ok_or_else(|| corrupt("no H.264 encoder is installed (Debian: libavcodec59 with libx264)"))?;
    let mut out = ff::format::output_as(tmp, "mp4").map_err(|e| fail("the proxy cannot be created", e))?;
    let global_header = out.format().flags().contains(ff::format::Flags::GLOBAL_HEADER);
    let mut encoder = ff::codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(|e| fail("the H.264 encoder cannot be set up", e))?;
    encoder.set_width(out_w);
    encoder.set_height(out_h);
    encoder.set_format(Pixel::YUV420P);
    encoder.set_time_base(in_tb);
    encoder.set_frame_rate(frame_rate);
    if global_header {
        encoder.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    }
    let mut options = ff::Dictionary::new();
    options.set("preset", "veryfast");
    options.set("crf", "23");
    let mut encoder = encoder.open_with(options).map_err(|e| fail("the H.264 encoder cannot be opened", e))?;
    let video_out = {
        let mut stream = out.add_stream(codec).map_err(|e| fail("the proxy's video track", e))?;
        stream.set_parameters(&encoder);
        stream.index()
    };
    let audio_out = match &audio {
        Some((_, _, parameters)) => {
            let mut stream = out
                .add_stream(ff::encoder::find(ff::codec::Id::None))
                .map_err(|e| fail("the proxy's audio track", e))?;
            stream.set_parameters(parameters.clone());
            Some(stream.index())
        }
        None => None,
    };
    let mut header = ff::Dictionary::new();
    header.set("movflags", "+faststart");
    out.write_header_with(header).map_err(|e| fail("the proxy cannot be written", e))?;
    let video_tb = out.stream(video_out).map(|s| s.time_base()).unwrap_or(in_tb);
    let audio_tb = audio_out.and_then(|i| out.stream(i)).map(|s| s.time_base());

    let mut to_yuv: Option<(Scaler, Pixel, u32, u32)> = None;
    let mut from_rgb = if turned || track.rotation == 180 {
        Some(
            Scaler::get(Pixel::RGB24, out_w, out_h, Pixel::YUV420P, out_w, out_h, Flags::BILINEAR)
                .map_err(|e| fail("the proxy's colour conversion", e))?,
        )
    } else {
        None
    };
    let mut to_rgb = ToRgb::exact(scaled_w, scaled_h);
    let rotation = track.rotation;
    let mut next_pts = 0i64;
    let mut encoded = ff::Packet::empty();
    let mut drain =
        |encoder: &mut ff::encoder::Video, out: &mut ff::format::context::Output| -> Result<(), DecodeError> {
            while encoder.receive_packet(&mut encoded).is_ok() {
                encoded.set_stream(video_out);
                encoded.rescale_ts(in_tb, video_tb);
                encoded.write_interleaved(out).map_err(|e| fail("the proxy cannot be written", e))?;
            }
            Ok(())
        };
    let mut frame = ff::frame::Video::empty();
    let mut frames = 0usize;
    let mut eof = false;
    // Four hours at 60 frames a second: a file promising more is not a clinical video.
    const MAX_FRAMES: usize = 4 * 3600 * 60;
    while !eof {
        let mut packet = match read_packet(&mut track.input) {
            Ok(packet) => packet,
            Err(ff::Error::Eof) => {
                eof = true;
                ff::Packet::empty()
            }
            Err(e) => return Err(fail("the video is damaged partway", e)),
        };
        if !eof && Some(packet.stream()) == audio.as_ref().map(|a| a.0) {
            if let (Some(index), Some(tb), Some((_, in_audio_tb, _))) = (audio_out, audio_tb, &audio) {
                packet.set_stream(index);
                packet.rescale_ts(*in_audio_tb, tb);
                packet.set_position(-1);
                packet.write_interleaved(&mut out).map_err(|e| fail("the proxy's audio cannot be written", e))?;
            }
            continue;
        }
        if !eof && packet.stream() != track.index {
            continue;
        }
        let sent = if eof { track.decoder.send_eof() } else { track.decoder.send_packet(&packet) };
        if sent.is_err() && !eof {
            continue;
        }
        while track.decoder.receive_frame(&mut frame).is_ok() {
            frames += 1;
            if frames > MAX_FRAMES {
                return Err(corrupt("it has more frames than a clinical video can have"));
            }
            let mut yuv = ff::frame::Video::empty();
            if let Some(back) = from_rgb.as_mut() {
                let (rgb, w, h) = to_rgb.convert(&frame)?;
                let upright = rotate(rgb, w, h, rotation);
                let mut rgb_frame = ff::frame::Video::new(Pixel::RGB24, upright.width, upright.height);
                let stride = rgb_frame.stride(0);
                let row = upright.width as usize * 3;
                let data = rgb_frame.data_mut(0);
                for (y, line) in upright.rgb.chunks_exact(row).enumerate() {
                    if let Some(dst) = data.get_mut(y * stride..y * stride + row) {
                        dst.copy_from_slice(line);
                    }
                }
                back.run(&rgb_frame, &mut yuv).map_err(|e| fail("a frame cannot be converted", e))?;
            } else {
                let (w, h, format) = (frame.width(), frame.height(), frame.format());
                let stale = !matches!(&to_yuv, Some((_, f, sw, sh)) if *f == format && *sw == w && *sh == h);
                if stale {
                    let scaler = Scaler::get(format, w, h, Pixel::YUV420P, out_w, out_h, Flags::BILINEAR)
                        .map_err(|e| fail("the proxy's colour conversion", e))?;
                    to_yuv = Some((scaler, format, w, h));
                }
                if let Some((scaler, ..)) = to_yuv.as_mut() {
                    scaler.run(&frame, &mut yuv).map_err(|e| fail("a frame cannot be converted", e))?;
                }
            }
            // Timestamps as decoded, kept increasing for the muxer.
            let pts = frame.timestamp().filter(|&t| t >= next_pts).unwrap_or(next_pts);
            next_pts = pts + 1;
            yuv.set_pts(Some(pts));
            encoder.send_frame(&yuv).map_err(|e| fail("a frame cannot be encoded", e))?;
            drain(&mut encoder, &mut out)?;
        }
    }
    if frames == 0 {
        return Err(corrupt("no frame of its video could be decoded"));
    }
    encoder.send_eof().map_err(|e| fail("the encoder cannot be finished", e))?;
    drain(&mut encoder, &mut out)?;
    out.write_trailer().map_err(|e| fail("the proxy cannot be finished", e))?;
    Ok(())
}
