package edgesql

import (
	"time"

	"github.com/golang-sql/civil"
)

// The Edge's datetime columns hold a wall clock with no zone: the store's
// local time, as a point of sale on a Windows server writes it.
// go-mssqldb returns such a column as that wall clock in UTC, and sends a
// time.Time as datetimeoffset, which SQL Server stores in a datetime
// column by dropping the offset: without converting, every time read
// would be off by the store's offset, and every time written by the
// writer would be UTC's wall clock in a local column.

// instant reads a datetime column's wall clock in the store's zone.
func (d *DB) instant(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), d.zone).UTC()
}

// wallClock is the parameter for a datetime column: the instant's wall
// clock in the store's zone, sent as datetime2 without an offset. A zero
// time is NULL: year 1 overflows datetime (SQL Server error 242), and an
// unknown time is better left empty than made up.
func (d *DB) wallClock(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return civil.DateTimeOf(t.In(d.zone))
}
