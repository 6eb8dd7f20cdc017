//! The SATU -> national identification number mapping as a table in an SQLite database (the
//! gateway's default durable store), read at each login so the operator's updates apply at once.
//! Read-only connection; the blocking query runs off the async runtime.

use idp_adapters::idcard::{MappingError, NationalIdDirectory, Satu};
use idp_adapters::{AdapterFuture, NationalId, PersonalIdentityCode};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct SqliteDirectory {
    conn: Arc<Mutex<Connection>>,
    query: Arc<str>,
}

impl SqliteDirectory {
    /// Open the database read-only and check that the query compiles (the table and both
    /// columns exist). Identifiers were checked by the config to be plain SQL names.
    pub fn open(
        sqlite_file: &Path,
        table: &str,
        satu_column: &str,
        national_id_column: &str,
    ) -> Result<Self, String> {
        let conn = Connection::open_with_flags(
            sqlite_file,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| format!("{}: {e}", sqlite_file.display()))?;
        conn.busy_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        // Unquoted on purpose: SQLite reads an unknown "double-quoted" name as a string literal,
        // so a misspelt column would compile and silently match nothing. The names are plain
        // identifiers (checked by the config), so they need no quoting.
        let query =
            format!("SELECT {national_id_column} FROM {table} WHERE {satu_column} = ?1 LIMIT 2");
        conn.prepare(&query)
            .map_err(|e| format!("{}: {e}", sqlite_file.display()))?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            query: query.into(),
        })
    }
}

impl NationalIdDirectory for SqliteDirectory {
    fn lookup<'a>(
        &'a self,
        satu: &'a Satu,
    ) -> AdapterFuture<'a, Result<Option<NationalId>, MappingError>> {
        let conn = self.conn.clone();
        let query = self.query.clone();
        let satu = satu.expose().to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || lookup_blocking(&conn, &query, &satu))
                .await
                .map_err(|e| MappingError::Source(e.to_string()))?
        })
    }
}

/// One row: mapped. None: not mapped. Two rows, or a value that is not a valid personal
/// identity code: the table is wrong, and the login fails closed (never a guess).
fn lookup_blocking(
    conn: &Mutex<Connection>,
    query: &str,
    satu: &str,
) -> Result<Option<NationalId>, MappingError> {
    let source = |e: rusqlite::Error| MappingError::Source(e.to_string());
    let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
    let mut stmt = conn.prepare_cached(query).map_err(source)?;
    let values: Vec<String> = stmt
        .query_map([satu], |row| row.get::<_, String>(0))
        .map_err(source)?
        .collect::<Result<_, _>>()
        .map_err(source)?;
    match values.as_slice() {
        [] => Ok(None),
        [one] => PersonalIdentityCode::parse(one)
            .map(|code| Some(NationalId::from(code)))
            .map_err(|e| MappingError::Source(format!("the mapped value is not valid: {e}"))),
        _ => Err(MappingError::Source(
            "the SATU has more than one row".into(),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct NationalIdTable {
        sqlite_file: std::path::PathBuf,
        table: String,
        satu_column: String,
        national_id_column: String,
    }

    fn open(t: &NationalIdTable) -> Result<SqliteDirectory, String> {
        SqliteDirectory::open(
            &t.sqlite_file,
            &t.table,
            &t.satu_column,
            &t.national_id_column,
        )
    }

    fn table(dir: &std::path::Path, rows: &[(&str, &str)]) -> NationalIdTable {
        let path = dir.join("map.sqlite");
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE idcard_national_ids (satu TEXT NOT NULL, national_id TEXT NOT NULL);",
        )
        .unwrap();
        for (s, n) in rows {
            c.execute("INSERT INTO idcard_national_ids VALUES (?1, ?2)", [s, n])
                .unwrap();
        }
        NationalIdTable {
            sqlite_file: path,
            table: "idcard_national_ids".into(),
            satu_column: "satu".into(),
            national_id_column: "national_id".into(),
        }
    }

    #[tokio::test]
    async fn maps_one_row_and_fails_closed_on_bad_data() {
        let dir = tempfile::tempdir().unwrap();
        let satu = |digits: &str| certs::test_pki::satu_with_check(digits);
        let (bad_value, twice, absent) = (satu("99900001"), satu("99900002"), satu("99900003"));
        let t = table(
            dir.path(),
            &[
                ("10000001N", "131052-9085"),
                (&bad_value, "not-a-hetu"),
                (&twice, "070770-905D"),
                (&twice, "131052-9085"),
            ],
        );
        let d = open(&t).unwrap();
        let lookup = |s: &str| d.lookup_owned(Satu::parse(s).unwrap());
        assert_eq!(
            lookup("10000001N").await.unwrap().unwrap().expose(),
            "131052-9085"
        );
        assert!(lookup(&absent).await.unwrap().is_none());
        assert!(lookup(&bad_value).await.is_err());
        assert!(lookup(&twice).await.is_err());
        let mut wrong = t.clone();
        wrong.table = "missing".into();
        assert!(open(&wrong).is_err());
        let mut wrong = t.clone();
        wrong.national_id_column = "hetu".into();
        assert!(open(&wrong).is_err());
        let mut wrong = t;
        wrong.satu_column = "serial".into();
        assert!(open(&wrong).is_err());
    }

    impl SqliteDirectory {
        async fn lookup_owned(&self, satu: Satu) -> Result<Option<NationalId>, MappingError> {
            self.lookup(&satu).await
        }
    }
}
