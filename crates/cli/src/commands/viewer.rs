//! The viewer's tools on the command line: adjust, annotate, annotations, calibrate, move,
//! render. Coordinates are pixels of the original as displayed (after EXIF orientation).

use std::path::PathBuf;
use std::str::FromStr;

use chairside_app::{AppError, Library};
use chairside_media::{AdjustChange, AnnotationInput, Flip};
use clap::Subcommand;
use serde_json::json;

use crate::output::{Output, f};

#[derive(Subcommand)]
pub enum ViewerCmd {
    /// Adjust how a document is shown (never its original): geometry, window/level, tone.
    Adjust {
        document: String,
        /// Quarter turns clockwise: 0, 90, 180 or 270.
        #[arg(long)]
        rotate: Option<u16>,
        /// none, h (mirror left-right) or v (upside down).
        #[arg(long)]
        flip: Option<String>,
        /// X,Y,WIDTH,HEIGHT in pixels of the (straightened) original.
        #[arg(long, value_name = "X,Y,W,H")]
        crop: Option<String>,
        /// Degrees clockwise, -45 to 45.
        #[arg(long, allow_negative_numbers = true)]
        straighten: Option<f64>,
        /// CENTER,WIDTH in the image's own values (a DICOM's modality units).
        #[arg(long, value_name = "CENTER,WIDTH", allow_negative_numbers = true)]
        window: Option<String>,
        /// -100 to 100.
        #[arg(long, allow_negative_numbers = true)]
        brightness: Option<i32>,
        /// -100 to 100.
        #[arg(long, allow_negative_numbers = true)]
        contrast: Option<i32>,
        /// 0.1 to 10.
        #[arg(long)]
        gamma: Option<f64>,
        #[arg(long, conflicts_with = "no_invert")]
        invert: bool,
        #[arg(long)]
        no_invert: bool,
        /// 0 to 10.
        #[arg(long)]
        sharpen: Option<u32>,
        /// caries, endo, perio, soft-tissue, inverted, or a clinic preset.
        #[arg(long)]
        preset: Option<String>,
        /// Back to the original as it is (then the other flags, if any).
        #[arg(long)]
        reset: bool,
    },
    /// Add annotations from a JSON file (one item or a list) or remove one.
    Annotate {
        document: String,
        /// {"type":"arrow|line|text|freehand|rect|ellipse|length|angle|area","points":[[x,y],…],
        /// "text","color","width"}
        #[arg(long, value_name = "FILE.json", required_unless_present = "remove", conflicts_with = "remove")]
        add: Option<PathBuf>,
        #[arg(long, value_name = "ANNOTATION_ID")]
        remove: Option<String>,
    },
    /// A document's annotations and measurements.
    Annotations { document: String },
    /// Calibrate a document from a line over something of known length, or --clear it; with
    /// neither, show its calibration.
    Calibrate {
        document: String,
        #[arg(long, value_name = "X1,Y1", requires_all = ["to", "mm"], conflicts_with = "clear")]
        from: Option<String>,
        #[arg(long, value_name = "X2,Y2")]
        to: Option<String>,
        #[arg(long, value_name = "LENGTH")]
        mm: Option<f64>,
        #[arg(long)]
        clear: bool,
    },
    /// Move misfiled documents to another patient (the source is kept, archived, with the reason).
    Move {
        #[arg(required = true)]
        documents: Vec<String>,
        #[arg(long)]
        to_patient: String,
        #[arg(long)]
        reason: String,
    },
    /// Write a document as adjusted to a PNG, JPEG or PDF page (with a header).
    Render {
        document: String,
        #[arg(long, value_name = "FILE.{png,jpg,pdf}")]
        out: PathBuf,
        /// Draw the annotations and measurements.
        #[arg(long)]
        annotations: bool,
        /// Long edge in pixels at most (default: the adjusted image's own size).
        #[arg(long)]
        size: Option<u32>,
    },
}

/// `"a,b"` → `[a, b]`; `what` names the flag for the message.
fn numbers<const N: usize>(text: &str, what: &str) -> Result<[f64; N], AppError> {
    let parts: Vec<f64> = text.split(',').filter_map(|p| p.trim().parse::<f64>().ok()).collect();
    let bad = || AppError::InvalidInput(format!("{what} {text:?}: give {N} numbers separated by commas"));
    if parts.len() != N || text.split(',').count() != N {
        return Err(bad());
    }
    parts.try_into().map_err(|_| bad())
}

fn calibration_text(c: &chairside_media::Calibration) -> String {
    match c.mm_per_pixel {
        Some(mm) => format!("{}\t{mm:.5} mm per pixel ({:?})", c.id, c.source),
        None => format!("{}\tnot calibrated: measurements are in pixels", c.id),
    }
}

pub fn run(lib: &Library, cmd: ViewerCmd) -> Result<Output, AppError> {
    match cmd {
        ViewerCmd::Adjust {
            document,
            rotate,
            flip,
            crop,
            straighten,
            window,
            brightness,
            contrast,
            gamma,
            invert,
            no_invert,
            sharpen,
            preset,
            reset,
        } => {
            let crop = crop
                .map(|c| {
                    let [x, y, w, h] = numbers::<4>(&c, "--crop")?;
                    let whole = |v: f64| v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64;
                    if ![x, y, w, h].into_iter().all(whole) {
                        return Err(AppError::InvalidInput(format!(
                            "--crop {c:?}: give whole pixels, X,Y,WIDTH,HEIGHT"
                        )));
                    }
                    Ok(Some([x as u32, y as u32, w as u32, h as u32]))
                })
                .transpose()?;
            let change = AdjustChange {
                reset,
                preset,
                rotate,
                flip: flip.as_deref().map(Flip::from_str).transpose()?,
                straighten,
                crop,
                window: window.map(|w| numbers::<2>(&w, "--window").map(Some)).transpose()?,
                brightness,
                contrast,
                gamma,
                invert: if invert {
                    Some(true)
                } else if no_invert {
                    Some(false)
                } else {
                    None
                },
                sharpen,
            };
            let a = lib.adjust(&document, &change)?;
            let text = format!(
                "{}\tversion {}\t{}",
                a.id,
                a.version,
                serde_json::to_string(&a.adjustments).unwrap_or_default()
            );
            Output::ok(a, text)
        }
        ViewerCmd::Annotate { document, add: Some(file), .. } => {
            let raw = std::fs::read_to_string(&file)
                .map_err(|e| AppError::InvalidInput(format!("{}: cannot read it: {e}", file.display())))?;
            let value: serde_json::Value = serde_json::from_str(&raw)
                .map_err(|e| AppError::InvalidInput(format!("{}: not JSON: {e}", file.display())))?;
            let items: Vec<AnnotationInput> = match value {
                serde_json::Value::Array(_) => serde_json::from_value(value),
                other => serde_json::from_value(other).map(|one| vec![one]),
            }
            .map_err(|e| AppError::InvalidInput(format!("{}: not an annotation: {e}", file.display())))?;
            let added = lib.annotate(&document, &items)?;
            let text = added.iter().map(|a| format!("{}\t{}", a.id, a.kind.as_str())).collect::<Vec<_>>().join("\n");
            Output::ok(added, text)
        }
        ViewerCmd::Annotate { document, remove: Some(id), .. } => {
            lib.remove_annotation(&document, &id)?;
            Output::ok(json!({"id": document, "removed": id}), format!("{id}\tremoved"))
        }
        ViewerCmd::Annotate { .. } => Err(AppError::InvalidInput("give --add FILE.json or --remove ID".into())),
        ViewerCmd::Annotations { document } => {
            let items = lib.annotations(&document)?;
            let text = items
                .iter()
                .map(|a| {
                    let m = a.measurement.as_ref().map(chairside_media::annotations::label).unwrap_or_default();
                    format!("{}\t{}\t{}\t{}", a.id, a.kind.as_str(), m, f(a.text.as_deref().unwrap_or("")))
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(items, text)
        }
        ViewerCmd::Calibrate { document, from, to, mm, clear } => {
            let line = match (from, to, mm, clear) {
                (None, None, None, false) => {
                    let c = lib.calibration(&document)?;
                    let text = calibration_text(&c);
                    return Output::ok(c, text);
                }
                (_, _, _, true) => None,
                (Some(from), Some(to), Some(mm), false) => {
                    Some((numbers::<2>(&from, "--from")?, numbers::<2>(&to, "--to")?, mm))
                }
                _ => {
                    return Err(AppError::InvalidInput("give --from X1,Y1 --to X2,Y2 --mm LENGTH, or --clear".into()));
                }
            };
            let c = lib.calibrate(&document, line)?;
            let text = calibration_text(&c);
            Output::ok(c, text)
        }
        ViewerCmd::Move { documents, to_patient, reason } => {
            let results = lib.move_documents(&documents, &to_patient, &reason)?;
            let text = results
                .iter()
                .map(|m| format!("{}\t{:?}\t→ {}", m.id, m.status, m.new_id))
                .collect::<Vec<_>>()
                .join("\n");
            Output::ok(json!({"results": results}), text)
        }
        ViewerCmd::Render { document, out, annotations, size } => {
            let r = lib.render_document(&document, &out, annotations, size)?;
            let text = format!("{} × {} → {} ({} bytes)", r.width, r.height, f(&r.path), r.bytes);
            Output::ok(r, text)
        }
    }
}
