//! The SQLite and PostgreSQL migrations must declare the same schema: the same tables, the
//! same columns in each, and the same named indexes over the same columns. (Column types
//! differ by design: ids and times are TEXT/INTEGER in SQLite, TEXT/BIGINT in PostgreSQL.)
//! They also declare the same triggers (by name, on the same table): counters such as
//! `cluster_counts` are kept by triggers, and one missing on a backend would let it drift.

use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

/// Tables with their columns, named indexes with their table and columns, triggers with their table.
type Schema = (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, (String, Vec<String>)>, BTreeMap<String, String>);

fn pg_url() -> String {
    std::env::var("DBCLOUD_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn sqlite_schema() -> Schema {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    drop(dbcloud_store::sqlite::SqliteStore::open(&path).await.unwrap());
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let mut tables = BTreeMap::new();
    let names: Vec<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'")
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in names {
        let cols = sqlx::query("SELECT name FROM pragma_table_info(?)").bind(&t).fetch_all(&pool).await.unwrap().iter().map(|r| r.get(0)).collect();
        tables.insert(t, cols);
    }
    let mut indexes = BTreeMap::new();
    let rows = sqlx::query("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL").fetch_all(&pool).await.unwrap();
    for r in rows {
        let (name, table): (String, String) = (r.get(0), r.get(1));
        let cols =
            sqlx::query("SELECT name FROM pragma_index_info(?) ORDER BY seqno").bind(&name).fetch_all(&pool).await.unwrap().iter().map(|r| r.get(0)).collect();
        indexes.insert(name, (table, cols));
    }
    let rows = sqlx::query("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'").fetch_all(&pool).await.unwrap();
    let triggers = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    (tables, indexes, triggers)
}

async fn postgres_schema() -> Schema {
    let schema = format!("dbcloud_mig_{}", uuid::Uuid::new_v4().simple());
    drop(dbcloud_store::postgres::PgStore::connect(&pg_url(), Some(&schema)).await.unwrap_or_else(|e| panic!("PostgreSQL at {} is required: {e}", pg_url())));
    let pool = sqlx::PgPool::connect(&pg_url()).await.unwrap();
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let rows = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text FROM information_schema.columns c \
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE' AND c.table_name <> '_sqlx_migrations'",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    for r in rows {
        tables.entry(r.get(0)).or_default().insert(r.get(1));
    }
    // Named indexes only: those backing PRIMARY KEY / UNIQUE constraints are implicit in
    // both backends (SQLite's `sqlite_autoindex_*`).
    let rows = sqlx::query(
        "SELECT i.relname::text, t.relname::text, array_agg(a.attname::text ORDER BY k.n) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE ns.nspname = $1 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
         GROUP BY i.relname, t.relname",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    let indexes = rows.into_iter().map(|r| (r.get::<String, _>(0), (r.get::<String, _>(1), r.get::<Vec<String>, _>(2)))).collect();
    let rows = sqlx::query(
        "SELECT g.tgname::text, t.relname::text FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace WHERE ns.nspname = $1 AND NOT g.tgisinternal",
    )
    .bind(&schema)
    .fetch_all(&pool)
    .await
    .unwrap();
    let triggers = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    // The schema name is generated above (hex only).
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&pool).await.unwrap();
    (tables, indexes, triggers)
}

#[tokio::test]
async fn sqlite_and_postgres_migrations_declare_the_same_schema() {
    let (lite_tables, lite_indexes, lite_triggers) = sqlite_schema().await;
    let (pg_tables, pg_indexes, pg_triggers) = postgres_schema().await;
    assert!(lite_tables.contains_key("clusters") && lite_tables.len() > 10, "introspection found the tables: {lite_tables:?}");
    assert_eq!(lite_tables.keys().collect::<Vec<_>>(), pg_tables.keys().collect::<Vec<_>>(), "tables differ");
    for (t, cols) in &lite_tables {
        assert_eq!(cols, &pg_tables[t], "columns of {t} differ (SQLite left, PostgreSQL right)");
    }
    assert!(lite_indexes.contains_key("clusters_org_name"), "introspection found the indexes: {lite_indexes:?}");
    assert_eq!(lite_indexes, pg_indexes, "named indexes differ (SQLite left, PostgreSQL right)");
    assert_eq!(lite_triggers.get("cluster_counts_insert").map(String::as_str), Some("clusters"), "introspection found the triggers: {lite_triggers:?}");
    assert_eq!(lite_triggers, pg_triggers, "triggers differ (SQLite left, PostgreSQL right)");
}
