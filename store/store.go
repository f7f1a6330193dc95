package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/mattn/go-sqlite3"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

//go:embed sql/*.sql
var sqlFiles embed.FS

// Store is the database plus the blob store of one data directory.
type Store struct {
	Q     // reads outside a transaction
	db    *sqlx.DB
	Blobs *Blobs
	log   *slog.Logger
	stmts map[string]*sqlx.Stmt
	w     *writer
	path  string
	stop  chan struct{}
	done  chan struct{}
}

// Q runs the named queries against a database or a transaction.
type Q struct {
	s   *Store
	ext sqlx.ExtContext
	w   *writer // the writer connection inside a transaction; nil outside
}

// Open opens (creating when needed) the database and blob store in dataDir
// and migrates the schema forward.
func Open(dataDir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	blobs, err := NewBlobs(dataDir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, "tikkit.db")
	// Immediate write transactions, WAL, and full sync: a commit is on disk
	// before the SMTP 250 goes out (group commit keeps that affordable).
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=FULL&_foreign_keys=1"
	db, err := sqlx.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, Blobs: blobs, log: log, path: path, stop: make(chan struct{}), done: make(chan struct{})}
	s.Q = Q{s: s, ext: db}
	if s.w, err = newWriter(db); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(context.Background()); err != nil {
		s.w.close()
		db.Close()
		return nil, err
	}
	if err := s.prepare(); err != nil {
		s.w.close()
		db.Close()
		return nil, err
	}
	go s.checkpointer()
	return s, nil
}

// driverName is mattn/go-sqlite3 with automatic WAL checkpoints turned off:
// the checkpointer goroutine runs them, so the writer that answers SMTP
// never waits for a checkpoint's fsync of the database file.
const driverName = "sqlite3_tikkit"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec("PRAGMA wal_autocheckpoint=0", nil)
			return err
		},
	})
}

// walRestartBytes bounds the WAL file under sustained load.
const walRestartBytes = 64 << 20

// checkpointInterval is how often the WAL is copied back into the database.
const checkpointInterval = time.Second

func (s *Store) checkpointer() {
	defer close(s.done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// PASSIVE never blocks the writer. Under sustained load the WAL
			// never drains that way, so past walRestartBytes a RESTART
			// briefly holds writers back and lets the WAL start over.
			mode := "PASSIVE"
			if fi, err := os.Stat(s.path + "-wal"); err == nil && fi.Size() > walRestartBytes {
				mode = "RESTART"
			}
			if _, err := s.db.Exec("PRAGMA wal_checkpoint(" + mode + ")"); err != nil {
				s.log.Warn("store: checkpoint", slog.String("mode", mode), slog.Any("err", err))
			}
		}
	}
}

// Close checkpoints and closes the database.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	s.w.close()
	s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	for _, st := range s.stmts {
		st.Close()
	}
	return s.db.Close()
}

// DB exposes the handle for tests and tools.
func (s *Store) DB() *sqlx.DB { return s.db }

// loadQueries parses "-- name: x" blocks of every non-migration .sql file.
func loadQueries() (map[string]string, error) {
	out := map[string]string{}
	entries, err := sqlFiles.ReadDir("sql")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if isMigration(e.Name()) {
			continue
		}
		b, err := sqlFiles.ReadFile("sql/" + e.Name())
		if err != nil {
			return nil, err
		}
		var name string
		var body strings.Builder
		flush := func() error {
			if name == "" {
				return nil
			}
			if _, dup := out[name]; dup {
				return fmt.Errorf("store: query %q defined twice", name)
			}
			out[name] = strings.TrimSpace(body.String())
			body.Reset()
			return nil
		}
		for _, line := range strings.Split(string(b), "\n") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:"); ok {
				if err := flush(); err != nil {
					return nil, err
				}
				name = strings.TrimSpace(n)
				continue
			}
			body.WriteString(line)
			body.WriteByte('\n')
		}
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// prepare prepares every query (positional "?" parameters), so a typo fails at start-up.
func (s *Store) prepare() error {
	qs, err := loadQueries()
	if err != nil {
		return err
	}
	s.stmts = map[string]*sqlx.Stmt{}
	for name, q := range qs {
		q = s.db.Rebind(q)
		st, err := s.db.Preparex(q)
		if err != nil {
			return fmt.Errorf("store: prepare %s: %w", name, err)
		}
		s.stmts[name] = st
		// And on the writer connection, for transactions.
		if s.w.stmts[name], err = s.w.conn.PreparexContext(context.Background(), q); err != nil {
			return fmt.Errorf("store: prepare %s: %w", name, err)
		}
	}
	return nil
}

func (q Q) stmt(name string) *sqlx.Stmt {
	st, ok := q.s.stmts[name]
	if !ok {
		panic("store: unknown query " + name) // programming error, caught by tests
	}
	if q.w != nil {
		return q.w.stmts[name]
	}
	return st
}

func (q Q) get(ctx context.Context, dest any, name string, args ...any) error {
	err := q.stmt(name).GetContext(ctx, dest, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", name, err)
	}
	return nil
}

func (q Q) sel(ctx context.Context, dest any, name string, args ...any) error {
	if err := q.stmt(name).SelectContext(ctx, dest, args...); err != nil {
		return fmt.Errorf("store: %s: %w", name, err)
	}
	return nil
}

func (q Q) exec(ctx context.Context, name string, args ...any) (int64, error) {
	res, err := q.stmt(name).ExecContext(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", name, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// insert runs an INSERT and returns the new row's id. (Exec and
// last_insert_rowid, not RETURNING: in a batch commit RETURNING costs each
// insert a result table and a second round through the driver.)
func (q Q) insert(ctx context.Context, name string, args ...any) (int64, error) {
	res, err := q.stmt(name).ExecContext(ctx, args...)
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", name, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("store: %s: %w", name, err)
	}
	return id, nil
}

// Tx is one write transaction. Savepoints let a batch of independent
// changes share one commit (group commit) while failing one by one.
type Tx struct {
	Q
	done bool
}

// writer is the one connection every write transaction of this process
// runs on, one transaction at a time (SQLite has one writer anyway).
//
// It is a dedicated *sql.Conn rather than a *sql.Tx from the pool because
// database/sql watches a Tx's context with a goroutine per query: a batch
// commit paid a goroutine and a thread wake-up for every row-returning
// statement. Statements are prepared on it once.
type writer struct {
	conn   *sqlx.Conn
	sem    chan struct{} // held by the open transaction
	closed chan struct{} // closed by close: Begin fails from then on
	ext    connExt
	stmts  map[string]*sqlx.Stmt // every query, prepared on conn
	sp     []*sql.Stmt           // SAVEPOINT, RELEASE, ROLLBACK TO (see Savepoint)
}

func newWriter(db *sqlx.DB) (*writer, error) {
	conn, err := db.Connx(context.Background())
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	w := &writer{conn: conn, ext: connExt{conn, db}, sem: make(chan struct{}, 1), closed: make(chan struct{}), stmts: map[string]*sqlx.Stmt{}}
	for _, q := range []string{"SAVEPOINT tikkit_sp", "RELEASE SAVEPOINT tikkit_sp", "ROLLBACK TO SAVEPOINT tikkit_sp"} {
		st, err := conn.PrepareContext(context.Background(), q)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("store: savepoint: %w", err)
		}
		w.sp = append(w.sp, st)
	}
	return w, nil
}

// connExt is the writer connection as an sqlx.ExtContext.
type connExt struct {
	*sqlx.Conn
	db *sqlx.DB
}

func (c connExt) DriverName() string     { return c.db.DriverName() }
func (c connExt) Rebind(q string) string { return c.db.Rebind(q) }
func (c connExt) BindNamed(q string, arg any) (string, []any, error) {
	return c.db.BindNamed(q, arg)
}

func (w *writer) close() {
	close(w.closed)
	w.sem <- struct{}{} // wait for the open transaction, if any
	for _, st := range w.stmts {
		st.Close()
	}
	for _, st := range w.sp {
		st.Close()
	}
	w.conn.Close()
}

// Begin starts an immediate write transaction on the writer connection,
// waiting for the one open in this process, if any, or for ctx.
func (s *Store) Begin(ctx context.Context) (*Tx, error) {
	// After close, which holds sem for good, only closed is ready.
	select {
	case s.w.sem <- struct{}{}:
	case <-s.w.closed:
		return nil, errors.New("store: begin: store closed")
	case <-ctx.Done():
		return nil, fmt.Errorf("store: begin: %w", ctx.Err())
	}
	// BEGIN IMMEDIATE takes the database's write lock now, waiting up to
	// busy_timeout for another process (an admin command) to finish.
	if _, err := s.w.conn.ExecContext(context.WithoutCancel(ctx), "BEGIN IMMEDIATE"); err != nil {
		<-s.w.sem
		return nil, fmt.Errorf("store: begin: %w", err)
	}
	return &Tx{Q: Q{s: s, ext: s.w.ext, w: s.w}}, nil
}

// Commit commits the transaction.
func (t *Tx) Commit() error {
	if t.done {
		return fmt.Errorf("store: commit: %w", sql.ErrTxDone)
	}
	_, err := t.w.conn.ExecContext(context.Background(), "COMMIT")
	if err != nil {
		// SQLite may keep the transaction open after a failed COMMIT:
		// leave the connection clean for the next one.
		t.w.conn.ExecContext(context.Background(), "ROLLBACK")
	}
	t.end()
	if err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Rollback abandons the transaction; safe after Commit.
func (t *Tx) Rollback() error {
	if t.done {
		return nil
	}
	_, err := t.w.conn.ExecContext(context.Background(), "ROLLBACK")
	t.end()
	if err != nil && strings.Contains(err.Error(), "no transaction is active") {
		err = nil // SQLite rolled it back already (an interrupted statement)
	}
	return err
}

func (t *Tx) end() {
	t.done = true
	<-t.w.sem
}

// Savepoint runs fn inside a savepoint: when fn fails, only its changes are
// undone and the transaction stays usable.
//
// Savepoints are not nested: one name serves them all, and its statements
// are prepared once on the writer connection (a batch runs one per message).
func (t *Tx) Savepoint(ctx context.Context, fn func() error) error {
	begin, release, rollback := t.w.sp[0], t.w.sp[1], t.w.sp[2]
	if _, err := begin.ExecContext(ctx); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	if err := fn(); err != nil {
		if _, rerr := rollback.ExecContext(ctx); rerr != nil {
			return errors.Join(err, fmt.Errorf("store: rollback to savepoint: %w", rerr))
		}
		release.ExecContext(ctx)
		return err
	}
	if _, err := release.ExecContext(ctx); err != nil {
		return fmt.Errorf("store: release savepoint: %w", err)
	}
	return nil
}

// Update runs fn in one transaction and commits it.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func isMigration(name string) bool {
	return len(name) > 4 && name[0] >= '0' && name[0] <= '9' && strings.HasSuffix(name, ".sql")
}

// migrations returns the ordered migration files: NNN_name.sql.
func migrations() ([]string, error) {
	entries, err := sqlFiles.ReadDir("sql")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if isMigration(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// SchemaVersion is the number of migrations this binary knows.
func SchemaVersion() int {
	m, _ := migrations()
	return len(m)
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	names, err := migrations()
	if err != nil {
		return err
	}
	var have int
	if err := s.db.GetContext(ctx, &have, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"); err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	if have > len(names) {
		return fmt.Errorf("store: database schema version %d is newer than this tikkitd (%d); upgrade tikkitd", have, len(names))
	}
	for i := have; i < len(names); i++ {
		b, err := sqlFiles.ReadFile("sql/" + names[i])
		if err != nil {
			return err
		}
		err = s.Update(ctx, func(tx *Tx) error {
			if _, err := tx.ext.ExecContext(ctx, string(b)); err != nil {
				return fmt.Errorf("store: migration %s: %w", names[i], err)
			}
			_, err := tx.ext.ExecContext(ctx, s.db.Rebind("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				i+1, names[i], time.Now().UTC())
			return err
		})
		if err != nil {
			return err
		}
		s.log.Info("store: migrated", slog.String("migration", names[i]))
	}
	return nil
}
