package edgesql

import (
	"testing"
	"time"

	"github.com/golang-sql/civil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Edge's datetime columns hold the store's wall clock. go-mssqldb
// reads one as that wall clock in UTC: it is read back in the store's zone.
// The writer sends the instant's wall clock in the store's zone, without an
// offset (a time.Time would go as datetimeoffset, and a datetime column
// would keep UTC's wall clock); a zero time, which overflows datetime
// (error 242), goes as NULL.
func TestTimesAreTheStoresWallClock(t *testing.T) {
	chicago, err := time.LoadLocation("America/Chicago")
	require.NoError(t, err)
	d := &DB{zone: chicago}
	// 10:30 at the counter in December (UTC-6), as go-mssqldb returns it.
	fromDriver := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	assert.Equal(t, time.Date(2026, 12, 6, 16, 30, 0, 0, time.UTC), d.instant(fromDriver))
	// In July the offset is -5: the zone's rules, not a fixed offset.
	assert.Equal(t, time.Date(2026, 7, 6, 15, 30, 0, 0, time.UTC), d.instant(time.Date(2026, 7, 6, 10, 30, 0, 0, time.UTC)))

	written := d.wallClock(time.Date(2026, 12, 6, 16, 30, 0, 0, time.UTC))
	assert.Equal(t, civil.DateTime{Date: civil.Date{Year: 2026, Month: 12, Day: 6}, Time: civil.Time{Hour: 10, Minute: 30}}, written)
	assert.Nil(t, d.wallClock(time.Time{}), "a zero time is NULL, not year 1")
	back := written.(civil.DateTime).In(time.UTC) // what the driver would read back
	assert.Equal(t, time.Date(2026, 12, 6, 16, 30, 0, 0, time.UTC), d.instant(back), "a round trip keeps the instant")
}
