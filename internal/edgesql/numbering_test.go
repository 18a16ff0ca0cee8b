package edgesql

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/edgesync/edgesync/schemas"
)

// How the writer numbers a new customer, why-in, note or wish is the
// site's choice, one statement per strategy: with IDENTITY the INSERT
// names no number (an explicit one fails with error 544) and reads SQL
// Server's back; with a counter or MAX+1 the number is taken first and
// the INSERT names it. No strategy, no number: MAX+1 is never the silent
// default, since it collides with a point of sale that numbers from its own
// counter and reuses the number of a deleted last row.
func TestNumberingStrategies(t *testing.T) {
	m := schemas.DefaultMapping()
	_, ok := m.Numbering["customer"]
	assert.False(t, ok, "the default mapping chooses no numbering for customers")
	assert.Equal(t, schemas.NumberIdentity, m.Numbering["note"].Strategy, "the proposed schema's NoteId is IDENTITY")

	m.Counters = schemas.CounterTable{Table: "Counters", Name: "CounterName", Value: "LastValue"}
	m.Numbering["customer"] = schemas.NumberRule{Strategy: schemas.NumberCounter, Counter: "NextCustomer{store}"}
	require.NoError(t, m.Validate())
	d, err := newDB(nil, m)
	require.NoError(t, err)

	identity, explicit := d.sql["write.customer"], d.sql["write.customer.id"]
	assert.Contains(t, identity, "INSERT INTO [dbo].[Customers] ([CustomerStoreId],\n [FirstName]")
	assert.NotContains(t, identity, "@newid")
	assert.Contains(t, identity, "OUTPUT inserted.[CustomerId] INTO @out")
	assert.Contains(t, explicit, "INSERT INTO [dbo].[Customers] ([CustomerStoreId], [CustomerId],\n [FirstName]")
	assert.Contains(t, explicit, "VALUES (@s, @newid, @first")
	assert.Contains(t, d.sql["write.note.id"], "[Source], [NoteId]) OUTPUT inserted.[NoteId] INTO @out VALUES (@s, @id, @at, @t, @src, @newid)")
	assert.Contains(t, d.sql["write.addwhyin"], "VALUES (@d)")
	assert.Equal(t, "DECLARE @c TABLE (v bigint);\nUPDATE [dbo].[Counters] SET [LastValue] = [LastValue] + 1 OUTPUT inserted.[LastValue] INTO @c WHERE [CounterName] = @n;\nSELECT v FROM @c;",
		d.sql["write.counter"], "the counter's next number, taken and kept in one statement")
	assert.Contains(t, d.sql["write.max.customer"], "WITH (UPDLOCK, HOLDLOCK) WHERE [CustomerStoreId] = @s")
	for name, q := range d.sql {
		assert.NotContains(t, q, "#ID", name)
	}

	for _, tt := range []struct {
		name string
		edit func(*schemas.Mapping)
		want string
	}{
		{"an unknown strategy", func(m *schemas.Mapping) { m.Numbering["customer"] = schemas.NumberRule{Strategy: "guess"} }, `strategy "guess": want identity, counter or max`},
		{"an unknown sequence", func(m *schemas.Mapping) { m.Numbering["sale"] = schemas.NumberRule{Strategy: "max"} }, `numbering "sale": not a sequence`},
		{"a counter without a name", func(m *schemas.Mapping) { m.Numbering["whyin"] = schemas.NumberRule{Strategy: "counter"} }, "needs the counter's name"},
		{"a counter without its table", func(m *schemas.Mapping) {
			m.Counters = schemas.CounterTable{}
			m.Numbering["whyin"] = schemas.NumberRule{Strategy: "counter", Counter: "WhyIn"}
		}, "counters table"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := schemas.DefaultMapping()
			m.Counters = schemas.CounterTable{Table: "Counters", Name: "CounterName", Value: "LastValue"}
			tt.edit(&m)
			assert.ErrorContains(t, m.Validate(), tt.want)
		})
	}

	assert.Equal(t, "customer: [dbo].[Customers].[CustomerId] is IDENTITY: choose identity; the mapping chooses max, which does not fit",
		numberingAdvice("customer", "[dbo].[Customers].[CustomerId]", true, schemas.NumberRule{Strategy: "max"}, true))
	assert.Contains(t, numberingAdvice("whyin", "[dbo].[WhyIns].[WhyInId]", false, schemas.NumberRule{}, false),
		"is not IDENTITY: choose counter (if The Edge numbers from a counter table) or, only if nothing else numbers it, max; the mapping chooses none: the writer will not start")
}
