package demo

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// sqlDB is an in-memory SQLite database whose statements are traced as
// client spans with the database semantic conventions.
type sqlDB struct {
	db     *sql.DB
	name   string
	tracer trace.Tracer
}

func openSQL(name string, tracer trace.Tracer) (*sqlDB, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", name, err)
	}
	// One connection: an in-memory database lives in its connection.
	db.SetMaxOpenConns(1)
	return &sqlDB{db: db, name: name, tracer: tracer}, nil
}

// start begins the span of one statement, named "{operation} {table}" (or
// just the operation when there is no table).
func (s *sqlDB) start(ctx context.Context, table, stmt string) (context.Context, trace.Span) {
	op, _, _ := strings.Cut(strings.TrimSpace(stmt), " ")
	op = strings.ToUpper(op)
	name := op
	attrs := []attribute.KeyValue{
		// The names most backends and dashboards key on, and their
		// current semantic-convention successors.
		attribute.String("db.system", "sqlite"),
		attribute.String("db.name", s.name),
		attribute.String("db.statement", stmt),
		attribute.String("db.operation", op),
		attribute.String("db.system.name", "sqlite"),
		attribute.String("db.namespace", s.name),
		attribute.String("db.query.text", stmt),
		attribute.String("db.operation.name", op),
	}
	if table != "" {
		name += " " + table
		attrs = append(attrs, attribute.String("db.sql.table", table), attribute.String("db.collection.name", table))
	}
	return s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

// execer is what runs a statement: the database or a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func (s *sqlDB) exec(ctx context.Context, table, stmt string, args ...any) (sql.Result, error) {
	return s.execOn(ctx, s.db, table, stmt, args...)
}

func (s *sqlDB) execOn(ctx context.Context, on execer, table, stmt string, args ...any) (sql.Result, error) {
	ctx, span := s.start(ctx, table, stmt)
	defer span.End()
	res, err := on.ExecContext(ctx, stmt, args...)
	if err != nil {
		fail(span, err)
		return nil, err
	}
	if n, err := res.RowsAffected(); err == nil {
		span.SetAttributes(attribute.Int64("db.response.returned_rows", n))
	}
	return res, nil
}

// query runs stmt and calls scan for each row.
func (s *sqlDB) query(ctx context.Context, table, stmt string, scan func(*sql.Rows) error, args ...any) error {
	ctx, span := s.start(ctx, table, stmt)
	defer span.End()
	rows, err := s.db.QueryContext(ctx, stmt, args...)
	if err != nil {
		fail(span, err)
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := scan(rows); err != nil {
			fail(span, err)
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		fail(span, err)
		return err
	}
	span.SetAttributes(attribute.Int("db.response.returned_rows", n))
	return nil
}

func (s *sqlDB) close() error { return s.db.Close() }

// sqlTx is a traced transaction: BEGIN, its statements, then COMMIT or
// ROLLBACK, each a span.
type sqlTx struct {
	db *sqlDB
	tx *sql.Tx
}

func (s *sqlDB) begin(ctx context.Context) (*sqlTx, error) {
	_, span := s.start(ctx, "", "BEGIN")
	defer span.End()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		fail(span, err)
		return nil, err
	}
	return &sqlTx{db: s, tx: tx}, nil
}

func (t *sqlTx) exec(ctx context.Context, table, stmt string, args ...any) (sql.Result, error) {
	return t.db.execOn(ctx, t.tx, table, stmt, args...)
}

func (t *sqlTx) commit(ctx context.Context) error {
	_, span := t.db.start(ctx, "", "COMMIT")
	defer span.End()
	if err := t.tx.Commit(); err != nil {
		fail(span, err)
		return err
	}
	return nil
}

func (t *sqlTx) rollback(ctx context.Context) {
	_, span := t.db.start(ctx, "", "ROLLBACK")
	defer span.End()
	if err := t.tx.Rollback(); err != nil {
		fail(span, err)
	}
}
