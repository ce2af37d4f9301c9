//! What a command produced and how it is written: one JSON document with `--json`, else its
//! text with outside strings escaped; the exit status from the outcome alone.

use chairside_app::AppError;
use chairside_store::Remedy;
use serde::Serialize;
use serde_json::Value;

/// One line on stderr, its control characters escaped: file names and messages come from
/// outside and must neither break the line format nor reach the terminal as escape codes.
macro_rules! say {
    ($($t:tt)*) => {
        eprintln!("{}", chairside_store::text::escape_controls(&format!($($t)*)))
    };
}

/// A field of a text line (a name, a path, a title): its tabs and line breaks escaped too.
pub fn f(s: &str) -> std::borrow::Cow<'_, str> {
    chairside_store::text::escape_controls(s)
}

/// What a command produced: its JSON, its human text, and whether it counts as a failure.
pub struct Output {
    pub json: Value,
    pub text: String,
    pub exit: u8,
    /// Already printed as it happened (`watch`): nothing more at the end.
    pub streamed: bool,
}

impl Output {
    pub fn ok(value: impl Serialize, text: impl Into<String>) -> Result<Output, AppError> {
        Ok(Output {
            json: serde_json::to_value(value).unwrap_or(Value::Null),
            text: text.into(),
            exit: 0,
            streamed: false,
        })
    }
}

/// An error as the CLI says it: its message, then the next step as a command to run.
pub fn message(e: &AppError) -> String {
    e.message_with(next_step)
}

pub fn payload(e: &AppError) -> chairside_app::ErrorPayload {
    e.payload_with(next_step)
}

fn next_step(r: Remedy) -> &'static str {
    match r {
        Remedy::FindPatient => "check the id with `chairside patient list`",
        Remedy::FindDocument => "check the id with `chairside list --patient …`",
        Remedy::ListSeriesTemplates => "see `chairside series templates`",
        Remedy::VerifyLibrary => "run `chairside verify`",
        Remedy::ConfigureSync => "run `chairside sync configure`",
        Remedy::EnterSyncSecret => "run `chairside sync configure` again with the secret",
        Remedy::AllowInsecureHttp => {
            "give an https:// endpoint, or add --allow-insecure-http to `chairside sync configure` on a network the clinic trusts"
        }
        Remedy::TrustClinicCa => {
            "if the clinic issued the server's certificate, run `chairside sync configure` again with --ca-cert FILE (its authority's certificate); otherwise check the endpoint's host name"
        }
        Remedy::EnterSyncPassphrase => {
            "run `chairside sync configure` again with the clinic's passphrase (CHAIRSIDE_SYNC_PASSPHRASE, or --recovery-key)"
        }
        Remedy::EncryptBucket => "run `chairside sync encrypt-existing`",
        Remedy::FinishReseal => {
            "run the same `chairside sync encrypt-existing` or `chairside sync rotate-key` again on the workstation that started it"
        }
    }
}

pub fn error_exit(e: &AppError) -> u8 {
    if e.is_access_refused() {
        3
    } else if e.is_invalid_input() {
        2
    } else {
        1
    }
}
