package capture_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/capture"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/sim/edgesim"
	"github.com/edgesync/edgesync/streams"
	"github.com/edgesync/edgesync/test/natstest"
)

// withBadRow adds to the changes of one entity a row whose key cannot be
// a subject token, as a real Edge table with a free-text key could hold.
type withBadRow struct {
	*edgesim.DB
	entity schemas.Entity
	key    string
}

func (s *withBadRow) Changes(ctx context.Context, e schemas.Entity, since, until int64, fn func(capture.Row) error) error {
	if e == s.entity {
		if err := fn(capture.Row{Entity: e, Key: s.key, Version: until, Deleted: true}); err != nil {
			return err
		}
	}
	return s.DB.Changes(ctx, e, since, until, fn)
}

// failing fails every read of one entity's changes, as a table the login
// may not read would.
type failing struct {
	*edgesim.DB
	entity schemas.Entity
}

func (s *failing) Changes(ctx context.Context, e schemas.Entity, since, until int64, fn func(capture.Row) error) error {
	if e == s.entity {
		return errors.New("SELECT permission was denied")
	}
	return s.DB.Changes(ctx, e, since, until, fn)
}

// subjectsOf are the EDGE subjects stored so far, as a set.
func subjectsOf(t *testing.T, srv *natstest.Server) map[string]int {
	out := map[string]int{}
	for _, m := range natstest.Messages(t, srv.JS, streams.StreamEdge) {
		out[m.Subject]++
	}
	return out
}

// One Edge row larger than NATS takes (a 2 MB note) or whose key cannot be
// a subject is dead-lettered by capture with its reason; the checkpoint
// moves past it and the other changes of the cycle, of its entity and of
// the entities after it, are published. Once the row is fixed, its next
// change flows as usual.
func TestARowThatCannotBePublishedDoesNotHoldCapture(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	src := &withBadRow{DB: db, entity: schemas.EntityWishList, key: "001-" + strings.Repeat("9", 300)}
	c, err := capture.New(ctx, src, srv.JS, capture.Config{Site: "test"}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx)) // the snapshot

	var customer, bigNote, smallNote, item string
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		customer, err = tx.NewCustomer("001", schemas.Customer{FirstName: "Ada", LastName: "Lovelace", SyncEnabled: true})
		if err != nil {
			return err
		}
		if bigNote, err = tx.PutNote(schemas.Note{CustomerKey: customer, Text: strings.Repeat("ring size 7; ", 160_000)}); err != nil {
			return err
		}
		if smallNote, err = tx.PutNote(schemas.Note{CustomerKey: customer, Text: "prefers white gold"}); err != nil {
			return err
		}
		item = tx.PutItem(schemas.Item{Store: "001", CategoryID: 7, Description: "pearl studs"})
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx), "a row that cannot be published does not fail the cycle")

	subjects := subjectsOf(t, srv)
	for _, key := range []struct {
		e   schemas.Entity
		key string
	}{{schemas.EntityCustomer, customer}, {schemas.EntityNote, smallNote}, {schemas.EntityItem, item}} {
		s, err := schemas.EdgeSubjectFor(key.e, key.key)
		require.NoError(t, err)
		assert.Equal(t, 1, subjects[s.String()], "%s %s is published", key.e, key.key)
	}
	big, err := schemas.EdgeSubjectFor(schemas.EntityNote, bigNote)
	require.NoError(t, err)
	assert.Zero(t, subjects[big.String()], "the 2 MB note is not")
	dead, err := streams.DeadLetters(ctx, srv.JS, 0)
	require.NoError(t, err)
	require.Len(t, dead, 2)
	reasons := dead[0].Reason + "\n" + dead[1].Reason
	assert.Contains(t, reasons, "note "+bigNote)
	assert.Contains(t, reasons, "max_payload")
	assert.Contains(t, reasons, "at most 256 fit a subject token")
	assert.Contains(t, reasons, "fix the row in Edge")
	assert.Equal(t, "capture", dead[0].Consumer)
	assert.EqualValues(t, 2, c.Stats().Unpublished)
	cur, err := db.CurrentVersion(ctx)
	require.NoError(t, err)
	cp, _, err := c.LoadCheckpoint(ctx, schemas.EntityNote)
	require.NoError(t, err)
	assert.Equal(t, cur, cp.Version, "the checkpoint moved past the note")
	redriven, err := streams.Redrive(ctx, srv.JS, "capture", dead[:1])
	require.NoError(t, err)
	require.Len(t, redriven.Kept, 1, "a capture dead letter is a record, not an event to redrive")
	assert.Contains(t, redriven.Kept[0].Why, "fix the row in Edge")

	src.entity = "" // the bad key is gone from the table
	_, err = db.Update("", func(tx *edgesim.Tx) error {
		n := tx.Note(bigNote)
		n.Text = "ring size 7"
		_, err := tx.PutNote(*n)
		return err
	})
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))
	assert.Equal(t, 1, subjectsOf(t, srv)[big.String()], "the fixed note flows")
	assert.NoError(t, c.Ready(ctx))
}

// An entity that fails (here sales, whose table the login may not read)
// stays at its checkpoint while the entities after it go on; once it has
// failed a few cycles in a row, Ready says so for /readyz. Customers are
// the exception: every other aggregate names one, so when they fail the
// rest waits.
func TestAFailingEntityDoesNotHoldTheOthers(t *testing.T) {
	ctx := context.Background()
	srv, db := generated(t)
	src := &failing{DB: db}
	c, err := capture.New(ctx, src, srv.JS, capture.Config{Site: "test"}, quiet)
	require.NoError(t, err)
	require.NoError(t, c.Cycle(ctx))

	newItem := func() string {
		var key string
		_, err := db.Update("", func(tx *edgesim.Tx) error {
			key = tx.PutItem(schemas.Item{Store: "001", CategoryID: 7, Description: "pearl studs"})
			return nil
		})
		require.NoError(t, err)
		s, err := schemas.EdgeSubjectFor(schemas.EntityItem, key)
		require.NoError(t, err)
		return s.String()
	}
	src.entity = schemas.EntitySale
	item := newItem()
	for range 3 {
		assert.ErrorContains(t, c.Cycle(ctx), "SELECT permission was denied")
	}
	assert.Equal(t, 1, subjectsOf(t, srv)[item], "items, after sales, still flow")
	assert.ErrorContains(t, c.Ready(ctx), "the last 3 capture cycles failed")

	src.entity = schemas.EntityCustomer
	item = newItem()
	assert.Error(t, c.Cycle(ctx))
	assert.Zero(t, subjectsOf(t, srv)[item], "nothing goes on while customers fail")

	src.entity = ""
	require.NoError(t, c.Cycle(ctx))
	assert.Equal(t, 1, subjectsOf(t, srv)[item])
	assert.NoError(t, c.Ready(ctx))
}
