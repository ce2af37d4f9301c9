//! Issue 14's figures: rendering an adjusted 24 MP photo with 50 annotations to a 2048 px
//! JPEG, an edited document's thumbnails after the edit, and what the viewer's live windowing
//! costs the backend (the full-depth grey view of a 16-bit 3000×2500 X-ray, fetched once per
//! drag; the frames themselves are painted in the webview).

use std::path::Path;
use std::time::Instant;

use chairside_app::{Library, LibraryOptions};
use chairside_media::{AdjustChange, AnnotationInput, AnnotationType};
use chairside_patients::NewPatient;

use crate::figures::Figure;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(v: f64) -> String {
    format!("{v:.0} ms")
}

/// A 3000×2500 16-bit X-ray as a PNG: a smooth field with structure, values over 12 bits and
/// more (what the window/level figure names).
pub fn write_xray(path: &Path) -> Result<(), String> {
    let grey = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_fn(3000, 2500, |x, y| {
        let d = ((x as f64 - 1500.0).hypot(y as f64 - 1250.0) / 1600.0).min(1.0);
        let ring = ((x as f64 / 37.0).sin() * (y as f64 / 53.0).cos() * 4000.0) as i64;
        image::Luma([((1.0 - d) * 52_000.0) as i64 + ring + 6000].map(|v| v.clamp(0, 65535) as u16))
    });
    grey.save(path).map_err(|e| e.to_string())
}

/// The patient the app bench windows an X-ray in, added to `root`'s library once.
pub const XRAY_PATIENT: &str = "X-ray bench (16-bit 3000×2500)";

/// The patient of the app bench's 3D viewer figure: one 50 MB binary STL.
pub const SCAN_PATIENT: &str = "Scan bench (50 MB STL)";

/// Adds, once each, the app bench's patients: one with a 16-bit 3000×2500 X-ray (live
/// window/level), one with a 50 MB binary STL of 1,000,000 triangles (the 3D viewer's opening).
pub fn xray_patient(root: &Path) -> Result<(), String> {
    let lib = Library::open(LibraryOptions::new(root)).map_err(|e| e.to_string())?;
    let src = tempfile::tempdir().map_err(|e| e.to_string())?;
    let xray = src.path().join("xray-16bit.png");
    let scan = src.path().join("scan-50mb.stl");
    for (name, file) in [(XRAY_PATIENT, &xray), (SCAN_PATIENT, &scan)] {
        if lib.list_patients(None).map_err(|e| e.to_string())?.iter().any(|p| p.name == name) {
            continue;
        }
        if name == XRAY_PATIENT {
            write_xray(file)?;
        } else {
            crate::formats_bench::make_stl(file, 1_000_000)?;
        }
        let patient =
            lib.add_patient(&NewPatient { name: name.into(), ..Default::default() }).map_err(|e| e.to_string())?;
        let imported = lib
            .import_paths(&patient.id, std::slice::from_ref(file), None, "bench", &|_| {})
            .map_err(|e| e.to_string())?;
        lib.wait_for_thumbnails();
        if imported.first().and_then(|r| r.document_id.as_ref()).is_none() {
            return Err(format!("{} was not imported: {:?}", file.display(), imported.first().map(|r| &r.error)));
        }
    }
    Ok(())
}

pub fn run(dir: &Path) -> Result<(), String> {
    let lib = Library::open(LibraryOptions::new(dir.join("library"))).map_err(|e| e.to_string())?;
    let patient = lib
        .add_patient(&NewPatient { name: "Viewer bench".into(), ..Default::default() })
        .map_err(|e| e.to_string())?;

    // A 6000×4000 photo with detail everywhere (so the JPEG is as heavy as a camera's).
    let photo = dir.join("photo-24mp.jpg");
    let img = image::RgbImage::from_fn(6000, 4000, |x, y| {
        let n = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 24;
        image::Rgb([
            ((x / 7) % 200 + n % 40) as u8,
            ((y / 5) % 200 + n % 50) as u8,
            ((x + y) / 11 % 200 + n % 30) as u8,
        ])
    });
    img.save_with_format(&photo, image::ImageFormat::Jpeg).map_err(|e| e.to_string())?;
    let xray = dir.join("xray-16bit.png");
    write_xray(&xray)?;
    let imported = lib
        .import_paths(&patient.id, &[photo.clone(), xray.clone()], None, "bench", &|_| {})
        .map_err(|e| e.to_string())?;
    lib.wait_for_thumbnails();
    let ids: Vec<String> =
        imported.iter().map(|r| r.document_id.clone().ok_or(format!("{:?}", r.error))).collect::<Result<_, _>>()?;
    let (photo_id, xray_id) = (&ids[0], &ids[1]);

    // The edit and its thumbnails (made before `adjust` returns): a different edit each run.
    let mut edits = Vec::new();
    for i in 0..5 {
        let change = AdjustChange {
            rotate: Some(90),
            crop: Some(Some([200, 100, 5400, 3600])),
            contrast: Some(10 + i * 5),
            sharpen: Some(2),
            ..Default::default()
        };
        let t = Instant::now();
        lib.adjust(photo_id, &change).map_err(|e| e.to_string())?;
        let thumb = lib.thumbnail(photo_id, 256).map_err(|e| e.to_string())?.ok_or("no thumbnail")?;
        edits.push(t.elapsed().as_secs_f64() * 1000.0);
        if !thumb.path.to_string_lossy().contains("edited") {
            return Err(format!("the thumbnail after the edit is not the edited one: {}", thumb.path.display()));
        }
    }
    Figure::new(
        "viewer_edit_thumbnails",
        "An edit of a 24 MP photo (turn, crop, contrast, sharpen) saved and its three thumbnails made",
        "< 500 ms",
        format!(
            "**{}** median of 5 ({})",
            ms(median(edits.clone())),
            edits.iter().map(|v| ms(*v)).collect::<Vec<_>>().join(", ")
        ),
    )
    .value("median_ms", median(edits.clone()))
    .runs(edits)
    .report()?;

    // 50 annotations of every kind.
    let kinds = [
        AnnotationType::Arrow,
        AnnotationType::Line,
        AnnotationType::Length,
        AnnotationType::Angle,
        AnnotationType::Text,
        AnnotationType::Rect,
        AnnotationType::Ellipse,
        AnnotationType::Freehand,
        AnnotationType::Area,
    ];
    let items: Vec<AnnotationInput> = (0..50)
        .map(|i| {
            let kind = kinds[i % kinds.len()];
            let (x, y) = (300.0 + (i % 10) as f64 * 520.0, 300.0 + (i / 10) as f64 * 700.0);
            let points = match kind {
                AnnotationType::Text => vec![[x, y]],
                AnnotationType::Angle => vec![[x, y], [x + 200.0, y + 150.0], [x + 400.0, y]],
                AnnotationType::Freehand | AnnotationType::Area => {
                    (0..24).map(|k| [x + 200.0 * (k as f64 / 3.8).cos(), y + 150.0 * (k as f64 / 3.8).sin()]).collect()
                }
                _ => vec![[x, y], [x + 380.0, y + 260.0]],
            };
            AnnotationInput {
                kind,
                points,
                text: Some(format!("note {i}")).filter(|_| kind == AnnotationType::Text),
                color: None,
                width: None,
            }
        })
        .collect();
    lib.annotate(photo_id, &items).map_err(|e| e.to_string())?;
    let out = dir.join("render.jpg");
    let mut renders = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let r = lib.render_document(photo_id, &out, true, Some(2048)).map_err(|e| e.to_string())?;
        renders.push(t.elapsed().as_secs_f64() * 1000.0);
        if r.width.max(r.height) != 2048 {
            return Err(format!("rendered {}×{}, not 2048 long", r.width, r.height));
        }
    }
    Figure::new(
        "viewer_render_2048",
        "An adjusted 24 MP photo with 50 annotations rendered to a 2048 px JPEG (decode, warp, tone, sharpen, draw, encode, write)",
        "< 150 ms",
        format!("**{}** median of 7 ({})", ms(median(renders.clone())), renders.iter().map(|v| ms(*v)).collect::<Vec<_>>().join(", ")),
    )
    .value("median_ms", median(renders.clone()))
    .runs(renders)
    .report()?;

    // Live windowing: the grey view fetched as the right button goes down.
    lib.adjust(xray_id, &AdjustChange { rotate: Some(90), ..Default::default() }).map_err(|e| e.to_string())?;
    let mut greys = Vec::new();
    let mut bytes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let v = lib.view_grey(xray_id, 1200, 0).map_err(|e| e.to_string())?.ok_or("the X-ray has no grey view")?;
        greys.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = v.len();
    }
    Figure::new(
        "viewer_grey_view",
        "The full-depth grey view of a turned 16-bit 3000×2500 X-ray at 1200 px, made as a live window/level drag starts",
        "once per drag",
        format!("**{}** median of 5, {:.1} MB to the webview", ms(median(greys.clone())), bytes as f64 / 1e6),
    )
    .value("median_ms", median(greys.clone()))
    .runs(greys)
    .report()
}
