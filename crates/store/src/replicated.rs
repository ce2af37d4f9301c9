//! The registry of replicated entities. Each domain crate declares the tables whose rows
//! travel between workstations (`REPLICATED` beside its `TABLES`); the composition root hands
//! them all to sync, which applies peers' changes knowing only these declarations. A new
//! replicated table is one more declaration in its owner, not an edit to sync.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

/// A row as a JSON object of its columns (BLOB columns left out).
pub type Row = Map<String, Value>;

/// One replicated table, declared by the crate that owns it.
pub struct Replicated {
    /// The `entity_type` its change-log rows carry.
    pub entity_type: &'static str,
    /// Its table; the key column is `id`.
    pub table: &'static str,
    /// Change fields kept in a column of another name: (field, column).
    pub renamed: &'static [(&'static str, &'static str)],
    /// Entity types its rows refer to: applied before it.
    pub parents: &'static [&'static str],
    /// The change field naming a blob, which must be in the bucket before the change is sent.
    pub blob_field: Option<&'static str>,
    /// What its owner does beyond a plain insert, if anything.
    pub hooks: Option<&'static (dyn ReplicaHooks + Sync)>,
}

impl Replicated {
    /// The column a change field is kept in.
    pub fn column<'a>(&self, field: &'a str) -> &'a str {
        self.renamed.iter().find(|(f, _)| *f == field).map(|(_, c)| *c).unwrap_or(field)
    }
}

/// A row a peer needs before it can insert an entity (a document's blob row), sent beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Companion {
    pub entity_type: String,
    pub entity_id: String,
    pub row: Row,
}

/// What `before_insert` found.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// Insert it. `new_blob`: a blob row was created here for it, its original still to fetch.
    Ready { new_blob: Option<String> },
    /// Something it needs is not here yet; try again after the next segment.
    Wait,
}

/// The owner's part in replicating its rows.
pub trait ReplicaHooks {
    /// Rows to send beside this one.
    fn companions(&self, _conn: &Connection, _row: &Row) -> rusqlite::Result<Vec<Companion>> {
        Ok(Vec::new())
    }
    /// Makes a peer's snapshot fit to insert here (local-only columns, rows it needs).
    fn before_insert(&self, _apply: &Apply<'_>, _row: &mut Row) -> rusqlite::Result<Prepared> {
        Ok(Prepared::Ready { new_blob: None })
    }
    /// A constraint refused the insert: a chance to reconcile. `true` when the row is in now.
    fn on_refused(&self, _apply: &Apply<'_>, _row: &Row) -> rusqlite::Result<bool> {
        Ok(false)
    }
    /// After the row went in.
    fn after_insert(&self, _conn: &Connection, _id: &str) -> rusqlite::Result<()> {
        Ok(())
    }
    /// After a peer's changes to an existing row were applied: `fields` are those whose
    /// value is now the peer's, `by` who made them (when the segment says) on `workstation`.
    fn after_peer_change(
        &self,
        _conn: &Connection,
        _id: &str,
        _fields: &[(String, Value)],
        _workstation: &str,
        _by: Option<&str>,
    ) -> rusqlite::Result<()> {
        Ok(())
    }
}

/// Looks up a companion sent by a peer: (entity type, id) to its row.
pub type SnapshotLookup<'a> = dyn Fn(&Connection, &str, &str) -> rusqlite::Result<Option<Row>> + 'a;

/// One application of peer changes: the transaction, the columns of each table (read once),
/// and where companions sent by peers are found.
pub struct Apply<'a> {
    pub tx: &'a Connection,
    columns: RefCell<HashMap<String, Vec<String>>>,
    snapshots: &'a SnapshotLookup<'a>,
}

impl<'a> Apply<'a> {
    pub fn new(tx: &'a Connection, snapshots: &'a SnapshotLookup<'a>) -> Apply<'a> {
        Apply { tx, columns: RefCell::new(HashMap::new()), snapshots }
    }

    /// The column names of `table`.
    pub fn columns(&self, table: &str) -> rusqlite::Result<Vec<String>> {
        if let Some(c) = self.columns.borrow().get(table) {
            return Ok(c.clone());
        }
        let names = columns_of(self.tx, table)?;
        self.columns.borrow_mut().insert(table.to_string(), names.clone());
        Ok(names)
    }

    /// A companion a peer sent, if it did.
    pub fn snapshot(&self, entity_type: &str, id: &str) -> rusqlite::Result<Option<Row>> {
        (self.snapshots)(self.tx, entity_type, id)
    }

    /// Inserts a snapshot's columns that `table` has. `false` when a constraint refuses it
    /// (a parent row not applied yet): that statement alone is undone, the transaction goes on.
    pub fn insert(&self, table: &str, row: &Row) -> rusqlite::Result<bool> {
        let known = self.columns(table)?;
        let (names, values): (Vec<&str>, Vec<SqlValue>) =
            row.iter().filter(|(k, _)| known.contains(k)).map(|(k, v)| (k.as_str(), to_sql(v))).unzip();
        let placeholders: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
            names.join(", "),
            placeholders.join(", ")
        );
        match self.tx.execute(&sql, rusqlite::params_from_iter(values)) {
            Ok(n) => Ok(n == 1),
            Err(rusqlite::Error::SqliteFailure(f, _)) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// The column names of `table`.
pub fn columns_of(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT name FROM pragma_table_info(?1)")?;
    stmt.query_map([table], |r| r.get(0))?.collect()
}

/// A JSON value as SQLite stores it.
pub fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::Integer(*b as i64),
        Value::Number(n) => {
            n.as_i64().map(SqlValue::Integer).unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or(0.0)))
        }
        Value::String(s) => SqlValue::Text(s.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}

/// The row of `table` whose `key` column is `id`, as a JSON object of its columns.
pub fn row_snapshot(conn: &Connection, table: &str, key: &str, id: &str) -> rusqlite::Result<Option<Row>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT * FROM {table} WHERE {key} = ?1"))?;
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    stmt.query_row([id], |r| {
        let mut map = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => Value::from(f),
                ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => continue,
            };
            map.insert(name.clone(), v);
        }
        Ok(map)
    })
    .optional()
}

/// Every replicated table of the composed application, parents before children.
pub struct Registry {
    entities: Vec<&'static Replicated>,
}

impl Registry {
    /// Orders the declarations so each comes after the entities it refers to, keeping the
    /// given order otherwise. Refuses a declaration twice, an unknown parent or a cycle.
    pub fn new(declared: &[&'static [Replicated]]) -> Result<Registry, String> {
        let all: Vec<&'static Replicated> = declared.iter().flat_map(|d| d.iter()).collect();
        for (i, e) in all.iter().enumerate() {
            if all[..i].iter().any(|o| o.entity_type == e.entity_type || o.table == e.table) {
                return Err(format!("{} ({}) is declared twice", e.entity_type, e.table));
            }
            if let Some(p) = e.parents.iter().find(|p| !all.iter().any(|o| o.entity_type == **p)) {
                return Err(format!("{} refers to {p}, which no crate declares", e.entity_type));
            }
        }
        let mut entities: Vec<&'static Replicated> = Vec::with_capacity(all.len());
        while entities.len() < all.len() {
            let placed = |t: &str| entities.iter().any(|e| e.entity_type == t);
            let next = all.iter().find(|e| !placed(e.entity_type) && e.parents.iter().all(|p| placed(p)));
            match next {
                Some(e) => entities.push(e),
                None => return Err("the replicated entities refer to each other in a cycle".into()),
            }
        }
        Ok(Registry { entities })
    }

    pub fn get(&self, entity_type: &str) -> Option<&'static Replicated> {
        self.entities.iter().copied().find(|e| e.entity_type == entity_type)
    }

    /// The place of an entity type in apply order (unknown types last).
    pub fn rank(&self, entity_type: &str) -> usize {
        self.entities.iter().position(|e| e.entity_type == entity_type).unwrap_or(usize::MAX)
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static Replicated> + '_ {
        self.entities.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn entity(entity_type: &'static str, parents: &'static [&'static str]) -> Replicated {
        Replicated { entity_type, table: entity_type, renamed: &[], parents, blob_field: None, hooks: None }
    }

    const CHILDREN: &[Replicated] = &[entity("note", &["patient"]), entity("link", &["note", "patient"])];
    const ROOTS: &[Replicated] = &[entity("clinic", &[]), entity("patient", &["clinic"])];

    #[test]
    fn parents_come_first_whatever_order_the_crates_are_composed_in() {
        let r = Registry::new(&[CHILDREN, ROOTS]).expect("registry");
        let order: Vec<&str> = r.iter().map(|e| e.entity_type).collect();
        assert_eq!(order, ["clinic", "patient", "note", "link"]);
        assert!(r.rank("patient") < r.rank("note"));
        assert_eq!(r.rank("unknown"), usize::MAX);
    }

    #[test]
    fn a_table_declared_twice_an_unknown_parent_or_a_cycle_is_refused() {
        assert!(Registry::new(&[ROOTS, ROOTS]).is_err());
        assert!(Registry::new(&[CHILDREN]).is_err(), "patient is declared by nobody");
        const CYCLE: &[Replicated] = &[entity("a", &["b"]), entity("b", &["a"])];
        assert!(Registry::new(&[CYCLE]).is_err());
    }

    #[test]
    fn a_snapshot_is_inserted_with_the_columns_the_table_has() {
        let conn = Connection::open_in_memory().expect("db");
        conn.execute_batch("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL)").expect("ddl");
        let none = |_: &Connection, _: &str, _: &str| Ok(None);
        let apply = Apply::new(&conn, &none);
        let mut row = Row::new();
        row.insert("id".into(), Value::from("a"));
        row.insert("n".into(), Value::from(3));
        row.insert("gone".into(), Value::from("a column this version does not have"));
        assert!(apply.insert("t", &row).expect("insert"));
        assert!(!apply.insert("t", &row).expect("again"), "already there");
        row.insert("n".into(), Value::Null);
        row.insert("id".into(), Value::from("b"));
        assert!(!apply.insert("t", &row).expect("refused"), "NOT NULL refuses it, the caller goes on");
        let back = row_snapshot(&conn, "t", "id", "a").expect("read").expect("row");
        assert_eq!(back.get("n"), Some(&Value::from(3)));
        assert_eq!(
            Replicated { renamed: &[("slots", "slots_json")], ..entity("x", &[]) }.column("slots"),
            "slots_json"
        );
    }
}
