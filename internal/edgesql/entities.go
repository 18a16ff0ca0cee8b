package edgesql

import (
	"database/sql"
	"fmt"
	"strings"

	"github.com/edgesync/edgesync/schemas"
)

// aggKey is an aggregate's key as numbers: store first, then up to two more
// parts (customer number; sale and job number; category and stock number).
type aggKey [3]int64

// tracked is a table whose changes re-emit an aggregate.
type tracked struct {
	table string   // logical name
	pk    []string // every primary-key column, as CHANGETABLE(VERSION ...) needs them
	key   []string // the primary-key columns that give the aggregate key, in key order
}

// entityDef describes how one aggregate is stored.
type entityDef struct {
	entity  schemas.Entity
	tracked []tracked // the first is the root
	// page lists the aggregates that exist, for snapshots: a query with
	// @n and the keyset parameters @a0, @a1, @a2, returning key columns.
	page   string
	format func(aggKey) string
	load   loader
}

func (d entityDef) keyLen() int { return len(d.tracked[0].key) }

// keyset builds "after (@a0, @a1, ...)" for key columns cols of alias.
func keyset(alias string, cols []string) string {
	var b strings.Builder
	for i := range cols {
		if i > 0 {
			b.WriteString(" OR (")
		}
		for j := 0; j < i; j++ {
			fmt.Fprintf(&b, "%s.%s = @a%d AND ", alias, cols[j], j)
		}
		fmt.Fprintf(&b, "%s.%s > @a%d", alias, cols[i], i)
		if i > 0 {
			b.WriteString(")")
		}
	}
	return "(" + b.String() + ")"
}

// cols turns logical columns of a table into {Table.Column} placeholders.
func cols(table string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = "{" + table + "." + n + "}"
	}
	return out
}

// keyColumns selects the aggregate key as k0..k2 (bigint, zero-padded).
func keyColumns(alias string, keyCols []string) string {
	parts := make([]string, 3)
	for i := range parts {
		if i < len(keyCols) {
			parts[i] = fmt.Sprintf("CAST(%s.%s AS bigint) AS k%d", alias, keyCols[i], i)
		} else {
			parts[i] = fmt.Sprintf("CAST(0 AS bigint) AS k%d", i)
		}
	}
	return strings.Join(parts, ", ")
}

// keysJoin joins alias on the key list of a keySet.
func keysJoin(alias string, keyCols []string) string {
	on := make([]string, len(keyCols))
	for i, c := range keyCols {
		on[i] = fmt.Sprintf("%s.%s = k.k%d", alias, c, i)
	}
	return fmt.Sprintf("JOIN %s AS k ON %s", keysMarker(len(keyCols)), strings.Join(on, " AND "))
}

// keysMarker stands in a query template for the derived table of a key
// list with n parts; newDB replaces it with keysTable(n).
func keysMarker(n int) string { return fmt.Sprintf("#KEYS%d#", n) }

// keysTable is the derived table (k0, k1[, k2]) of a key list passed as
// chunk rows of named parameters @k<i>_<row> (keyArgs). It replaces
// OPENJSON, which needs database compatibility level 130, where an ISV
// database carried forward from an older SQL Server often sits: VALUES
// works at every level. A list shorter than chunk is padded with its first
// key, so each query has one text and one plan; DISTINCT drops the
// padding. chunk rows of three parts stay under SQL Server's 2,100
// parameters to a request.
func keysTable(n int) string {
	rows := make([]string, chunk)
	names := make([]string, n)
	for r := range rows {
		for i := range names {
			names[i] = fmt.Sprintf("@k%d_%d", i, r)
		}
		rows[r] = "(" + strings.Join(names, ", ") + ")"
	}
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("k%d", i)
	}
	return fmt.Sprintf("(SELECT DISTINCT %s FROM (VALUES %s) AS v (%s))", strings.Join(parts, ", "), strings.Join(rows, ", "), strings.Join(parts, ", "))
}

// keySet is a key list as keysTable's named parameters.
type keySet []any

// keyArgs passes keys (at most chunk) with n parts each, padded to chunk.
func keyArgs(keys []aggKey, n int) keySet {
	out := make(keySet, 0, chunk*n)
	for r := range chunk {
		k := keys[0]
		if r < len(keys) {
			k = keys[r]
		}
		for i := range n {
			out = append(out, sql.Named(fmt.Sprintf("k%d_%d", i, r), k[i]))
		}
	}
	return out
}

// latestPerKey wraps a union of (k0, k1, k2, v, ctx) rows and keeps, per
// aggregate, the latest version and the context of that change.
func latestPerKey(union []string) string {
	return "SELECT k0, k1, k2, v, ctx FROM (SELECT k0, k1, k2, v, ctx, ROW_NUMBER() OVER (PARTITION BY k0, k1, k2 ORDER BY v DESC) AS rn FROM (\n" +
		strings.Join(union, "\nUNION ALL\n") + "\n) AS u WHERE v IS NOT NULL) AS r WHERE rn = 1"
}

// changesSQL lists every aggregate with a change after @since in any of its
// tables, with its latest version and that change's context.
func (d entityDef) changesSQL() string {
	var union []string
	for _, t := range d.tracked {
		union = append(union, fmt.Sprintf(
			"SELECT %s, ct.SYS_CHANGE_VERSION AS v, ct.SYS_CHANGE_CONTEXT AS ctx FROM CHANGETABLE(CHANGES {%s}, @since) AS ct",
			keyColumns("ct", cols(t.table, t.key)), t.table))
	}
	return latestPerKey(union) + " ORDER BY v"
}

// versionsSQL gives the latest change version of each aggregate in @keys,
// over its rows in every tracked table, for snapshot events: the same
// version, and so the same Nats-Msg-Id, that an incremental event of that
// state carries.
func (d entityDef) versionsSQL() string {
	var union []string
	for _, t := range d.tracked {
		pk := cols(t.table, t.pk)
		vals := make([]string, len(pk))
		for i, c := range pk {
			vals[i] = "t." + c
		}
		union = append(union, fmt.Sprintf(
			"SELECT %s, ct.SYS_CHANGE_VERSION AS v, ct.SYS_CHANGE_CONTEXT AS ctx FROM {%s} AS t %s CROSS APPLY CHANGETABLE(VERSION {%s}, (%s), (%s)) AS ct",
			keyColumns("t", cols(t.table, t.key)), t.table, keysJoin("t", cols(t.table, t.key)), t.table,
			strings.Join(pk, ", "), strings.Join(vals, ", ")))
	}
	return latestPerKey(union)
}

// rootPage is the usual snapshot page: the root table's keys in order.
// It selects and orders by the key columns themselves, not by CASTs of
// them: the order of an expression is not the index's, and SQL Server
// would sort the rest of the table for every page, quadratic over a large
// Items or Sales table; on the columns, each page is a seek on the primary
// key and a read of the next rows.
func rootPage(table string, keyCols []string, where string) string {
	kc := cols(table, keyCols)
	cond := keyset("t", kc)
	if where != "" {
		cond += " AND " + where
	}
	sel := make([]string, 3)
	order := make([]string, len(kc))
	for i := range sel {
		if i < len(kc) {
			sel[i] = fmt.Sprintf("t.%s AS k%d", kc[i], i)
			order[i] = "t." + kc[i]
		} else {
			sel[i] = fmt.Sprintf("CAST(0 AS bigint) AS k%d", i)
		}
	}
	return fmt.Sprintf("SELECT DISTINCT TOP (@n) %s FROM {%s} AS t WHERE %s ORDER BY %s",
		strings.Join(sel, ", "), table, cond, strings.Join(order, ", "))
}

func storeKey(k aggKey) string       { return fmt.Sprintf("%03d-%06d", k[0], k[1]) }
func storeSeqKey(k aggKey) string    { return fmt.Sprintf("%03d-%d", k[0], k[1]) }
func serviceKey(k aggKey) string     { return fmt.Sprintf("%03d-%06d-%03d", k[0], k[1], k[2]) }
func itemKey(k aggKey) string        { return fmt.Sprintf("%03d-%03d-%05d", k[0], k[1], k[2]) }
func store(n int64) string           { return fmt.Sprintf("%03d", n) }
func custKey(s, id int64) string     { return storeKey(aggKey{s, id}) }
func itemKeyOf(s, c, n int64) string { return itemKey(aggKey{s, c, n}) }

var customerPK = []string{"CustomerStoreId", "CustomerId"}

// entities is how the proposed schema stores each aggregate.
var entities = []entityDef{
	{
		entity: schemas.EntityCustomer,
		tracked: []tracked{
			{table: "Customers", pk: customerPK, key: customerPK},
			{table: "CustomerContactMethods", pk: []string{"CustomerStoreId", "CustomerId", "ContactMethodId"}, key: customerPK},
		},
		page: rootPage("Customers", customerPK, ""), format: storeKey, load: loadCustomers,
	},
	{
		entity: schemas.EntityWishList,
		tracked: []tracked{
			{table: "WishListItems", pk: []string{"CustomerStoreId", "CustomerId", "WishId"}, key: customerPK},
		},
		page: rootPage("WishListItems", customerPK, "t.{WishListItems.DateRemoved} IS NULL"), format: storeKey, load: loadWishLists,
	},
	{
		entity: schemas.EntityNote,
		tracked: []tracked{
			{table: "CustomerNotes", pk: []string{"CustomerStoreId", "CustomerId", "NoteId"}, key: []string{"CustomerStoreId", "NoteId"}},
		},
		page: rootPage("CustomerNotes", []string{"CustomerStoreId", "NoteId"}, ""), format: storeSeqKey, load: loadNotes,
	},
	{
		entity: schemas.EntitySale,
		tracked: []tracked{
			{table: "Sales", pk: []string{"SaleStoreId", "SaleNo"}, key: []string{"SaleStoreId", "SaleNo"}},
			{table: "SaleLines", pk: []string{"SaleStoreId", "SaleNo", "LineNo"}, key: []string{"SaleStoreId", "SaleNo"}},
			{table: "SaleAssociates", pk: []string{"SaleStoreId", "SaleNo", "AssociateId"}, key: []string{"SaleStoreId", "SaleNo"}},
		},
		page: rootPage("Sales", []string{"SaleStoreId", "SaleNo"}, ""), format: storeKey, load: loadSales,
	},
	{
		entity: schemas.EntityAppointment,
		tracked: []tracked{
			{table: "Appointments", pk: []string{"StoreId", "ApptId"}, key: []string{"StoreId", "ApptId"}},
		},
		page: rootPage("Appointments", []string{"StoreId", "ApptId"}, ""), format: storeSeqKey, load: loadAppointments,
	},
	{
		entity: schemas.EntityService,
		tracked: []tracked{
			{table: "ServiceJobs", pk: []string{"JobStoreId", "SaleNo", "JobNo"}, key: []string{"JobStoreId", "SaleNo", "JobNo"}},
			{table: "ServiceJobHistory", pk: []string{"JobStoreId", "SaleNo", "JobNo", "HistSeq"}, key: []string{"JobStoreId", "SaleNo", "JobNo"}},
		},
		page: rootPage("ServiceJobs", []string{"JobStoreId", "SaleNo", "JobNo"}, ""), format: serviceKey, load: loadServices,
	},
	{
		entity: schemas.EntityItem,
		tracked: []tracked{
			{table: "Items", pk: []string{"ItemStoreId", "CatId", "StockNo"}, key: []string{"ItemStoreId", "CatId", "StockNo"}},
		},
		page: rootPage("Items", []string{"ItemStoreId", "CatId", "StockNo"}, ""), format: itemKey, load: loadItems,
	},
	{
		entity: schemas.EntityNotification,
		tracked: []tracked{
			{table: "Notifications", pk: []string{"StoreId", "NotificationId"}, key: []string{"StoreId", "NotificationId"}},
		},
		page: rootPage("Notifications", []string{"StoreId", "NotificationId"}, ""), format: storeSeqKey, load: loadNotifications,
	},
}
