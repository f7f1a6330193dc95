// Package store owns tikkit's schema, migrations, queries and transactions,
// and the content-addressed blob store for raw messages and attachments.
// SQLite now (WAL, immediate write transactions); SQL stays portable.
package store
