package edgesql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
)

// OwnTablesSQL creates edgesync's own tables: the applied-events ledger
// (one row per partner event written into Edge, in the same transaction)
// and the partner links. They live in their own schema, apart from Edge's.
func (d *DB) OwnTablesSQL() []string {
	s := quote(d.m.EdgesyncSchema)
	lit := strings.ReplaceAll(d.m.EdgesyncSchema, "'", "''")
	return []string{
		fmt.Sprintf("IF SCHEMA_ID(N'%s') IS NULL EXEC(N'CREATE SCHEMA %s')", lit, strings.ReplaceAll(s, "'", "''")),
		fmt.Sprintf("CREATE TABLE %s.[AppliedEvents] (EventId nvarchar(200) NOT NULL PRIMARY KEY, Origin varchar(20) NOT NULL, AppliedAt datetime2 NOT NULL DEFAULT SYSUTCDATETIME())", s),
		fmt.Sprintf("CREATE TABLE %s.[Links] (Partner varchar(20) NOT NULL, Entity varchar(20) NOT NULL, PartnerId nvarchar(200) NOT NULL, EdgeKey varchar(40) NOT NULL, CONSTRAINT PK_Links PRIMARY KEY (Partner, Entity, PartnerId))", s),
	}
}

func (d *DB) own(table string) string { return quote(d.m.EdgesyncSchema) + "." + quote(table) }

// CustomerByKey implements writer.EdgeStore.
func (d *DB) CustomerByKey(ctx context.Context, key string) (*schemas.Customer, error) {
	return loadOne[schemas.Customer](ctx, d, key, loadCustomers)
}

// NoteByKey implements writer.EdgeStore.
func (d *DB) NoteByKey(ctx context.Context, key string) (*schemas.Note, error) {
	return loadOne[schemas.Note](ctx, d, key, loadNotes)
}

// loadOne reads one aggregate with a two-part key ("001-000652"); nil when
// there is none.
func loadOne[T any](ctx context.Context, d *DB, key string, load loader) (*T, error) {
	k, err := parseKey(key, 2)
	if err != nil {
		return nil, err
	}
	got, err := load(ctx, d, d.db, keyArgs([]aggKey{k}, 2))
	if err != nil {
		return nil, err
	}
	v, _ := got[k].(*T)
	return v, nil
}

// parseKey reads "001-000652" (n=2) or "001-126396-002" (n=3).
func parseKey(key string, n int) (aggKey, error) {
	var k aggKey
	parts := strings.Split(key, "-")
	if len(parts) != n {
		return k, fmt.Errorf("edge key %q: want %d parts", key, n)
	}
	for i, p := range parts {
		if _, err := fmt.Sscanf(p, "%d", &k[i]); err != nil {
			return k, fmt.Errorf("edge key %q: %w", key, err)
		}
	}
	return k, nil
}

// CustomerByEmail implements writer.EdgeStore: the oldest active customer
// with an active email equal to email, trimmed and case-insensitive.
func (d *DB) CustomerByEmail(ctx context.Context, email string) (string, error) {
	var s, id int64
	err := d.db.QueryRowContext(ctx, d.sql["write.byemail"], sql.Named("e", strings.ToLower(strings.TrimSpace(email)))).Scan(&s, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("match customer by email: %w", err)
	}
	return custKey(s, id), nil
}

// LinkedKey implements writer.EdgeStore.
func (d *DB) LinkedKey(ctx context.Context, partner, entity, partnerID string) (string, error) {
	var key string
	err := d.db.QueryRowContext(ctx, "SELECT EdgeKey FROM "+d.own("Links")+" WHERE Partner = @p AND Entity = @e AND PartnerId = @id",
		sql.Named("p", mssql.VarChar(partner)), sql.Named("e", mssql.VarChar(entity)), sql.Named("id", partnerID)).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read link: %w", err)
	}
	return key, nil
}

// WishLinks implements writer.EdgeStore: partner item ids linked to the
// customer's open wishes.
func (d *DB) WishLinks(ctx context.Context, partner, customerKey string) (map[string]int, error) {
	rows, err := d.db.QueryContext(ctx, "SELECT PartnerId, EdgeKey FROM "+d.own("Links")+" WHERE Partner = @p AND Entity = 'wish' AND EdgeKey LIKE @k",
		sql.Named("p", mssql.VarChar(partner)), sql.Named("k", mssql.VarChar(customerKey+"#%")))
	if err != nil {
		return nil, fmt.Errorf("read wish links: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var pid, ek string
		if err := rows.Scan(&pid, &ek); err != nil {
			return nil, err
		}
		var id int
		if _, err := fmt.Sscanf(ek[strings.IndexByte(ek, '#')+1:], "%d", &id); err == nil {
			out[pid] = id
		}
	}
	return out, rows.Err()
}

// rejected is a write SQL Server refuses for good: for its content (a
// duplicate key, a missing parent, a value too long) or for the set-up (a
// table, column or permission the mapping and the grants do not match):
// the writer dead-letters the event with the reason, and the rest flows.
type rejected struct{ error }

func (r rejected) Unwrap() error { return r.error }
func (rejected) Permanent() bool { return true }

// SQL Server error numbers, by what the writer does with them.
var (
	// refused: no retry can make SQL Server take the write.
	refused = map[int32]string{
		515: "NULL into a NOT NULL column", 547: "a constraint refused it", 2628: "a value too long for its column",
		8152: "a value too long for its column", 245: "a conversion failed", 8114: "a conversion failed",
		242: "a date out of the column's range", 334: "OUTPUT without INTO on a table with a trigger",
		208: "a table the mapping names does not exist", 207: "a column the mapping names does not exist",
		229: "the writer's login lacks a permission (see `edgesync edge check`)", 230: "the writer's login lacks a column permission",
		544: "an explicit value into an IDENTITY column (see docs/edge-access.md, numbering)",
		// Also raced: refused only once retryRaces has given up on them.
		2601: "a duplicate key", 2627: "a duplicate key",
	}
	// raced: another transaction got in the way; the whole write is tried
	// again at once. A duplicate key is a race on a new number the first
	// times, a real duplicate when it persists.
	raced = map[int32]bool{1205: true, 3960: true, 3961: true, 2601: true, 2627: true}
)

// classifySQL marks what SQL Server refuses for good as rejected.
func classifySQL(err error) error {
	var me mssql.Error
	if errors.As(err, &me) {
		if why, ok := refused[me.Number]; ok {
			return rejected{fmt.Errorf("%s (SQL Server error %d): %w", why, me.Number, err)}
		}
	}
	return err
}

// raceAttempts is how often a write that lost a race (a deadlock, a
// snapshot update conflict, a duplicate new number) is tried before its
// error is returned: the writer consumes one event at a time, so every
// later partner change waits while one is retried from outside.
const raceAttempts = 4

// retryRaces runs write until it succeeds, fails for another reason, or
// has lost raceAttempts races, waiting a little longer before each try.
func retryRaces(ctx context.Context, write func() error) error {
	var err error
	for attempt := range raceAttempts {
		if err = write(); err == nil {
			return nil
		}
		var me mssql.Error
		if !errors.As(err, &me) || !raced[me.Number] {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 50 * time.Millisecond):
		}
	}
	return err
}

// Apply implements writer.EdgeStore: one transaction, every DML marked with
// the partner's Change Tracking context, the event id in the ledger. A
// transaction that lost a race is tried again (retryRaces); what SQL
// Server refuses for good is rejected (classifySQL).
func (d *DB) Apply(ctx context.Context, origin, eventID string, cmds []projectors.Command) (bool, error) {
	var applied bool
	err := retryRaces(ctx, func() error {
		var err error
		applied, err = d.apply(ctx, origin, eventID, cmds)
		return err
	})
	return applied, classifySQL(err)
}

func (d *DB) apply(ctx context.Context, origin, eventID string, cmds []projectors.Command) (bool, error) {
	tx, err := d.db.BeginTx(ctx, &writeTxOptions)
	if err != nil {
		return false, fmt.Errorf("begin write: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	var done int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+d.own("AppliedEvents")+" WITH (UPDLOCK, HOLDLOCK) WHERE EventId = @id",
		sql.Named("id", eventID)).Scan(&done); err != nil {
		return false, fmt.Errorf("read ledger: %w", err)
	}
	if done > 0 {
		return false, nil
	}
	w := &sqlWrite{d: d, tx: tx, ctxBytes: OriginContext(origin)}
	for _, c := range cmds {
		if err := w.apply(ctx, c); err != nil {
			return false, fmt.Errorf("apply %T: %w", c, err)
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO "+d.own("AppliedEvents")+" (EventId, Origin) VALUES (@id, @o)",
		sql.Named("id", eventID), sql.Named("o", origin)); err != nil {
		return false, fmt.Errorf("record in ledger: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("commit write: %w", err)
	}
	return true, nil
}

type sqlWrite struct {
	d        *DB
	tx       *sql.Tx
	ctxBytes []byte
	created  string // key of the customer a CreateCustomer made
}

// exec runs one named DML statement marked with the origin's context.
func (w *sqlWrite) exec(ctx context.Context, name string, args ...any) error {
	_, err := w.tx.ExecContext(ctx, "WITH CHANGE_TRACKING_CONTEXT (@ctx) "+w.d.sql[name], append(args, sql.Named("ctx", w.ctxBytes))...)
	return err
}

// scalar runs a named INSERT whose OUTPUT clause writes the new row's id
// INTO @out, and returns that id. OUTPUT without INTO fails with error 334
// on a table with an enabled trigger, which a point of sale's tables often
// have; OUTPUT INTO a table variable works on every table.
func (w *sqlWrite) scalar(ctx context.Context, name string, dst any, args ...any) error {
	q := "DECLARE @out TABLE (id bigint);\nWITH CHANGE_TRACKING_CONTEXT (@ctx) " + w.d.sql[name] + ";\nSELECT id FROM @out;"
	return w.tx.QueryRowContext(ctx, q, append(args, sql.Named("ctx", w.ctxBytes))...).Scan(dst)
}

func (w *sqlWrite) target(key string) (int64, int64, error) {
	if key == "" {
		key = w.created
	}
	k, err := parseKey(key, 2)
	return k[0], k[1], err
}

func (w *sqlWrite) apply(ctx context.Context, c projectors.Command) error {
	switch c := c.(type) {
	case projectors.CreateCustomer:
		return w.createCustomer(ctx, c)
	case projectors.AddContactMethod:
		s, id, err := w.target(c.CustomerKey)
		if err != nil {
			return err
		}
		return w.addMethod(ctx, s, id, c.Method)
	case projectors.SetSyncEnabled:
		s, id, err := w.target(c.CustomerKey)
		if err != nil {
			return err
		}
		return w.exec(ctx, "write.sync",
			sql.Named("s", s), sql.Named("id", id))
	case projectors.SetCustomField:
		if len(c.Field) != 4 || !strings.HasPrefix(c.Field, "Key") || c.Field[3] < '1' || c.Field[3] > '8' {
			return rejected{fmt.Errorf("custom field %q: want Key1..Key8", c.Field)}
		}
		s, id, err := w.target(c.CustomerKey)
		if err != nil {
			return err
		}
		return w.exec(ctx, "write.field."+c.Field,
			sql.Named("v", c.Value), sql.Named("s", s), sql.Named("id", id))
	case projectors.AddWish:
		return w.addWish(ctx, c)
	case projectors.RemoveWish:
		s, id, err := w.target(c.CustomerKey)
		if err != nil {
			return err
		}
		return w.exec(ctx, "write.removewish",
			sql.Named("s", s), sql.Named("id", id), sql.Named("w", c.WishID), sql.Named("now", w.d.wallClock(time.Now())))
	case projectors.PutNote:
		return w.putNote(ctx, c)
	case projectors.AddActivity:
		s, id, err := w.target(c.CustomerKey)
		if err != nil {
			return err
		}
		a := c.Activity
		return w.exec(ctx, "write.activity",
			sql.Named("s", s), sql.Named("id", id), sql.Named("at", w.d.wallClock(a.At)), sql.Named("k", a.Kind), sql.Named("ch", a.Channel),
			sql.Named("dir", a.Direction), sql.Named("b", a.Body), sql.Named("src", a.Source), sql.Named("ext", a.PartnerID))
	case projectors.SetNotificationStatus:
		k, err := parseKey(c.NotificationKey, 2)
		if err != nil {
			return rejected{err}
		}
		return w.exec(ctx, "write.notification",
			sql.Named("st", c.Status), sql.Named("s", k[0]), sql.Named("id", k[1]))
	case projectors.Link:
		key := c.EdgeKey
		if key == "" {
			key = w.created
		}
		return w.link(ctx, c.Partner, c.Entity, c.PartnerID, key)
	}
	return rejected{fmt.Errorf("unknown command %T", c)}
}

// link records a partner id; edgesync's own table, so no tracking context.
// Its varchar columns get varchar parameters (go-mssqldb sends a Go string
// as nvarchar): an nvarchar parameter makes SQL Server convert the column,
// which can turn the key seek into a scan, and MERGE ... HOLDLOCK would
// then range-lock the whole table.
func (w *sqlWrite) link(ctx context.Context, partner, entity, partnerID, key string) error {
	_, err := w.tx.ExecContext(ctx, "MERGE "+w.d.own("Links")+` WITH (HOLDLOCK) AS l
USING (SELECT @p AS Partner, @e AS Entity, @id AS PartnerId) AS s ON l.Partner = s.Partner AND l.Entity = s.Entity AND l.PartnerId = s.PartnerId
WHEN MATCHED THEN UPDATE SET EdgeKey = @k
WHEN NOT MATCHED THEN INSERT (Partner, Entity, PartnerId, EdgeKey) VALUES (@p, @e, @id, @k);`,
		sql.Named("p", mssql.VarChar(partner)), sql.Named("e", mssql.VarChar(entity)), sql.Named("id", partnerID), sql.Named("k", mssql.VarChar(key)))
	return err
}

func (w *sqlWrite) createCustomer(ctx context.Context, c projectors.CreateCustomer) error {
	k, err := parseKey(c.Store+"-0", 2)
	if err != nil {
		return rejected{err}
	}
	s := k[0]
	whyIn, err := w.whyIn(ctx, c.Customer.Acquisition)
	if err != nil {
		return err
	}
	cu := c.Customer
	keys := make([]any, 8)
	for i := range keys {
		keys[i] = sql.NullString{String: cu.CustomFields[fmt.Sprintf("Key%d", i+1)], Valid: cu.CustomFields[fmt.Sprintf("Key%d", i+1)] != ""}
	}
	id, err := w.insertNumbered(ctx, "customer", "write.customer", []any{sql.Named("s", s)},
		sql.Named("s", s), sql.Named("first", cu.FirstName), sql.Named("last", sql.NullString{String: cu.LastName, Valid: cu.LastName != ""}),
		sql.Named("why", whyIn), sql.Named("k1", keys[0]), sql.Named("k2", keys[1]), sql.Named("k3", keys[2]), sql.Named("k4", keys[3]),
		sql.Named("k5", keys[4]), sql.Named("k6", keys[5]), sql.Named("k7", keys[6]), sql.Named("k8", keys[7]), sql.Named("sync", cu.SyncEnabled),
		sql.Named("now", w.d.wallClock(time.Now())))
	if err != nil {
		return err
	}
	// The customer is its own account; its number is known only now
	// when SQL Server gave it (IDENTITY).
	if err := w.exec(ctx, "write.customer.account", sql.Named("s", s), sql.Named("id", id)); err != nil {
		return err
	}
	w.created = custKey(s, id)
	for _, m := range cu.ContactMethods {
		if err := w.addMethod(ctx, s, id, m); err != nil {
			return err
		}
	}
	return nil
}

// insertNumbered runs the named INSERT of a row of sequence seq, numbered
// as the mapping's Numbering says, and returns the row's number. scope
// are the arguments of the max strategy's query (the store, the
// customer); args the INSERT's. With IDENTITY, SQL Server numbers the row;
// otherwise the writer takes the number first and the INSERT names it.
func (w *sqlWrite) insertNumbered(ctx context.Context, seq, name string, scope []any, args ...any) (int64, error) {
	rule, ok := w.d.m.Numbering[seq]
	var next int64
	switch {
	case !ok:
		return 0, rejected{fmt.Errorf("cannot number a new %s: the edge mapping chooses no numbering for %q (identity, counter or max; docs/edge-access.md, Numbering)", seq, seq)}
	case rule.Strategy == schemas.NumberIdentity:
		var id int64
		err := w.scalar(ctx, name, &id, args...)
		return id, err
	case rule.Strategy == schemas.NumberMax:
		if err := w.tx.QueryRowContext(ctx, w.d.sql["write.max."+seq], scope...).Scan(&next); err != nil {
			return 0, fmt.Errorf("number a new %s: %w", seq, err)
		}
	case rule.Strategy == schemas.NumberCounter:
		counter := rule.Counter
		if len(scope) > 0 {
			if s, ok := scope[0].(sql.NamedArg); ok && s.Name == "s" {
				counter = strings.ReplaceAll(counter, "{store}", store(s.Value.(int64)))
			}
		}
		err := w.tx.QueryRowContext(ctx, w.d.sql["write.counter"], sql.Named("n", counter)).Scan(&next)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, rejected{fmt.Errorf("number a new %s: counter %q is not in the counters table", seq, counter)}
		}
		if err != nil {
			return 0, fmt.Errorf("number a new %s from counter %q: %w", seq, counter, err)
		}
	default:
		return 0, rejected{fmt.Errorf("cannot number a new %s: strategy %q", seq, rule.Strategy)}
	}
	var id int64
	err := w.scalar(ctx, name+".id", &id, append(args, sql.Named("newid", next))...)
	return id, err
}

// whyIn finds the why-in of an acquisition, adding it to the list when new.
func (w *sqlWrite) whyIn(ctx context.Context, desc string) (sql.NullInt64, error) {
	if desc == "" {
		return sql.NullInt64{}, nil
	}
	var id int64
	err := w.tx.QueryRowContext(ctx, w.d.sql["write.findwhyin"], sql.Named("d", desc)).Scan(&id)
	if err == nil {
		return sql.NullInt64{Int64: id, Valid: true}, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return sql.NullInt64{}, err
	}
	if id, err = w.insertNumbered(ctx, "whyin", "write.addwhyin", nil, sql.Named("d", desc)); err != nil {
		return sql.NullInt64{}, err
	}
	return sql.NullInt64{Int64: id, Valid: true}, nil
}

// addMethod inserts a contact method unless the same one is already there:
// partner changes only ever add.
func (w *sqlWrite) addMethod(ctx context.Context, s, id int64, m schemas.ContactMethod) error {
	a := m.Address
	if a == nil {
		a = &schemas.Address{}
	}
	null := func(v string) sql.NullString { return sql.NullString{String: v, Valid: v != ""} }
	return w.exec(ctx, "write.method",
		sql.Named("s", s), sql.Named("id", id), sql.Named("m", m.Method), sql.Named("t", null(m.Type)), sql.Named("v", null(m.Value)),
		sql.Named("a1", null(a.Line1)), sql.Named("a2", null(a.Line2)), sql.Named("city", null(a.City)), sql.Named("st", null(a.State)),
		sql.Named("zip", null(a.PostalCode)), sql.Named("ctry", null(a.Country)), sql.Named("pref", m.Preferred), sql.Named("text", m.CanText),
		sql.Named("src", null(m.Source)))
}

func (w *sqlWrite) addWish(ctx context.Context, c projectors.AddWish) error {
	s, id, err := w.target(c.CustomerKey)
	if err != nil {
		return err
	}
	wi := c.Wish
	var itS, itC, itN sql.NullInt64
	if wi.ItemKey != "" {
		k, err := parseKey(wi.ItemKey, 3)
		if err != nil {
			return rejected{err}
		}
		itS, itC, itN = sql.NullInt64{Int64: k[0], Valid: true}, sql.NullInt64{Int64: k[1], Valid: true}, sql.NullInt64{Int64: k[2], Valid: true}
	}
	wishID, err := w.insertNumbered(ctx, "wish", "write.wish", []any{sql.Named("s", s), sql.Named("id", id)},
		sql.Named("s", s), sql.Named("id", id), sql.Named("k", wi.Kind), sql.Named("is", itS), sql.Named("ic", itC), sql.Named("in", itN),
		sql.Named("v", sql.NullString{String: wi.VendorID, Valid: wi.VendorID != ""}), sql.Named("sc", sql.NullString{String: wi.VendStyleCode, Valid: wi.VendStyleCode != ""}),
		sql.Named("d", wi.Description), sql.Named("at", w.d.wallClock(wi.DateEntered)), sql.Named("src", wi.Source))
	if err != nil {
		return err
	}
	if c.PartnerID == "" {
		return nil
	}
	return w.link(ctx, strings.ToLower(wi.Source), "wish", c.PartnerID, fmt.Sprintf("%s#%d", custKey(s, id), wishID))
}

func (w *sqlWrite) putNote(ctx context.Context, c projectors.PutNote) error {
	n := c.Note
	s, id, err := w.target(n.CustomerKey)
	if err != nil {
		return err
	}
	if n.ID != 0 {
		return w.exec(ctx, "write.editnote",
			sql.Named("t", n.Text), sql.Named("s", s), sql.Named("n", n.ID))
	}
	noteID, err := w.insertNumbered(ctx, "note", "write.note", []any{sql.Named("s", s)},
		sql.Named("s", s), sql.Named("id", id), sql.Named("at", w.d.wallClock(n.Date)), sql.Named("t", n.Text), sql.Named("src", n.Source))
	if err != nil {
		return err
	}
	if c.PartnerID == "" {
		return nil
	}
	return w.link(ctx, strings.ToLower(n.Source), "note", c.PartnerID, storeSeqKey(aggKey{s, noteID}))
}

// writeSQL are the writer's statements, expanded through the mapping at Open.
var writeSQL = map[string]string{
	"write.activity": `INSERT INTO {CustomerActivity} ({CustomerActivity.CustomerStoreId}, {CustomerActivity.CustomerId}, {CustomerActivity.ActivityDate},
 {CustomerActivity.Kind}, {CustomerActivity.Channel}, {CustomerActivity.Direction}, {CustomerActivity.Body}, {CustomerActivity.Source}, {CustomerActivity.ExternalId})
VALUES (@s, @id, @at, @k, @ch, @dir, @b, @src, @ext)`,
	"write.addwhyin": `INSERT INTO {WhyIns} ({WhyIns.Description}#ID:WhyIns.WhyInId#)
OUTPUT inserted.{WhyIns.WhyInId} INTO @out VALUES (@d#IDV#)`,
	"write.byemail": `SELECT TOP (1) c.{Customers.CustomerStoreId}, c.{Customers.CustomerId}
FROM {CustomerContactMethods} AS m
JOIN {Customers} AS c ON c.{Customers.CustomerStoreId} = m.{CustomerContactMethods.CustomerStoreId} AND c.{Customers.CustomerId} = m.{CustomerContactMethods.CustomerId}
WHERE m.{CustomerContactMethods.Method} = 'EMAIL' AND m.{CustomerContactMethods.Inactive} = 0 AND c.{Customers.Inactive} = 0
  AND LOWER(LTRIM(RTRIM(m.{CustomerContactMethods.PhoneOrEmail}))) = @e
ORDER BY c.{Customers.DateEntered}, c.{Customers.CustomerStoreId}, c.{Customers.CustomerId}`,
	"write.customer": `INSERT INTO {Customers} ({Customers.CustomerStoreId}#ID:Customers.CustomerId#,
 {Customers.FirstName}, {Customers.LastName}, {Customers.AcquisitionWhyInId}, {Customers.Key1}, {Customers.Key2}, {Customers.Key3}, {Customers.Key4},
 {Customers.Key5}, {Customers.Key6}, {Customers.Key7}, {Customers.Key8}, {Customers.SyncEnabled}, {Customers.Inactive}, {Customers.DateEntered})
OUTPUT inserted.{Customers.CustomerId} INTO @out
VALUES (@s#IDV#, @first, @last, @why, @k1, @k2, @k3, @k4, @k5, @k6, @k7, @k8, @sync, 0, @now)`,
	"write.customer.account": `UPDATE {Customers} SET {Customers.AccountStoreId} = {Customers.CustomerStoreId}, {Customers.AccountId} = {Customers.CustomerId}
WHERE {Customers.CustomerStoreId} = @s AND {Customers.CustomerId} = @id`,
	"write.editnote":  `UPDATE {CustomerNotes} SET {CustomerNotes.NoteText} = @t WHERE {CustomerNotes.CustomerStoreId} = @s AND {CustomerNotes.NoteId} = @n`,
	"write.findwhyin": `SELECT {WhyIns.WhyInId} FROM {WhyIns} WITH (UPDLOCK, HOLDLOCK) WHERE {WhyIns.Description} = @d`,
	"write.method": `INSERT INTO {CustomerContactMethods} ({CustomerContactMethods.CustomerStoreId}, {CustomerContactMethods.CustomerId},
 {CustomerContactMethods.Method}, {CustomerContactMethods.ContactType}, {CustomerContactMethods.PhoneOrEmail}, {CustomerContactMethods.Address1},
 {CustomerContactMethods.Address2}, {CustomerContactMethods.City}, {CustomerContactMethods.State}, {CustomerContactMethods.PostalCode},
 {CustomerContactMethods.Country}, {CustomerContactMethods.IsPreferred}, {CustomerContactMethods.CanText}, {CustomerContactMethods.OptedOut},
 {CustomerContactMethods.Source}, {CustomerContactMethods.Inactive})
SELECT @s, @id, @m, @t, @v, @a1, @a2, @city, @st, @zip, @ctry, @pref, @text, 0, @src, 0
WHERE NOT EXISTS (SELECT 1 FROM {CustomerContactMethods} WHERE {CustomerContactMethods.CustomerStoreId} = @s AND {CustomerContactMethods.CustomerId} = @id
  AND {CustomerContactMethods.Method} = @m AND {CustomerContactMethods.Inactive} = 0 AND @v IS NOT NULL
  AND LOWER({CustomerContactMethods.PhoneOrEmail}) = LOWER(@v))`,
	// The max strategy: one more than the highest number, under an update
	// lock held to the end of the transaction, so two writers never take
	// the same one.
	"write.max.customer": `SELECT ISNULL(MAX({Customers.CustomerId}), 0) + 1 FROM {Customers} WITH (UPDLOCK, HOLDLOCK) WHERE {Customers.CustomerStoreId} = @s`,
	"write.max.whyin":    `SELECT ISNULL(MAX({WhyIns.WhyInId}), 0) + 1 FROM {WhyIns} WITH (UPDLOCK, HOLDLOCK)`,
	"write.max.note":     `SELECT ISNULL(MAX({CustomerNotes.NoteId}), 0) + 1 FROM {CustomerNotes} WITH (UPDLOCK, HOLDLOCK) WHERE {CustomerNotes.CustomerStoreId} = @s`,
	"write.max.wish": `SELECT ISNULL(MAX({WishListItems.WishId}), 0) + 1 FROM {WishListItems} WITH (UPDLOCK, HOLDLOCK)
WHERE {WishListItems.CustomerStoreId} = @s AND {WishListItems.CustomerId} = @id`,
	"write.note": `INSERT INTO {CustomerNotes} ({CustomerNotes.CustomerStoreId}, {CustomerNotes.CustomerId}, {CustomerNotes.NoteDate},
 {CustomerNotes.NoteText}, {CustomerNotes.Source}#ID:CustomerNotes.NoteId#) OUTPUT inserted.{CustomerNotes.NoteId} INTO @out VALUES (@s, @id, @at, @t, @src#IDV#)`,
	"write.notification": `UPDATE {Notifications} SET {Notifications.Status} = @st WHERE {Notifications.StoreId} = @s AND {Notifications.NotificationId} = @id`,
	"write.removewish": `UPDATE {WishListItems} SET {WishListItems.DateRemoved} = @now
WHERE {WishListItems.CustomerStoreId} = @s AND {WishListItems.CustomerId} = @id AND {WishListItems.WishId} = @w AND {WishListItems.DateRemoved} IS NULL`,
	"write.sync": `UPDATE {Customers} SET {Customers.SyncEnabled} = 1 WHERE {Customers.CustomerStoreId} = @s AND {Customers.CustomerId} = @id`,
	"write.wish": `INSERT INTO {WishListItems} ({WishListItems.CustomerStoreId}, {WishListItems.CustomerId}, {WishListItems.WishKind},
 {WishListItems.ItemStoreId}, {WishListItems.CatId}, {WishListItems.StockNo}, {WishListItems.VendorId}, {WishListItems.VendStyleCode},
 {WishListItems.ItemDesc}, {WishListItems.DateEntered}, {WishListItems.Source}#ID:WishListItems.WishId#)
OUTPUT inserted.{WishListItems.WishId} INTO @out
VALUES (@s, @id, @k, @is, @ic, @in, @v, @sc, @d, @at, @src#IDV#)`,
}

// idColumn and idValue mark, in a numbered INSERT, where the row's number
// goes when the writer numbers it itself: "<name>.id" has them, "<name>"
// (IDENTITY) leaves them out.
var (
	idColumn = regexp.MustCompile(`#ID:(\w+\.\w+)#`)
	idValue  = "#IDV#"
)

// numberedVariants expands a numbered INSERT's template into its two
// statements: without the number (IDENTITY) and with it (@newid).
func numberedVariants(tmpl string) (identity, explicit string) {
	identity = strings.ReplaceAll(idColumn.ReplaceAllString(tmpl, ""), idValue, "")
	explicit = strings.ReplaceAll(idColumn.ReplaceAllString(tmpl, ", {$1}"), idValue, ", @newid")
	return identity, explicit
}

func init() {
	for name, tmpl := range writeSQL {
		if strings.Contains(tmpl, idValue) {
			writeSQL[name], writeSQL[name+".id"] = numberedVariants(tmpl)
		}
	}
	for i := 1; i <= 8; i++ {
		f := fmt.Sprintf("Key%d", i)
		writeSQL["write.field."+f] = "UPDATE {Customers} SET {Customers." + f + "} = @v WHERE {Customers.CustomerStoreId} = @s AND {Customers.CustomerId} = @id"
	}
}
