//! The attachment-owner registry with mock resolvers: a link is accepted only when the owner
//! exists, in the same clinic, for the same patient; each refusal names the failed check.

use std::path::PathBuf;

use chairside_media::{Kind, Media, MediaError, MediaPaths, OwnerRegistry, OwnerSpec};
use chairside_owner::{OwnerResolver, OwnerScope};
use chairside_patients::NewPatient;
use chairside_store::rusqlite::Connection;
use chairside_store::{Actor, Db};

/// Resolves owners from a fixed table, like a module's own records would.
struct Fixed(Vec<(&'static str, OwnerScope)>, Option<&'static [&'static str]>);

impl OwnerResolver for Fixed {
    fn resolve(&self, _conn: &Connection, owner_id: &str) -> chairside_store::rusqlite::Result<Option<OwnerScope>> {
        Ok(self.0.iter().find(|(id, _)| *id == owner_id).map(|(_, s)| s.clone()))
    }
    fn roles(&self) -> Option<&'static [&'static str]> {
        self.1
    }
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

struct World {
    _dir: tempfile::TempDir,
    media: Media,
    actor: Actor,
    doc: String,
    clinic: String,
    patient: String,
    other_clinic: String,
    other_patient: String,
}

fn world() -> World {
    let dir = tempfile::tempdir().expect("tmp");
    let db = std::sync::Arc::new(Db::open(&dir.path().join("lib.sqlite3")).expect("db"));
    let actor = Actor { user: "test".into(), workstation: "ws".into() };
    let (clinic, patient, other_clinic, other_patient) = db
        .write(|tx| {
            let c1 = chairside_patients::create_clinic(tx, &actor, "North")?;
            let c2 = chairside_patients::create_clinic(tx, &actor, "South")?;
            let p1 =
                chairside_patients::add(tx, &actor, &c1.id, &NewPatient { name: "Ada".into(), ..Default::default() })?;
            let p2 =
                chairside_patients::add(tx, &actor, &c1.id, &NewPatient { name: "Bob".into(), ..Default::default() })?;
            Ok::<_, chairside_patients::PatientError>((c1.id, p1.id, c2.id, p2.id))
        })
        .expect("seed");
    let registry = OwnerRegistry::new();
    let paths = MediaPaths {
        blobs: dir.path().join("blobs"),
        thumbs: dir.path().join("thumbs"),
        quarantine: dir.path().join("q"),
    };
    let media = Media::new(db, paths, registry, Default::default());
    let path = fixture("orient_1.jpg");
    let req = chairside_media::ImportRequest {
        patient_id: &patient,
        path: &path,
        kind: Some(Kind::Intraoral),
        source: "test",
        scanner: None,
    };
    let doc = media.import(&actor, &req).expect("import").document_id;
    World { _dir: dir, media, actor, doc, clinic, patient, other_clinic, other_patient }
}

fn refusal(r: Result<chairside_media::Attachment, MediaError>) -> String {
    match r {
        Err(MediaError::Link(msg)) => msg,
        other => panic!("expected a refused link, got {other:?}"),
    }
}

#[test]
fn each_failed_check_is_named() {
    let mut w = world();
    let scope = |c: &str, p: &str| OwnerScope { clinic_id: c.into(), patient_id: p.into() };
    let owners = vec![
        ("mine", scope(&w.clinic, &w.patient)),
        ("foreign-clinic", scope(&w.other_clinic, &w.patient)),
        ("other-patient", scope(&w.clinic, &w.other_patient)),
    ];
    let mut registry = OwnerRegistry::new();
    registry
        .register(OwnerSpec {
            owner_type: "perio_chart".into(),
            resolver: Box::new(Fixed(owners, Some(&["baseline"]))),
        })
        .expect("register");
    w = World { media: rebuild(&w, registry), ..w };

    let m = &w.media;
    let a = &w.actor;
    assert!(refusal(m.link(a, &w.doc, "lab_order", "1", None)).contains("not registered"), "unregistered owner type");
    assert!(
        refusal(m.link(a, &w.doc, &"t".repeat(41), "1", None)).contains("40 characters"),
        "owner_type over 40 chars"
    );
    assert!(refusal(m.link(a, &w.doc, "perio_chart", "nobody", None)).contains("no perio_chart with id nobody"));
    assert!(refusal(m.link(a, &w.doc, "perio_chart", "foreign-clinic", None)).contains("another clinic"));
    assert!(refusal(m.link(a, &w.doc, "perio_chart", "other-patient", None)).contains("another patient"));
    assert!(
        refusal(m.link(a, &w.doc, "perio_chart", "mine", Some("after"))).contains("baseline"),
        "role outside the list"
    );
    assert!(matches!(m.link(a, "no-doc", "perio_chart", "mine", None), Err(MediaError::DocumentNotFound(_))));

    let link = m.link(a, &w.doc, "perio_chart", "mine", Some("baseline")).expect("a valid link");
    let again = m.link(a, &w.doc, "perio_chart", "mine", Some("baseline")).expect("linking twice");
    assert_eq!(link.id, again.id, "linking twice returns the existing link");
    assert_eq!(m.links_for_owner("perio_chart", "mine").expect("list").len(), 1);
}

/// A new Media over the same library with another registry (registries are explicit).
fn rebuild(w: &World, registry: OwnerRegistry) -> Media {
    let root = w._dir.path();
    let db = std::sync::Arc::new(Db::open(&root.join("lib.sqlite3")).expect("db"));
    let paths = MediaPaths { blobs: root.join("blobs"), thumbs: root.join("thumbs"), quarantine: root.join("q") };
    Media::new(db, paths, registry, Default::default())
}

#[test]
fn registration_is_explicit_and_checked() {
    let mut registry = OwnerRegistry::new();
    let spec = || OwnerSpec { owner_type: "x_ray_mount".into(), resolver: Box::new(Fixed(vec![], None)) };
    registry.register(spec()).expect("first registration");
    assert!(registry.register(spec()).is_err(), "an owner type is registered once");
    assert!(
        registry.register(OwnerSpec { owner_type: "".into(), resolver: Box::new(Fixed(vec![], None)) }).is_err(),
        "an empty owner type is refused"
    );
    assert_eq!(registry.owner_types(), vec!["x_ray_mount"]);
}

#[test]
fn unlink_all_for_owner_ends_every_live_link_and_keeps_the_rows() {
    let w = world();
    let owners = vec![("n1", OwnerScope { clinic_id: w.clinic.clone(), patient_id: w.patient.clone() })];
    let mut registry = OwnerRegistry::new();
    registry
        .register(OwnerSpec { owner_type: "note".into(), resolver: Box::new(Fixed(owners, None)) })
        .expect("register");
    let media = rebuild(&w, registry);
    media.link(&w.actor, &w.doc, "note", "n1", None).expect("link");
    let db = Db::open(&w._dir.path().join("lib.sqlite3")).expect("db");
    let n = db
        .write(|tx| chairside_media::attachments::unlink_all_for_owner(tx, &w.actor, "note", "n1"))
        .expect("unlink all");
    assert_eq!(n, 1);
    assert!(media.links_for_owner("note", "n1").expect("list").is_empty());
    let rows: i64 = db
        .read(|c| {
            c.query_row("SELECT COUNT(*) FROM media_attachments WHERE unlinked_at IS NOT NULL", [], |r| r.get(0))
                .map_err(chairside_store::StoreError::from)
        })
        .expect("count");
    assert_eq!(rows, 1, "an unlinked attachment stays, with who and when");
}
