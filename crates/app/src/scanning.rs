//! Virus scanning of imports by a ClamAV daemon the clinic runs. Off until an address is set;
//! once on, every import is scanned first and refused when the daemon does not answer (a
//! scanner that is down must not quietly let files through).

use std::time::Duration;

use chairside_scan::{Address, Clamd};
use serde::Serialize;

use crate::{AppError, Library};

const CLAMD_SETTING: &str = "scan_clamd_address";

/// Whether imports are scanned, and whether the scanner answers now.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScanningState {
    pub on: bool,
    /// clamd's socket path or `tcp://HOST:PORT`.
    pub address: Option<String>,
    /// clamd's version line, when it answered just now.
    pub version: Option<String>,
    /// Why it did not answer.
    pub problem: Option<String>,
}

impl Library {
    /// The configured scanner, read each time so a change made by another process (the CLI
    /// beside the app) applies to the next import.
    pub(crate) fn scanner(&self) -> Result<Option<Clamd>, AppError> {
        let address = self.db.read(|c| chairside_store::get_setting(c, CLAMD_SETTING))?;
        // A setting this version cannot read (written by hand) keeps scanning on and failing,
        // rather than silently off.
        Ok(address.map(|a| Clamd::new(Address::parse(&a).unwrap_or(Address::Unix(a.into())))))
    }

    /// Turns scanning on (`Some(address)`, after the daemon has answered) or off (`None`).
    pub fn set_scanning(&self, address: Option<&str>) -> Result<ScanningState, AppError> {
        let actor = self.allow(crate::Permission::Configure)?;
        let parsed = match address {
            Some(a) => {
                let parsed = Address::parse(a).map_err(AppError::InvalidInput)?;
                Clamd::new(parsed.clone())
                    .with_timeout(Duration::from_secs(10))
                    .version()
                    .map_err(AppError::Scanner)?;
                Some(parsed)
            }
            None => None,
        };
        self.db.write(|tx| {
            match &parsed {
                Some(a) => chairside_store::set_setting(tx, CLAMD_SETTING, &a.to_string())?,
                None => chairside_store::delete_setting(tx, CLAMD_SETTING)?,
            }
            chairside_audit::append(
                tx,
                &actor,
                if parsed.is_some() { "scanning.on" } else { "scanning.off" },
                "library",
                None,
                serde_json::json!({"clamd": parsed.as_ref().map(ToString::to_string)}),
            )?;
            Ok::<_, AppError>(())
        })?;
        self.scanning_state()
    }

    /// Asks the daemon for its version (bounded: the status bar polls this).
    pub fn scanning_state(&self) -> Result<ScanningState, AppError> {
        let Some(clamd) = self.scanner()? else {
            return Ok(ScanningState { on: false, address: None, version: None, problem: None });
        };
        let answer = clamd.clone().with_timeout(Duration::from_secs(2)).version();
        Ok(ScanningState {
            on: true,
            address: Some(clamd.address().to_string()),
            version: answer.as_ref().ok().cloned(),
            problem: answer.err().map(|e| e.to_string()),
        })
    }
}
