//! Annotations and measurements: vector items over a document, in the coordinates of its
//! original as displayed (after EXIF orientation, before adjustments), so they follow zoom,
//! crop and rotation. Measurements are in millimetres where the image is calibrated — from a
//! DICOM's Pixel Spacing (or Imager Pixel Spacing over the magnification factor), or from a line
//! the user drew over something of known length — and in pixels, marked not calibrated,
//! otherwise. Removing an item stamps it removed (a history entry); nothing is deleted.

use chairside_store::Actor;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::MediaError;
use crate::documents::write_history;
use crate::edits::displayed_size;

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnnotationType {
    Arrow,
    Line,
    Text,
    Freehand,
    Rect,
    Ellipse,
    Length,
    Angle,
    Area,
}

impl AnnotationType {
    pub const ALL: [AnnotationType; 9] = [
        AnnotationType::Arrow,
        AnnotationType::Line,
        AnnotationType::Text,
        AnnotationType::Freehand,
        AnnotationType::Rect,
        AnnotationType::Ellipse,
        AnnotationType::Length,
        AnnotationType::Angle,
        AnnotationType::Area,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnnotationType::Arrow => "arrow",
            AnnotationType::Line => "line",
            AnnotationType::Text => "text",
            AnnotationType::Freehand => "freehand",
            AnnotationType::Rect => "rect",
            AnnotationType::Ellipse => "ellipse",
            AnnotationType::Length => "length",
            AnnotationType::Angle => "angle",
            AnnotationType::Area => "area",
        }
    }

    /// How many points it takes (least, most).
    fn points(self) -> (usize, usize) {
        match self {
            AnnotationType::Arrow | AnnotationType::Line | AnnotationType::Rect | AnnotationType::Ellipse => (2, 2),
            AnnotationType::Text => (1, 1),
            AnnotationType::Freehand => (2, MAX_POINTS),
            AnnotationType::Length => (2, 100),
            AnnotationType::Angle => (3, 3),
            AnnotationType::Area => (3, 1000),
        }
    }

    pub fn is_measurement(self) -> bool {
        matches!(self, AnnotationType::Length | AnnotationType::Angle | AnnotationType::Area)
    }

    fn parse(s: &str) -> AnnotationType {
        AnnotationType::ALL.into_iter().find(|t| t.as_str() == s).unwrap_or(AnnotationType::Line)
    }
}

const MAX_POINTS: usize = 5000;
const MAX_TEXT: usize = 500;
const MAX_PER_DOCUMENT: i64 = 1000;
pub const DEFAULT_COLOR: &str = "#ffd400";
pub const DEFAULT_WIDTH: f64 = 2.0;

/// One item as a script or the viewer gives it.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnnotationInput {
    #[serde(rename = "type")]
    pub kind: AnnotationType,
    pub points: Vec<[f64; 2]>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub width: Option<f64>,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub value: f64,
    /// mm, px, deg, mm2 or px2.
    pub unit: &'static str,
    pub calibrated: bool,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AnnotationType,
    pub points: Vec<[f64; 2]>,
    pub text: Option<String>,
    pub color: String,
    pub width: f64,
    pub measurement: Option<Measurement>,
    pub created_by: String,
    pub created_at: String,
}

/// Where a document's millimetres come from.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CalibrationSource {
    Dicom,
    User,
    None,
}

/// `calibrate`'s answer: millimetres per pixel (along the rows when a DICOM's spacing differs
/// between rows and columns).
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    pub id: String,
    pub mm_per_pixel: Option<f64>,
    pub source: CalibrationSource,
}

/// Millimetres per pixel along x and y.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spacing {
    pub x: f64,
    pub y: f64,
    pub source: CalibrationSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct UserCalibration {
    mm_per_pixel: f64,
    from: [f64; 2],
    to: [f64; 2],
    mm: f64,
}

/// The user's calibration of a document, if any.
fn user_calibration(conn: &Connection, id: &str) -> Result<Option<UserCalibration>, MediaError> {
    let raw: Option<Option<String>> =
        conn.query_row("SELECT calibration FROM documents WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    let raw = raw.ok_or_else(|| MediaError::DocumentNotFound(id.to_string()))?;
    Ok(raw.and_then(|s| serde_json::from_str(&s).ok()))
}

/// The spacing measurements use: the user's calibration first (they drew it on this image),
/// then the file's own, else none. `dicom` is the file's spacing, read by the caller.
pub fn spacing(conn: &Connection, id: &str, dicom: Option<(f64, f64)>) -> Result<Option<Spacing>, MediaError> {
    if let Some(u) = user_calibration(conn, id)? {
        return Ok(Some(Spacing { x: u.mm_per_pixel, y: u.mm_per_pixel, source: CalibrationSource::User }));
    }
    Ok(dicom.map(|(x, y)| Spacing { x, y, source: CalibrationSource::Dicom }))
}

pub fn calibration(id: &str, spacing: Option<Spacing>) -> Calibration {
    match spacing {
        Some(s) => Calibration { id: id.to_string(), mm_per_pixel: Some(s.x), source: s.source },
        None => Calibration { id: id.to_string(), mm_per_pixel: None, source: CalibrationSource::None },
    }
}

/// Calibrates from a line over something `mm` long; `None` clears the user's calibration.
pub fn calibrate(
    tx: &Connection,
    actor: &Actor,
    id: &str,
    line: Option<([f64; 2], [f64; 2], f64)>,
) -> Result<(), MediaError> {
    let (w, h) = displayed_size(tx, id)?;
    let version: i64 = tx.query_row("SELECT version FROM documents WHERE id = ?1", [id], |r| r.get(0))?;
    let stored = match line {
        Some((from, to, mm)) => {
            check_points(&[from, to], w, h).map_err(MediaError::InvalidCalibration)?;
            let px = ((to[0] - from[0]).powi(2) + (to[1] - from[1]).powi(2)).sqrt();
            if px < 1.0 {
                return Err(MediaError::InvalidCalibration(
                    "the line has zero length: draw it from one end of the known object to the other".into(),
                ));
            }
            if !mm.is_finite() || mm <= 0.0 || mm > 1000.0 {
                return Err(MediaError::InvalidCalibration(format!(
                    "{mm} mm: give the object's real length, above 0 and at most 1000 mm"
                )));
            }
            json!(UserCalibration { mm_per_pixel: mm / px, from, to, mm })
        }
        None => Value::Null,
    };
    let before = user_calibration(tx, id)?.map(|c| json!(c)).unwrap_or(Value::Null);
    if before == stored {
        return Ok(());
    }
    let version = version + 1;
    let text = (!stored.is_null()).then(|| stored.to_string());
    tx.execute("UPDATE documents SET calibration = ?2, version = ?3 WHERE id = ?1", params![id, text, version])?;
    write_history(tx, actor, id, version, "calibrate", &json!({"calibration": [before, stored]}))?;
    chairside_store::record_change(tx, actor, "document", id, &[("calibration", stored.clone())])?;
    chairside_audit::append(tx, actor, "calibrate", "document", Some(id), json!({"calibration": stored}))?;
    Ok(())
}

/// Every point finite and near the image: at most a quarter of its size outside any edge.
fn check_points(points: &[[f64; 2]], w: u32, h: u32) -> Result<(), String> {
    let (w, h) = (w as f64, h as f64);
    for p in points {
        let near = p[0].is_finite()
            && p[1].is_finite()
            && p[0] >= -w / 4.0
            && p[0] <= w * 1.25
            && p[1] >= -h / 4.0
            && p[1] <= h * 1.25;
        if !near {
            return Err(format!(
                "the point ({}, {}) is far outside the {w} × {h} image: give pixel coordinates of the original",
                p[0], p[1]
            ));
        }
    }
    Ok(())
}

fn check_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit())
}

/// Checks one item against its type and the image (`w`×`h` as displayed).
fn validate(input: &AnnotationInput, w: u32, h: u32) -> Result<(String, f64, Option<String>), MediaError> {
    let bad = |m: String| Err(MediaError::InvalidAnnotation(m));
    let (least, most) = input.kind.points();
    let n = input.points.len();
    if n < least || n > most {
        let want = if least == most { format!("{least}") } else { format!("{least} to {most}") };
        return bad(format!("a {} takes {want} points, not {n}", input.kind.as_str()));
    }
    check_points(&input.points, w, h).map_err(MediaError::InvalidAnnotation)?;
    let text = input.text.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_string);
    if input.kind == AnnotationType::Text && text.is_none() {
        return bad("a text annotation needs its text".into());
    }
    if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
        return bad(format!("the text is longer than {MAX_TEXT} characters"));
    }
    let color = input.color.clone().unwrap_or_else(|| DEFAULT_COLOR.to_string()).to_ascii_lowercase();
    if !check_color(&color) {
        return bad(format!("colour {color:?}: use #rrggbb"));
    }
    let width = input.width.unwrap_or(DEFAULT_WIDTH);
    if !width.is_finite() || !(0.5..=20.0).contains(&width) {
        return bad(format!("width {width}: use 0.5 to 20"));
    }
    Ok((color, width, text))
}

/// Adds items to a document (one history row for them all). Returns their ids.
pub fn add(tx: &Connection, actor: &Actor, id: &str, items: &[AnnotationInput]) -> Result<Vec<String>, MediaError> {
    let (w, h) = displayed_size(tx, id)?;
    let (version, status): (i64, String) =
        tx.query_row("SELECT version, status FROM documents WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if status == "archived" {
        return Err(MediaError::InvalidAnnotation(format!("document {id} is archived: restore it before annotating")));
    }
    if items.is_empty() {
        return Err(MediaError::InvalidAnnotation("no annotation given".into()));
    }
    let live: i64 =
        tx.query_row("SELECT count(*) FROM annotations WHERE document_id = ?1 AND removed_at IS NULL", [id], |r| {
            r.get(0)
        })?;
    if live + items.len() as i64 > MAX_PER_DOCUMENT {
        return Err(MediaError::InvalidAnnotation(format!(
            "a document holds at most {MAX_PER_DOCUMENT} annotations (it has {live})"
        )));
    }
    let checked = items.iter().map(|i| validate(i, w, h)).collect::<Result<Vec<_>, _>>()?;
    let now = chairside_store::now_rfc3339();
    let mut ids = Vec::with_capacity(items.len());
    for (input, (color, width, text)) in items.iter().zip(checked) {
        let aid = chairside_store::new_id();
        let points = json!(input.points);
        insert(tx, actor, &aid, id, input.kind, &points, text.as_deref(), &color, width, &now)?;
        ids.push(aid);
    }
    let version = version + 1;
    tx.execute("UPDATE documents SET version = ?2 WHERE id = ?1", params![id, version])?;
    write_history(tx, actor, id, version, "annotate", &json!({"added": ids}))?;
    chairside_audit::append(tx, actor, "annotate", "document", Some(id), json!({"added": ids}))?;
    Ok(ids)
}

#[allow(clippy::too_many_arguments)]
fn insert(
    tx: &Connection,
    actor: &Actor,
    aid: &str,
    document_id: &str,
    kind: AnnotationType,
    points: &Value,
    text: Option<&str>,
    color: &str,
    width: f64,
    now: &str,
) -> Result<(), MediaError> {
    tx.execute(
        "INSERT INTO annotations (id, document_id, type, points_json, text, color, width, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![aid, document_id, kind.as_str(), points.to_string(), text, color, width, now, actor.user],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "annotation",
        aid,
        &[
            ("document_id", json!(document_id)),
            ("type", json!(kind.as_str())),
            ("points_json", json!(points.to_string())),
            ("text", json!(text)),
            ("color", json!(color)),
            ("width", json!(width)),
            ("created_at", json!(now)),
            ("created_by", json!(actor.user)),
        ],
    )?;
    Ok(())
}

/// Copies a document's live items onto another (a move), each under an id derived from its own
/// so two workstations making the same move make the same rows.
pub(crate) fn copy_live(tx: &Connection, actor: &Actor, from: &str, to: &str) -> Result<usize, MediaError> {
    let items = list_raw(tx, from)?;
    // A move back finds the items it once copied away still on the first document: the same
    // drawing is not added twice.
    let there = list_raw(tx, to)?;
    let same = |a: &Annotation, b: &Annotation| a.kind == b.kind && a.points == b.points && a.text == b.text;
    let now = chairside_store::now_rfc3339();
    for a in items.iter().filter(|a| !there.iter().any(|b| same(a, b))) {
        let aid = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{}->{to}", a.id).as_bytes()).to_string();
        let exists: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM annotations WHERE id = ?1)", [&aid], |r| r.get(0))?;
        if !exists {
            insert(tx, actor, &aid, to, a.kind, &json!(a.points), a.text.as_deref(), &a.color, a.width, &now)?;
        }
    }
    Ok(items.len())
}

/// Removes one item (it stays, stamped removed).
pub fn remove(tx: &Connection, actor: &Actor, document_id: &str, annotation_id: &str) -> Result<(), MediaError> {
    let removed: Option<Option<String>> = tx
        .query_row(
            "SELECT removed_at FROM annotations WHERE id = ?1 AND document_id = ?2",
            [annotation_id, document_id],
            |r| r.get(0),
        )
        .optional()?;
    match removed {
        None => return Err(MediaError::AnnotationNotFound(annotation_id.to_string())),
        Some(Some(_)) => return Ok(()),
        Some(None) => {}
    }
    let now = chairside_store::now_rfc3339();
    tx.execute(
        "UPDATE annotations SET removed_at = ?2, removed_by = ?3 WHERE id = ?1",
        params![annotation_id, now, actor.user],
    )?;
    chairside_store::record_change(
        tx,
        actor,
        "annotation",
        annotation_id,
        &[("removed_at", json!(now)), ("removed_by", json!(actor.user))],
    )?;
    let version: i64 = tx.query_row("SELECT version + 1 FROM documents WHERE id = ?1", [document_id], |r| r.get(0))?;
    tx.execute("UPDATE documents SET version = ?2 WHERE id = ?1", params![document_id, version])?;
    write_history(tx, actor, document_id, version, "annotation_remove", &json!({"removed": annotation_id}))?;
    chairside_audit::append(
        tx,
        actor,
        "annotation_remove",
        "document",
        Some(document_id),
        json!({"annotation_id": annotation_id}),
    )?;
    Ok(())
}

/// A document's live items, oldest first, without measurements.
pub(crate) fn list_raw(conn: &Connection, document_id: &str) -> Result<Vec<Annotation>, MediaError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, type, points_json, text, color, width, created_by, created_at FROM annotations
         WHERE document_id = ?1 AND removed_at IS NULL ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([document_id], |r| {
        let points: String = r.get(2)?;
        Ok(Annotation {
            id: r.get(0)?,
            kind: AnnotationType::parse(r.get_ref(1)?.as_str().unwrap_or_default()),
            points: serde_json::from_str(&points).unwrap_or_default(),
            text: r.get(3)?,
            color: r.get(4)?,
            width: r.get(5)?,
            measurement: None,
            created_by: r.get(6)?,
            created_at: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A document's live items with their measurements.
pub fn list(conn: &Connection, document_id: &str, spacing: Option<Spacing>) -> Result<Vec<Annotation>, MediaError> {
    let mut items = list_raw(conn, document_id)?;
    for a in &mut items {
        a.measurement = measure(a.kind, &a.points, spacing);
    }
    Ok(items)
}

/// A measurement's value: a polyline's length, the angle at the middle point, a polygon's area.
pub fn measure(kind: AnnotationType, points: &[[f64; 2]], spacing: Option<Spacing>) -> Option<Measurement> {
    let (sx, sy) = spacing.map_or((1.0, 1.0), |s| (s.x, s.y));
    let calibrated = spacing.is_some();
    let round = |v: f64, places: i32| (v * 10f64.powi(places)).round() / 10f64.powi(places);
    match kind {
        AnnotationType::Length => {
            let len: f64 = points
                .windows(2)
                .map(|w| (((w[1][0] - w[0][0]) * sx).powi(2) + ((w[1][1] - w[0][1]) * sy).powi(2)).sqrt())
                .sum();
            Some(Measurement { value: round(len, 2), unit: if calibrated { "mm" } else { "px" }, calibrated })
        }
        AnnotationType::Angle => {
            let [a, v, b] = [points.first()?, points.get(1)?, points.get(2)?];
            let (ux, uy) = ((a[0] - v[0]) * sx, (a[1] - v[1]) * sy);
            let (wx, wy) = ((b[0] - v[0]) * sx, (b[1] - v[1]) * sy);
            let deg = (ux * wy - uy * wx).atan2(ux * wx + uy * wy).abs().to_degrees();
            Some(Measurement { value: round(deg, 1), unit: "deg", calibrated })
        }
        AnnotationType::Area => {
            let n = points.len();
            let twice: f64 = (0..n)
                .map(|i| {
                    let (p, q) = (points[i], points[(i + 1) % n]);
                    p[0] * q[1] - q[0] * p[1]
                })
                .sum();
            let area = twice.abs() / 2.0 * sx * sy;
            Some(Measurement { value: round(area, 2), unit: if calibrated { "mm2" } else { "px2" }, calibrated })
        }
        _ => None,
    }
}

/// A measurement as its label reads.
pub fn label(m: &Measurement) -> String {
    let unit = match m.unit {
        "mm2" => "mm²",
        "px2" => "px²",
        "deg" => "°",
        u => u,
    };
    let sep = if m.unit == "deg" { "" } else { " " };
    let value = if m.unit == "deg" { format!("{:.1}", m.value) } else { format!("{:.2}", m.value) };
    let mark = if m.calibrated || m.unit == "deg" { "" } else { " (not calibrated)" };
    format!("{value}{sep}{unit}{mark}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_angles_and_areas_are_measured_in_the_calibrated_unit() {
        let mm = Some(Spacing { x: 0.1, y: 0.1, source: CalibrationSource::Dicom });
        let l = measure(AnnotationType::Length, &[[0.0, 0.0], [30.0, 40.0], [30.0, 140.0]], mm).expect("length");
        assert_eq!((l.value, l.unit, l.calibrated), (15.0, "mm", true));
        let px = measure(AnnotationType::Length, &[[0.0, 0.0], [30.0, 40.0]], None).expect("length");
        assert_eq!((px.value, px.unit, px.calibrated), (50.0, "px", false));
        assert_eq!(label(&px), "50.00 px (not calibrated)");
        let a = measure(AnnotationType::Angle, &[[10.0, 0.0], [0.0, 0.0], [0.0, 10.0]], None).expect("angle");
        assert_eq!((a.value, a.unit), (90.0, "deg"));
        let s =
            measure(AnnotationType::Area, &[[0.0, 0.0], [100.0, 0.0], [100.0, 50.0], [0.0, 50.0]], mm).expect("area");
        assert_eq!((s.value, s.unit), (50.0, "mm2"));
        // Anisotropic spacing: each axis with its own.
        let aniso = Some(Spacing { x: 0.1, y: 0.2, source: CalibrationSource::Dicom });
        let v = measure(AnnotationType::Length, &[[0.0, 0.0], [0.0, 10.0]], aniso).expect("length");
        assert_eq!(v.value, 2.0);
    }

    #[test]
    fn items_without_points_far_outside_or_of_the_wrong_shape_are_refused() {
        let item = |kind, points: Vec<[f64; 2]>| AnnotationInput { kind, points, text: None, color: None, width: None };
        for bad in [
            item(AnnotationType::Line, vec![]),
            item(AnnotationType::Arrow, vec![[0.0, 0.0]]),
            item(AnnotationType::Angle, vec![[0.0, 0.0], [1.0, 1.0]]),
            item(AnnotationType::Length, vec![[0.0, 0.0], [1e9, 1.0]]),
            item(AnnotationType::Line, vec![[f64::NAN, 0.0], [1.0, 1.0]]),
            item(AnnotationType::Text, vec![[5.0, 5.0]]),
            AnnotationInput { color: Some("red".into()), ..item(AnnotationType::Line, vec![[0.0, 0.0], [1.0, 1.0]]) },
            AnnotationInput { width: Some(0.0), ..item(AnnotationType::Line, vec![[0.0, 0.0], [1.0, 1.0]]) },
        ] {
            let e = validate(&bad, 100, 100).expect_err("refused");
            assert_eq!(chairside_store::ErrorCode::code(&e), "invalid_annotation", "{bad:?}");
        }
        assert!(validate(&item(AnnotationType::Line, vec![[-10.0, 0.0], [110.0, 100.0]]), 100, 100).is_ok());
    }
}
