//! Non-destructive adjustments: one edit record per document (`documents.adjustments`, JSON),
//! applied whenever the document is shown, rendered or thumbnailed, never to the original.
//! Geometry (straighten, crop, quarter turns, flip) is one affine map from the original as
//! displayed (after EXIF orientation) to the adjusted image, so annotations drawn in the
//! original's coordinates follow it; tone (window/level, brightness, contrast, gamma, invert)
//! is a function of the image's own values, so a 16-bit X-ray is windowed from its full depth.

use std::collections::BTreeMap;

use chairside_store::Actor;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::MediaError;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flip {
    #[default]
    None,
    H,
    V,
}

impl std::str::FromStr for Flip {
    type Err = MediaError;
    fn from_str(s: &str) -> Result<Flip, MediaError> {
        match s {
            "none" => Ok(Flip::None),
            "h" => Ok(Flip::H),
            "v" => Ok(Flip::V),
            other => Err(MediaError::InvalidEdit(format!("flip {other:?}: use none, h or v"))),
        }
    }
}

/// A document's adjustments. Every field at its default is the original as it is.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Adjustments {
    /// Quarter turns clockwise: 0, 90, 180 or 270.
    pub rotate: u16,
    pub flip: Flip,
    /// Free rotation (degrees, clockwise, −45 to 45) about the centre, before the crop.
    pub straighten: f64,
    /// x, y, width, height in the straightened original's pixels.
    pub crop: Option<[u32; 4]>,
    /// Centre and width in the image's own values (a DICOM's modality units, 0–65535 for a
    /// 16-bit image, 0–255 for a photo). `None`: the file's own window, else its full range.
    pub window: Option<[f64; 2]>,
    /// −100 to 100.
    pub brightness: i32,
    /// −100 to 100.
    pub contrast: i32,
    /// 0.1 to 10; 1 leaves the mid-tones.
    pub gamma: f64,
    pub invert: bool,
    /// 0 (none) to 10.
    pub sharpen: u32,
    /// The preset these came from, for people (its values are copied in).
    pub preset: Option<String>,
}

impl Default for Adjustments {
    fn default() -> Self {
        Adjustments {
            rotate: 0,
            flip: Flip::None,
            straighten: 0.0,
            crop: None,
            window: None,
            brightness: 0,
            contrast: 0,
            gamma: 1.0,
            invert: false,
            sharpen: 0,
            preset: None,
        }
    }
}

impl Adjustments {
    pub fn is_identity(&self) -> bool {
        Adjustments { preset: None, ..self.clone() } == Adjustments::default()
    }

    /// Checks every value against its range and the crop against the image (`w`×`h` as
    /// displayed).
    pub fn validate(&self, w: u32, h: u32) -> Result<(), MediaError> {
        let bad = |m: String| Err(MediaError::InvalidEdit(m));
        if ![0, 90, 180, 270].contains(&self.rotate) {
            return bad(format!("rotate {}: use 0, 90, 180 or 270", self.rotate));
        }
        if !self.straighten.is_finite() || self.straighten.abs() > 45.0 {
            return bad(format!("straighten {}: use an angle from -45 to 45 degrees", self.straighten));
        }
        if let Some([x, y, cw, ch]) = self.crop {
            let inside = cw > 0 && ch > 0 && x as u64 + cw as u64 <= w as u64 && y as u64 + ch as u64 <= h as u64;
            if !inside {
                return bad(format!(
                    "crop {x},{y},{cw},{ch} is not inside the {w} × {h} image: give X,Y,WIDTH,HEIGHT within it"
                ));
            }
        }
        if let Some([c, width]) = self.window
            && (!c.is_finite() || !width.is_finite() || width <= 0.0)
        {
            return bad(format!("window {c},{width}: give CENTER,WIDTH with a width above 0"));
        }
        if !(-100..=100).contains(&self.brightness) {
            return bad(format!("brightness {}: use -100 to 100", self.brightness));
        }
        if !(-100..=100).contains(&self.contrast) {
            return bad(format!("contrast {}: use -100 to 100", self.contrast));
        }
        if !self.gamma.is_finite() || !(0.1..=10.0).contains(&self.gamma) {
            return bad(format!("gamma {}: use 0.1 to 10", self.gamma));
        }
        if self.sharpen > 10 {
            return bad(format!("sharpen {}: use 0 to 10", self.sharpen));
        }
        Ok(())
    }

    /// The size of the adjusted image for an original of `w`×`h` as displayed.
    pub fn output_size(&self, w: u32, h: u32) -> (u32, u32) {
        let (cw, ch) = self.crop.map_or((w, h), |[_, _, cw, ch]| (cw, ch));
        if self.rotate % 180 == 90 { (ch, cw) } else { (cw, ch) }
    }

    /// Maps the original's displayed coordinates to the adjusted image's.
    pub fn geometry(&self, w: u32, h: u32) -> Affine {
        let (w, h) = (w as f64, h as f64);
        let mut m = Affine::IDENTITY;
        if self.straighten != 0.0 {
            let (cx, cy) = (w / 2.0, h / 2.0);
            m = Affine::translate(-cx, -cy)
                .then(Affine::rotate(self.straighten.to_radians()))
                .then(Affine::translate(cx, cy));
        }
        let (mut cw, mut ch) = (w, h);
        if let Some([x, y, c_w, c_h]) = self.crop {
            m = m.then(Affine::translate(-(x as f64), -(y as f64)));
            (cw, ch) = (c_w as f64, c_h as f64);
        }
        m = m.then(Affine::quarter_turns(self.rotate / 90, cw, ch));
        if self.rotate % 180 == 90 {
            (cw, ch) = (ch, cw);
        }
        match self.flip {
            Flip::None => m,
            Flip::H => m.then(Affine { a: -1.0, b: 0.0, c: cw, d: 0.0, e: 1.0, f: 0.0 }),
            Flip::V => m.then(Affine { a: 1.0, b: 0.0, c: 0.0, d: 0.0, e: -1.0, f: ch }),
        }
    }

    /// Tone: a value of the image (in `range`, the default window's low and high ends) to 0–1.
    pub fn tone(&self, default_window: [f64; 2], base_invert: bool) -> Tone {
        let [c, w] = self.window.unwrap_or(default_window);
        let contrast =
            if self.contrast >= 0 { 1.0 + self.contrast as f64 / 50.0 } else { 1.0 + self.contrast as f64 / 100.0 };
        Tone {
            low: c - w / 2.0,
            width: w.max(f64::MIN_POSITIVE),
            contrast,
            brightness: self.brightness as f64 / 200.0,
            inv_gamma: 1.0 / self.gamma,
            invert: self.invert != base_invert,
        }
    }
}

/// The tone curve of [`Adjustments::tone`].
#[derive(Debug, Clone, Copy)]
pub struct Tone {
    low: f64,
    width: f64,
    contrast: f64,
    brightness: f64,
    inv_gamma: f64,
    invert: bool,
}

impl Tone {
    pub fn apply(&self, v: f64) -> u8 {
        let t = ((v - self.low) / self.width).clamp(0.0, 1.0);
        let t = ((t - 0.5) * self.contrast + 0.5 + self.brightness).clamp(0.0, 1.0);
        let t = if self.inv_gamma == 1.0 { t } else { t.powf(self.inv_gamma) };
        let t = if self.invert { 1.0 - t } else { t };
        (t * 255.0).round() as u8
    }

    /// The curve over 0–255, for 8-bit channels.
    pub fn lut8(&self) -> [u8; 256] {
        let mut lut = [0u8; 256];
        for (i, v) in lut.iter_mut().enumerate() {
            *v = self.apply(i as f64);
        }
        lut
    }
}

/// A 2-D affine map: (x, y) → (a·x + b·y + c, d·x + e·y + f).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
    pub e: f64,
    pub f: f64,
}

impl Affine {
    pub const IDENTITY: Affine = Affine { a: 1.0, b: 0.0, c: 0.0, d: 0.0, e: 1.0, f: 0.0 };

    pub fn translate(x: f64, y: f64) -> Affine {
        Affine { c: x, f: y, ..Affine::IDENTITY }
    }

    pub fn scale(sx: f64, sy: f64) -> Affine {
        Affine { a: sx, e: sy, ..Affine::IDENTITY }
    }

    /// Clockwise on screen (y grows downwards).
    pub fn rotate(rad: f64) -> Affine {
        let (s, c) = rad.sin_cos();
        Affine { a: c, b: -s, c: 0.0, d: s, e: c, f: 0.0 }
    }

    /// `k` quarter turns clockwise of a `w`×`h` canvas, onto the turned canvas.
    pub fn quarter_turns(k: u16, w: f64, h: f64) -> Affine {
        match k % 4 {
            1 => Affine { a: 0.0, b: -1.0, c: h, d: 1.0, e: 0.0, f: 0.0 },
            2 => Affine { a: -1.0, b: 0.0, c: w, d: 0.0, e: -1.0, f: h },
            3 => Affine { a: 0.0, b: 1.0, c: 0.0, d: -1.0, e: 0.0, f: w },
            _ => Affine::IDENTITY,
        }
    }

    /// The map from a stored image's pixels to its display under EXIF orientation `o`
    /// (`w`×`h` stored).
    pub fn exif(o: u16, w: f64, h: f64) -> Affine {
        let flip_h = |width: f64| Affine { a: -1.0, b: 0.0, c: width, d: 0.0, e: 1.0, f: 0.0 };
        match o {
            2 => flip_h(w),
            3 => Affine::quarter_turns(2, w, h),
            4 => Affine { a: 1.0, b: 0.0, c: 0.0, d: 0.0, e: -1.0, f: h },
            5 => Affine::quarter_turns(1, w, h).then(flip_h(h)),
            6 => Affine::quarter_turns(1, w, h),
            7 => Affine::quarter_turns(3, w, h).then(flip_h(h)),
            8 => Affine::quarter_turns(3, w, h),
            _ => Affine::IDENTITY,
        }
    }

    /// `self`, then `next`.
    pub fn then(self, n: Affine) -> Affine {
        Affine {
            a: n.a * self.a + n.b * self.d,
            b: n.a * self.b + n.b * self.e,
            c: n.a * self.c + n.b * self.f + n.c,
            d: n.d * self.a + n.e * self.d,
            e: n.d * self.b + n.e * self.e,
            f: n.d * self.c + n.e * self.f + n.f,
        }
    }

    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        (self.a * x + self.b * y + self.c, self.d * x + self.e * y + self.f)
    }

    pub fn invert(&self) -> Option<Affine> {
        let det = self.a * self.e - self.b * self.d;
        if det.abs() < 1e-12 {
            return None;
        }
        let (a, b, d, e) = (self.e / det, -self.b / det, -self.d / det, self.a / det);
        Some(Affine { a, b, c: -(a * self.c + b * self.f), d, e, f: -(d * self.c + e * self.f) })
    }

    /// How much lengths grow (the geometric mean of the axes' scales).
    pub fn scale_factor(&self) -> f64 {
        (self.a * self.e - self.b * self.d).abs().sqrt()
    }
}

/// A change asked for: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AdjustChange {
    pub reset: bool,
    pub preset: Option<String>,
    pub rotate: Option<u16>,
    pub flip: Option<Flip>,
    pub straighten: Option<f64>,
    /// `Some(None)` removes the crop.
    pub crop: Option<Option<[u32; 4]>>,
    pub window: Option<Option<[f64; 2]>>,
    pub brightness: Option<i32>,
    pub contrast: Option<i32>,
    pub gamma: Option<f64>,
    pub invert: Option<bool>,
    pub sharpen: Option<u32>,
}

/// A named set of tone adjustments.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    pub name: String,
    pub brightness: i32,
    pub contrast: i32,
    pub gamma: f64,
    pub invert: bool,
    pub sharpen: u32,
    /// Built in, or the clinic's own.
    pub built_in: bool,
}

/// The presets every library has (dental radiography's usual reading aids).
pub fn built_in_presets() -> Vec<Preset> {
    let p = |name: &str, brightness, contrast, gamma, invert, sharpen| Preset {
        name: name.to_string(),
        brightness,
        contrast,
        gamma,
        invert,
        sharpen,
        built_in: true,
    };
    vec![
        p("caries", 0, 35, 0.9, false, 3),
        p("endo", -5, 50, 1.0, false, 4),
        p("perio", 5, 20, 1.3, false, 2),
        p("soft-tissue", 10, -15, 1.6, false, 0),
        p("inverted", 0, 0, 1.0, true, 0),
    ]
}

const PRESETS_KEY: &str = "media.adjust_presets";

/// The built-in presets and the clinic's own (kept in `settings`).
pub fn presets(conn: &Connection) -> Result<Vec<Preset>, MediaError> {
    let mut all = built_in_presets();
    let own: Option<String> = chairside_store::get_setting(conn, PRESETS_KEY)?;
    if let Some(own) = own {
        let own: BTreeMap<String, Preset> = serde_json::from_str(&own).unwrap_or_default();
        all.extend(own.into_values().map(|p| Preset { built_in: false, ..p }));
    }
    Ok(all)
}

/// Saves a clinic preset (a built-in name cannot be taken).
pub fn save_preset(tx: &Connection, actor: &Actor, preset: &Preset) -> Result<(), MediaError> {
    let name = preset.name.trim();
    if name.is_empty() || name.len() > 40 {
        return Err(MediaError::InvalidEdit("a preset needs a name of 1 to 40 characters".into()));
    }
    if built_in_presets().iter().any(|p| p.name == name) {
        return Err(MediaError::InvalidEdit(format!("{name:?} is a built-in preset: choose another name")));
    }
    let probe = Adjustments {
        brightness: preset.brightness,
        contrast: preset.contrast,
        gamma: preset.gamma,
        sharpen: preset.sharpen,
        ..Adjustments::default()
    };
    probe.validate(1, 1)?;
    let mut own: BTreeMap<String, Preset> = chairside_store::get_setting(tx, PRESETS_KEY)?
        .and_then(|s: String| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    own.insert(name.to_string(), Preset { name: name.to_string(), built_in: false, ..preset.clone() });
    let value = serde_json::to_string(&own).map_err(|e| MediaError::InvalidEdit(e.to_string()))?;
    chairside_store::set_setting(tx, PRESETS_KEY, &value)?;
    chairside_audit::append(tx, actor, "preset_save", "setting", Some(PRESETS_KEY), json!({"name": name}))?;
    Ok(())
}

/// What `adjust` answers.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Adjusted {
    pub id: String,
    pub adjustments: Adjustments,
    pub version: i64,
}

/// A document's adjustments as stored (the default when it has none).
pub fn adjustments_of(conn: &Connection, id: &str) -> Result<Adjustments, MediaError> {
    let raw: Option<Option<String>> =
        conn.query_row("SELECT adjustments FROM documents WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let raw = raw.ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))?;
    Ok(parse(raw.as_deref()))
}

/// A stored record; one that does not parse (written by a newer version) shows the original.
pub(crate) fn parse(raw: Option<&str>) -> Adjustments {
    raw.and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default()
}

/// The document's width and height as displayed, or why it has no pixels to adjust.
pub(crate) fn displayed_size(conn: &Connection, id: &str) -> Result<(u32, u32), MediaError> {
    let row: Option<(Option<u32>, Option<u32>, u16, String)> = conn
        .query_row("SELECT width, height, orientation, mime FROM documents WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let (w, h, o, mime) = row.ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))?;
    match (w, h) {
        (Some(w), Some(h)) if w > 0 && h > 0 && mime != "application/pdf" => {
            Ok(if (5..=8).contains(&o) { (h, w) } else { (w, h) })
        }
        _ => Err(MediaError::NotAnImage { id: id.to_string(), mime }),
    }
}

/// Applies a change to a document's adjustments: one history row, the change log, the audit.
pub fn adjust(tx: &Connection, actor: &Actor, id: &str, change: &AdjustChange) -> Result<Adjusted, MediaError> {
    let (w, h) = displayed_size(tx, id)?;
    let (raw, version, status): (Option<String>, i64, String) =
        tx.query_row("SELECT adjustments, version, status FROM documents WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    if status == "archived" {
        return Err(MediaError::InvalidEdit(format!("document {id} is archived: restore it before editing")));
    }
    let before = parse(raw.as_deref());
    let mut next = if change.reset { Adjustments::default() } else { before.clone() };
    if let Some(name) = &change.preset {
        let preset = presets(tx)?
            .into_iter()
            .find(|p| &p.name == name)
            .ok_or_else(|| MediaError::UnknownPreset(name.clone()))?;
        next.brightness = preset.brightness;
        next.contrast = preset.contrast;
        next.gamma = preset.gamma;
        next.invert = preset.invert;
        next.sharpen = preset.sharpen;
        next.preset = Some(preset.name);
    }
    let tone_before = (next.brightness, next.contrast, next.gamma, next.invert, next.sharpen);
    if let Some(v) = change.rotate {
        next.rotate = v;
    }
    if let Some(v) = change.flip {
        next.flip = v;
    }
    if let Some(v) = change.straighten {
        next.straighten = v;
    }
    if let Some(v) = change.crop {
        next.crop = v;
    }
    if let Some(v) = change.window {
        next.window = v;
    }
    if let Some(v) = change.brightness {
        next.brightness = v;
    }
    if let Some(v) = change.contrast {
        next.contrast = v;
    }
    if let Some(v) = change.gamma {
        next.gamma = v;
    }
    if let Some(v) = change.invert {
        next.invert = v;
    }
    if let Some(v) = change.sharpen {
        next.sharpen = v;
    }
    // A preset's name stays only while its values do.
    if change.preset.is_none() && tone_before != (next.brightness, next.contrast, next.gamma, next.invert, next.sharpen)
    {
        next.preset = None;
    }
    next.validate(w, h)?;
    if next == before {
        return Ok(Adjusted { id: id.to_string(), adjustments: next, version });
    }
    let stored = if next.is_identity() {
        Value::Null
    } else {
        serde_json::to_value(&next).map_err(|e| MediaError::InvalidEdit(e.to_string()))?
    };
    let version = version + 1;
    let text = (!stored.is_null()).then(|| stored.to_string());
    tx.execute("UPDATE documents SET adjustments = ?2, version = ?3 WHERE id = ?1", params![id, text, version])?;
    let before_value = serde_json::to_value(&before).unwrap_or(Value::Null);
    crate::documents::write_history(tx, actor, id, version, "adjust", &json!({"adjustments": [before_value, stored]}))?;
    chairside_store::record_change(tx, actor, "document", id, &[("adjustments", stored.clone())])?;
    chairside_audit::append(tx, actor, "adjust", "document", Some(id), json!({"adjustments": stored}))?;
    Ok(Adjusted { id: id.to_string(), adjustments: next, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        (a.0 - b.0).abs() < 1e-9 && (a.1 - b.1).abs() < 1e-9
    }

    #[test]
    fn quarter_turns_and_flips_map_corners_onto_the_turned_canvas() {
        let adj = Adjustments { rotate: 90, ..Adjustments::default() };
        let m = adj.geometry(400, 300);
        // The top-left corner of a turned-right image is its old bottom-left.
        assert!(close(m.apply(0.0, 300.0), (0.0, 0.0)));
        assert!(close(m.apply(400.0, 0.0), (300.0, 400.0)));
        assert_eq!(adj.output_size(400, 300), (300, 400));
        let flipped = Adjustments { flip: Flip::H, crop: Some([100, 50, 200, 100]), ..Adjustments::default() };
        let m = flipped.geometry(400, 300);
        assert!(close(m.apply(100.0, 50.0), (200.0, 0.0)));
        assert_eq!(flipped.output_size(400, 300), (200, 100));
        let back = m.invert().expect("invertible");
        assert!(close(back.apply(200.0, 0.0), (100.0, 50.0)));
    }

    #[test]
    fn exif_orientations_put_the_stored_top_left_where_the_camera_meant() {
        // Orientation 6: the stored image is turned a quarter left; its top-left goes top-right.
        assert!(close(Affine::exif(6, 400.0, 300.0).apply(0.0, 0.0), (300.0, 0.0)));
        assert!(close(Affine::exif(8, 400.0, 300.0).apply(0.0, 0.0), (0.0, 400.0)));
        assert!(close(Affine::exif(3, 400.0, 300.0).apply(0.0, 0.0), (400.0, 300.0)));
        assert!(close(Affine::exif(5, 400.0, 300.0).apply(10.0, 20.0), (20.0, 10.0)));
    }

    #[test]
    fn values_out_of_range_and_crops_outside_the_image_are_refused() {
        let ok = Adjustments::default();
        assert!(ok.validate(100, 100).is_ok());
        for bad in [
            Adjustments { rotate: 45, ..ok.clone() },
            Adjustments { crop: Some([50, 50, 60, 10]), ..ok.clone() },
            Adjustments { crop: Some([0, 0, 0, 10]), ..ok.clone() },
            Adjustments { window: Some([100.0, 0.0]), ..ok.clone() },
            Adjustments { gamma: 0.0, ..ok.clone() },
            Adjustments { straighten: f64::NAN, ..ok.clone() },
            Adjustments { brightness: 101, ..ok.clone() },
        ] {
            let e = bad.validate(100, 100).expect_err("refused");
            assert_eq!(chairside_store::ErrorCode::code(&e), "invalid_edit", "{bad:?}");
        }
    }

    #[test]
    fn the_tone_curve_windows_inverts_and_keeps_the_identity() {
        let t = Adjustments::default().tone([127.5, 255.0], false);
        assert_eq!(t.apply(0.0), 0);
        assert_eq!(t.apply(255.0), 255);
        let w = Adjustments { window: Some([1000.0, 200.0]), invert: true, ..Adjustments::default() }
            .tone([0.0, 1.0], false);
        assert_eq!(w.apply(900.0), 255);
        assert_eq!(w.apply(1100.0), 0);
        assert_eq!(w.apply(1000.0), 128);
    }
}
