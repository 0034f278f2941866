-- The D1 tables of the edgegraph worker (table prefix "edgegraph"): the storage API's store, and the run store
-- with store: 'd1'. The D1 adapter also creates them on first use (CREATE TABLE IF NOT EXISTS), so applying this
-- migration is optional but makes the schema explicit. Kept in sync with schemaStatements() in adapters/sql.ts
-- (test/migrations.test.ts checks it).
CREATE TABLE IF NOT EXISTS edgegraph_kv (thread TEXT NOT NULL COLLATE BINARY, key TEXT NOT NULL COLLATE BINARY, value BLOB NOT NULL, PRIMARY KEY (thread, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edgegraph_threads (thread TEXT NOT NULL COLLATE BINARY PRIMARY KEY, updated_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edgegraph_threads_by_time ON edgegraph_threads (updated_at, thread);
CREATE TABLE IF NOT EXISTS edgegraph_guard (ok INTEGER NOT NULL, CONSTRAINT edgegraph_guard_failed CHECK (ok = 1));
