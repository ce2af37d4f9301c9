//! Issue 15's figures: a sign-in with argon2id (beside the reference `argon2` command with the
//! same parameters, when given its time), what a permission check adds to a command, and
//! `audit list` filtered by patient and by user over a million events.

use std::path::Path;
use std::time::Instant;

use chairside_app::patients::NewPatient;
use chairside_app::{AuditFilter, Library, LibraryOptions, Permission, Secret};
use serde_json::json;

use crate::figures::Figure;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(dir: &Path, events: usize, reference_ms: Option<f64>) -> Result<(), String> {
    let e = |e: chairside_app::AppError| e.to_string();
    let lib = Library::open(LibraryOptions::new(dir)).map_err(e)?;
    lib.add_user("Owner", "owner", "owner password 1", None).map_err(e)?;
    lib.sign_in("Owner", Secret::Password("owner password 1")).map_err(e)?;
    lib.add_user("Dentist", "dentist", "dentist password", Some("1357")).map_err(e)?;

    // Sign-in: the whole call (attempts read, argon2id verify, audit write), five times.
    let runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            lib.sign_in("Dentist", Secret::Password("dentist password")).map(|_| t.elapsed().as_secs_f64() * 1000.0)
        })
        .collect::<Result<_, _>>()
        .map_err(e)?;
    let (m, t, p) = chairside_app::users::PARAMS;
    let reference =
        reference_ms.map(|r| format!("; the `argon2` command, same parameters: {r:.0} ms")).unwrap_or_default();
    let mut f = Figure::new(
        "sign_in_argon2id",
        format!("Sign-in with argon2id (m = {} MiB, t = {t}, p = {p})", m / 1024),
        "150–500 ms",
        format!("**{:.0} ms** (median of 5){reference}", median(runs.clone())),
    )
    .value("median_ms", median(runs.clone()))
    .runs(runs);
    if let Some(r) = reference_ms {
        f = f.value("argon2_command_ms", r);
    }
    f.report()?;

    // A permission check: the session's user and role read afresh, as every command does.
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        lib.require(Permission::ViewImages).map_err(e)?;
    }
    let check_us = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    Figure::new(
        "permission_check",
        "A permission check added to a command",
        "< 50 µs",
        format!("**{check_us:.1} µs** (mean of {n})"),
    )
    .value("mean_us", check_us)
    .report()?;

    // A million events over 1,000 patients, then the patient and user filters.
    let patients: Vec<String> = (0..1000)
        .map(|i| lib.add_patient(&NewPatient { name: format!("Patient {i}"), ..Default::default() }).map(|p| p.id))
        .collect::<Result<_, _>>()
        .map_err(e)?;
    let users = ["Owner", "Dentist", "Hygienist", "Assistant", "Front desk"];
    let seeded = Instant::now();
    let mut done = 0usize;
    while done < events {
        let batch = (events - done).min(50_000);
        lib.db()
            .write(|tx| {
                for i in done..done + batch {
                    let actor =
                        chairside_store::Actor { user: users[i % users.len()].into(), workstation: "bench-ws".into() };
                    let patient = &patients[(i * 7919) % patients.len()];
                    chairside_app::audit::append(tx, &actor, "view", "patient", Some(patient), json!({"n": i}))?;
                }
                Ok::<_, chairside_store::StoreError>(())
            })
            .map_err(|e| e.to_string())?;
        done += batch;
    }
    println!("seeded {events} audit events in {:.1} s", seeded.elapsed().as_secs_f64());
    lib.sign_in("Owner", Secret::Password("owner password 1")).map_err(e)?;
    let time = |filter: &AuditFilter| -> Result<(f64, usize), String> {
        let mut runs = Vec::new();
        let mut found = 0;
        for _ in 0..11 {
            let t = Instant::now();
            found = lib.audit_query(filter).map_err(e)?.len();
            runs.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        Ok((median(runs), found))
    };
    let by_patient = AuditFilter { patient: Some(patients[42].clone()), limit: 1000, ..Default::default() };
    let (patient_ms, patient_found) = time(&by_patient)?;
    let by_user = AuditFilter { user: Some("Hygienist".into()), limit: 1000, newest_first: true, ..Default::default() };
    let (user_ms, _) = time(&by_user)?;
    Figure::new(
        "audit_by_patient",
        format!("`audit list --patient` over {} events", events),
        "< 50 ms",
        format!(
            "**{patient_ms:.1} ms** ({patient_found} events of the patient); by user, newest 1,000: {user_ms:.1} ms (medians of 11)"
        ),
    )
    .value("patient_ms", patient_ms)
    .value("user_ms", user_ms)
    .value("events", events as f64)
    .report()
}
