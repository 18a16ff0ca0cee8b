package edgesql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/edgesync/edgesync/schemas"
)

// querier is a transaction or a connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loader reads the aggregates whose keys are in keys (keyArgs),
// with one query per table, never one per row.
type loader func(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error)

// Load queries, by name; each is expanded through the mapping at Open.
var loadSQL = map[string]string{
	"customer": `SELECT c.{Customers.CustomerStoreId}, c.{Customers.CustomerId}, c.{Customers.AccountStoreId}, c.{Customers.AccountId},
 c.{Customers.Title}, c.{Customers.FirstName}, c.{Customers.MiddleName}, c.{Customers.LastName}, c.{Customers.Company},
 c.{Customers.Gender}, c.{Customers.BirthMonth}, c.{Customers.BirthDay}, c.{Customers.BirthYear},
 c.{Customers.AnnivMonth}, c.{Customers.AnnivDay}, c.{Customers.AnnivYear}, c.{Customers.AssociateId}, w.{WhyIns.Description},
 c.{Customers.Key1}, c.{Customers.Key2}, c.{Customers.Key3}, c.{Customers.Key4},
 c.{Customers.Key5}, c.{Customers.Key6}, c.{Customers.Key7}, c.{Customers.Key8},
 c.{Customers.SyncEnabled}, c.{Customers.Inactive}, c.{Customers.DateEntered}
FROM {Customers} AS c
JOIN #KEYS2# AS k ON c.{Customers.CustomerStoreId} = k.k0 AND c.{Customers.CustomerId} = k.k1
LEFT JOIN {WhyIns} AS w ON w.{WhyIns.WhyInId} = c.{Customers.AcquisitionWhyInId}`,

	"customer.methods": `SELECT m.{CustomerContactMethods.CustomerStoreId}, m.{CustomerContactMethods.CustomerId},
 m.{CustomerContactMethods.ContactMethodId}, m.{CustomerContactMethods.Method}, m.{CustomerContactMethods.ContactType},
 m.{CustomerContactMethods.PhoneOrEmail}, m.{CustomerContactMethods.Address1}, m.{CustomerContactMethods.Address2},
 m.{CustomerContactMethods.City}, m.{CustomerContactMethods.State}, m.{CustomerContactMethods.PostalCode},
 m.{CustomerContactMethods.Country}, m.{CustomerContactMethods.IsPreferred}, m.{CustomerContactMethods.CanText},
 m.{CustomerContactMethods.OptedOut}, m.{CustomerContactMethods.Source}, m.{CustomerContactMethods.Inactive}
FROM {CustomerContactMethods} AS m
JOIN #KEYS2# AS k
  ON m.{CustomerContactMethods.CustomerStoreId} = k.k0 AND m.{CustomerContactMethods.CustomerId} = k.k1
ORDER BY m.{CustomerContactMethods.ContactMethodId}`,

	"wishlist.customers": `SELECT c.{Customers.CustomerStoreId}, c.{Customers.CustomerId} FROM {Customers} AS c
JOIN #KEYS2# AS k ON c.{Customers.CustomerStoreId} = k.k0 AND c.{Customers.CustomerId} = k.k1`,

	"wishlist": `SELECT w.{WishListItems.CustomerStoreId}, w.{WishListItems.CustomerId}, w.{WishListItems.WishId},
 w.{WishListItems.WishKind}, w.{WishListItems.ItemStoreId}, w.{WishListItems.CatId}, w.{WishListItems.StockNo},
 w.{WishListItems.VendorId}, w.{WishListItems.VendStyleCode}, w.{WishListItems.ItemDesc}, w.{WishListItems.BuyFor},
 w.{WishListItems.EventDesc}, w.{WishListItems.EventDate}, w.{WishListItems.AssociateId}, w.{WishListItems.DateEntered},
 w.{WishListItems.Source}
FROM {WishListItems} AS w
JOIN #KEYS2# AS k ON w.{WishListItems.CustomerStoreId} = k.k0 AND w.{WishListItems.CustomerId} = k.k1
WHERE w.{WishListItems.DateRemoved} IS NULL
ORDER BY w.{WishListItems.WishId}`,

	"note": `SELECT n.{CustomerNotes.CustomerStoreId}, n.{CustomerNotes.CustomerId}, n.{CustomerNotes.NoteId},
 n.{CustomerNotes.AssociateId}, n.{CustomerNotes.NoteDate}, n.{CustomerNotes.NoteText}, n.{CustomerNotes.IsLocked},
 n.{CustomerNotes.Source}
FROM {CustomerNotes} AS n
JOIN #KEYS2# AS k ON n.{CustomerNotes.CustomerStoreId} = k.k0 AND n.{CustomerNotes.NoteId} = k.k1`,

	"sale": `SELECT s.{Sales.SaleStoreId}, s.{Sales.SaleNo}, s.{Sales.SaleDate}, s.{Sales.CustomerStoreId}, s.{Sales.CustomerId},
 s.{Sales.StationName}, s.{Sales.Subtotal}, s.{Sales.TaxTotal}, s.{Sales.Total}, s.{Sales.IsVoid}
FROM {Sales} AS s
JOIN #KEYS2# AS k ON s.{Sales.SaleStoreId} = k.k0 AND s.{Sales.SaleNo} = k.k1`,

	"sale.lines": `SELECT l.{SaleLines.SaleStoreId}, l.{SaleLines.SaleNo}, l.{SaleLines.LineNo}, l.{SaleLines.LineType},
 l.{SaleLines.ItemStoreId}, l.{SaleLines.CatId}, l.{SaleLines.StockNo}, l.{SaleLines.JobNo}, l.{SaleLines.Qty},
 l.{SaleLines.Amount}, l.{SaleLines.Descr}
FROM {SaleLines} AS l
JOIN #KEYS2# AS k ON l.{SaleLines.SaleStoreId} = k.k0 AND l.{SaleLines.SaleNo} = k.k1
ORDER BY l.{SaleLines.LineNo}`,

	"sale.associates": `SELECT a.{SaleAssociates.SaleStoreId}, a.{SaleAssociates.SaleNo}, a.{SaleAssociates.AssociateId}
FROM {SaleAssociates} AS a
JOIN #KEYS2# AS k ON a.{SaleAssociates.SaleStoreId} = k.k0 AND a.{SaleAssociates.SaleNo} = k.k1
ORDER BY a.{SaleAssociates.AssociateId}`,

	"appointment": `SELECT a.{Appointments.StoreId}, a.{Appointments.ApptId}, a.{Appointments.ChainId}, a.{Appointments.CustomerStoreId},
 a.{Appointments.CustomerId}, a.{Appointments.AssociateId}, a.{Appointments.ApptType}, a.{Appointments.Descr},
 a.{Appointments.Priority}, a.{Appointments.ContactVia}, a.{Appointments.BeginAt}, a.{Appointments.EndAt},
 a.{Appointments.Status}, a.{Appointments.Result}, a.{Appointments.DateCreated}
FROM {Appointments} AS a
JOIN #KEYS2# AS k ON a.{Appointments.StoreId} = k.k0 AND a.{Appointments.ApptId} = k.k1`,

	"service": `SELECT j.{ServiceJobs.JobStoreId}, j.{ServiceJobs.SaleNo}, j.{ServiceJobs.JobNo}, j.{ServiceJobs.JobType},
 j.{ServiceJobs.CustomerStoreId}, j.{ServiceJobs.CustomerId}, j.{ServiceJobs.EnvelopeNo}, j.{ServiceJobs.ItemDescription},
 j.{ServiceJobs.Summary}, j.{ServiceJobs.DateEntered}, j.{ServiceJobs.PromisedDate}, j.{ServiceJobs.Status},
 j.{ServiceJobs.DateDone}, j.{ServiceJobs.DatePickedUp}, j.{ServiceJobs.EstimatedPrice}
FROM {ServiceJobs} AS j
JOIN #KEYS3# AS k
  ON j.{ServiceJobs.JobStoreId} = k.k0 AND j.{ServiceJobs.SaleNo} = k.k1 AND j.{ServiceJobs.JobNo} = k.k2`,

	"service.history": `SELECT h.{ServiceJobHistory.JobStoreId}, h.{ServiceJobHistory.SaleNo}, h.{ServiceJobHistory.JobNo},
 h.{ServiceJobHistory.ChangedAt}, h.{ServiceJobHistory.FromStatus}, h.{ServiceJobHistory.ToStatus}
FROM {ServiceJobHistory} AS h
JOIN #KEYS3# AS k
  ON h.{ServiceJobHistory.JobStoreId} = k.k0 AND h.{ServiceJobHistory.SaleNo} = k.k1 AND h.{ServiceJobHistory.JobNo} = k.k2
ORDER BY h.{ServiceJobHistory.HistSeq}`,

	"item": `SELECT i.{Items.ItemStoreId}, i.{Items.CatId}, i.{Items.StockNo}, c.{Categories.Name}, i.{Items.VendorId},
 i.{Items.VendStyleCode}, i.{Items.StockType}, i.{Items.Status}, i.{Items.Descr}, i.{Items.RetailPrice},
 i.{Items.CurrentPrice}, i.{Items.SoldToCustomerStoreId}, i.{Items.SoldToCustomerId}, i.{Items.SaleStoreId},
 i.{Items.SaleNo}, i.{Items.DateStatusChanged}
FROM {Items} AS i
JOIN #KEYS3# AS k
  ON i.{Items.ItemStoreId} = k.k0 AND i.{Items.CatId} = k.k1 AND i.{Items.StockNo} = k.k2
LEFT JOIN {Categories} AS c ON c.{Categories.CatId} = i.{Items.CatId}`,

	"notification": `SELECT n.{Notifications.StoreId}, n.{Notifications.NotificationId}, n.{Notifications.CustomerStoreId},
 n.{Notifications.CustomerId}, n.{Notifications.Channel}, n.{Notifications.Provider}, n.{Notifications.ToAddress},
 n.{Notifications.Reason}, n.{Notifications.RelatedKey}, n.{Notifications.Subject}, n.{Notifications.Body},
 n.{Notifications.Status}, n.{Notifications.QueuedAt}
FROM {Notifications} AS n
JOIN #KEYS2# AS k ON n.{Notifications.StoreId} = k.k0 AND n.{Notifications.NotificationId} = k.k1`,
}

// each runs a load query and calls scan for every row.
func each(ctx context.Context, db *DB, q querier, name string, keys keySet, scan func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, db.sql[name], keys...)
	if err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("load %s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	return nil
}

// Nullable column helpers: The Edge leaves many columns NULL.
type (
	nstr  = sql.NullString
	nint  = sql.NullInt64
	nbool = sql.NullBool
	ntime = sql.NullTime
)

func tptr(db *DB, t ntime) *time.Time {
	if !t.Valid {
		return nil
	}
	v := db.instant(t.Time)
	return &v
}

// cents converts a decimal column ("1234.50") to cents.
func cents(s nstr) (int64, error) {
	if !s.Valid || s.String == "" {
		return 0, nil
	}
	d, err := decimal.NewFromString(s.String)
	if err != nil {
		return 0, fmt.Errorf("amount %q: %w", s.String, err)
	}
	return d.Shift(2).Round(0).IntPart(), nil
}

// monthDay formats a birthday or anniversary kept as month, day and an
// optional year.
func monthDay(m, d, y nint) string {
	if !m.Valid || !d.Valid {
		return ""
	}
	if y.Valid {
		return fmt.Sprintf("%04d-%02d-%02d", y.Int64, m.Int64, d.Int64)
	}
	return fmt.Sprintf("--%02d-%02d", m.Int64, d.Int64)
}

func loadCustomers(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	err := each(ctx, db, q, "customer", keys, func(r *sql.Rows) error {
		var (
			s, id                                      int64
			accS, accID, bm, bd, by, am, ad, ay, assoc nint
			title, first, middle, last, company        nstr
			gender, acq                                nstr
			k                                          [8]nstr
			syncOn, inactive                           nbool
			entered                                    ntime
		)
		if err := r.Scan(&s, &id, &accS, &accID, &title, &first, &middle, &last, &company, &gender, &bm, &bd, &by,
			&am, &ad, &ay, &assoc, &acq, &k[0], &k[1], &k[2], &k[3], &k[4], &k[5], &k[6], &k[7], &syncOn, &inactive, &entered); err != nil {
			return err
		}
		c := &schemas.Customer{
			Key: custKey(s, id), Store: store(s), Title: title.String, FirstName: first.String, MiddleName: middle.String,
			LastName: last.String, Company: company.String, Gender: gender.String, Birthday: monthDay(bm, bd, by),
			Anniversary: monthDay(am, ad, ay), AssociateID: int(assoc.Int64), Acquisition: acq.String,
			SyncEnabled: syncOn.Bool, Inactive: inactive.Bool, ContactMethods: []schemas.ContactMethod{},
		}
		if entered.Valid {
			c.DateEntered = db.instant(entered.Time)
		}
		if accS.Valid && accID.Valid {
			c.AccountKey = custKey(accS.Int64, accID.Int64)
		}
		for i, v := range k {
			if v.Valid && v.String != "" {
				if c.CustomFields == nil {
					c.CustomFields = make(map[string]string)
				}
				c.CustomFields[fmt.Sprintf("Key%d", i+1)] = v.String
			}
		}
		out[aggKey{s, id}] = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(ctx, db, q, "customer.methods", keys, func(r *sql.Rows) error {
		var (
			s, id, mid                                           int64
			method, typ, value, a1, a2, city, st, zip, ctry, src nstr
			pref, canText, optedOut, inactive                    nbool
		)
		if err := r.Scan(&s, &id, &mid, &method, &typ, &value, &a1, &a2, &city, &st, &zip, &ctry, &pref, &canText, &optedOut, &src, &inactive); err != nil {
			return err
		}
		c, ok := out[aggKey{s, id}].(*schemas.Customer)
		if !ok {
			return nil // the customer row is gone; its event is a deletion
		}
		m := schemas.ContactMethod{ID: int(mid), Method: method.String, Type: typ.String, Value: value.String,
			Preferred: pref.Bool, CanText: canText.Bool, OptedOut: optedOut.Bool, Source: src.String, Inactive: inactive.Bool}
		if m.Method == schemas.MethodAddress {
			m.Value = ""
			m.Address = &schemas.Address{Line1: a1.String, Line2: a2.String, City: city.String, State: st.String, PostalCode: zip.String, Country: ctry.String}
		}
		c.ContactMethods = append(c.ContactMethods, m)
		return nil
	})
	return out, err
}

// loadWishLists returns the open wishes of each customer; a customer with
// none has an empty wish list, one that no longer exists has none at all.
func loadWishLists(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	err := each(ctx, db, q, "wishlist.customers", keys, func(r *sql.Rows) error {
		var s, id int64
		if err := r.Scan(&s, &id); err != nil {
			return err
		}
		out[aggKey{s, id}] = &schemas.WishList{CustomerKey: custKey(s, id), Store: store(s), Wishes: []schemas.Wish{}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(ctx, db, q, "wishlist", keys, func(r *sql.Rows) error {
		var (
			s, id, wid                                  int64
			itS, itC, itN, assoc                        nint
			kind, vendor, style, desc, buyFor, evt, src nstr
			evtDate, entered                            ntime
		)
		if err := r.Scan(&s, &id, &wid, &kind, &itS, &itC, &itN, &vendor, &style, &desc, &buyFor, &evt, &evtDate, &assoc, &entered, &src); err != nil {
			return err
		}
		wl, ok := out[aggKey{s, id}].(*schemas.WishList)
		if !ok {
			return nil
		}
		w := schemas.Wish{ID: int(wid), Kind: kind.String, VendorID: vendor.String, VendStyleCode: style.String,
			Description: desc.String, BuyFor: buyFor.String, EventDesc: evt.String, EventDate: tptr(db, evtDate),
			AssociateID: int(assoc.Int64), Source: src.String}
		if entered.Valid {
			w.DateEntered = db.instant(entered.Time)
		}
		if itS.Valid && itC.Valid && itN.Valid {
			w.ItemKey = itemKeyOf(itS.Int64, itC.Int64, itN.Int64)
		}
		wl.Wishes = append(wl.Wishes, w)
		return nil
	})
	return out, err
}

func loadNotes(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	return out, each(ctx, db, q, "note", keys, func(r *sql.Rows) error {
		var (
			s, cid, nid int64
			assoc       nint
			date        ntime
			text, src   nstr
			locked      nbool
		)
		if err := r.Scan(&s, &cid, &nid, &assoc, &date, &text, &locked, &src); err != nil {
			return err
		}
		n := &schemas.Note{ID: int(nid), CustomerKey: custKey(s, cid), Store: store(s), AssociateID: int(assoc.Int64),
			Text: text.String, Locked: locked.Bool, Source: src.String}
		if date.Valid {
			n.Date = db.instant(date.Time)
		}
		out[aggKey{s, nid}] = n
		return nil
	})
}

func loadSales(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	err := each(ctx, db, q, "sale", keys, func(r *sql.Rows) error {
		var (
			s, no           int64
			date            ntime
			cS, cID         nint
			station         nstr
			sub, tax, total nstr
			void            nbool
		)
		if err := r.Scan(&s, &no, &date, &cS, &cID, &station, &sub, &tax, &total, &void); err != nil {
			return err
		}
		sale := &schemas.Sale{Key: storeKey(aggKey{s, no}), Store: store(s), SaleNo: int(no), Station: station.String,
			Void: void.Bool, Lines: []schemas.SaleLine{}}
		if date.Valid {
			sale.Date = db.instant(date.Time)
		}
		if cS.Valid && cID.Valid {
			sale.CustomerKey = custKey(cS.Int64, cID.Int64)
		}
		var err error
		if sale.Subtotal, err = cents(sub); err != nil {
			return err
		}
		if sale.Tax, err = cents(tax); err != nil {
			return err
		}
		if sale.Total, err = cents(total); err != nil {
			return err
		}
		out[aggKey{s, no}] = sale
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(ctx, db, q, "sale.lines", keys, func(r *sql.Rows) error {
		var (
			s, no, line             int64
			typ, amount, desc       nstr
			itS, itC, itN, job, qty nint
		)
		if err := r.Scan(&s, &no, &line, &typ, &itS, &itC, &itN, &job, &qty, &amount, &desc); err != nil {
			return err
		}
		sale, ok := out[aggKey{s, no}].(*schemas.Sale)
		if !ok {
			return nil
		}
		amt, err := cents(amount)
		if err != nil {
			return err
		}
		l := schemas.SaleLine{LineNo: int(line), Type: typ.String, Qty: int(qty.Int64), Amount: amt, Description: desc.String}
		if itS.Valid && itC.Valid && itN.Valid {
			l.ItemKey = itemKeyOf(itS.Int64, itC.Int64, itN.Int64)
		}
		if job.Valid {
			l.JobKey = serviceKey(aggKey{s, no, job.Int64})
		}
		sale.Lines = append(sale.Lines, l)
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(ctx, db, q, "sale.associates", keys, func(r *sql.Rows) error {
		var s, no, assoc int64
		if err := r.Scan(&s, &no, &assoc); err != nil {
			return err
		}
		if sale, ok := out[aggKey{s, no}].(*schemas.Sale); ok {
			sale.AssociateIDs = append(sale.AssociateIDs, int(assoc))
		}
		return nil
	})
	return out, err
}

func loadAppointments(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	return out, each(ctx, db, q, "appointment", keys, func(r *sql.Rows) error {
		var (
			s, id                                int64
			chain, cS, cID, assoc                nint
			typ, desc, prio, via, status, result nstr
			begin, end, created                  ntime
		)
		if err := r.Scan(&s, &id, &chain, &cS, &cID, &assoc, &typ, &desc, &prio, &via, &begin, &end, &status, &result, &created); err != nil {
			return err
		}
		a := &schemas.Appointment{ID: int(id), ChainID: int(chain.Int64), Store: store(s), AssociateID: int(assoc.Int64),
			Type: typ.String, Description: desc.String, Priority: prio.String, ContactVia: via.String, EndAt: tptr(db, end),
			Status: status.String, Result: result.String}
		if cS.Valid && cID.Valid {
			a.CustomerKey = custKey(cS.Int64, cID.Int64)
		}
		if begin.Valid {
			a.BeginAt = db.instant(begin.Time)
		}
		if created.Valid {
			a.DateCreated = db.instant(created.Time)
		}
		out[aggKey{s, id}] = a
		return nil
	})
}

func loadServices(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	err := each(ctx, db, q, "service", keys, func(r *sql.Rows) error {
		var (
			s, sale, job                           int64
			cS, cID                                nint
			typ, env, item, summary, status, price nstr
			entered, promised, done, picked        ntime
		)
		if err := r.Scan(&s, &sale, &job, &typ, &cS, &cID, &env, &item, &summary, &entered, &promised, &status, &done, &picked, &price); err != nil {
			return err
		}
		j := &schemas.ServiceJob{Key: serviceKey(aggKey{s, sale, job}), Store: store(s), SaleNo: int(sale), JobNo: int(job),
			JobType: typ.String, EnvelopeNo: env.String, ItemDescription: item.String, Summary: summary.String,
			PromisedDate: tptr(db, promised), Status: status.String, DateDone: tptr(db, done), DatePickedUp: tptr(db, picked)}
		if cS.Valid && cID.Valid {
			j.CustomerKey = custKey(cS.Int64, cID.Int64)
		}
		if entered.Valid {
			j.DateEntered = db.instant(entered.Time)
		}
		var err error
		if j.EstimatedPrice, err = cents(price); err != nil {
			return err
		}
		out[aggKey{s, sale, job}] = j
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = each(ctx, db, q, "service.history", keys, func(r *sql.Rows) error {
		var (
			s, sale, job int64
			at           ntime
			from, to     nstr
		)
		if err := r.Scan(&s, &sale, &job, &at, &from, &to); err != nil {
			return err
		}
		if j, ok := out[aggKey{s, sale, job}].(*schemas.ServiceJob); ok {
			j.History = append(j.History, schemas.StatusChange{At: db.instant(at.Time), From: from.String, To: to.String})
		}
		return nil
	})
	return out, err
}

func loadItems(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	return out, each(ctx, db, q, "item", keys, func(r *sql.Rows) error {
		var (
			s, cat, no                                      int64
			catName, vendor, style, stockType, status, desc nstr
			retail, current                                 nstr
			soldS, soldID, saleS, saleNo                    nint
			changed                                         ntime
		)
		if err := r.Scan(&s, &cat, &no, &catName, &vendor, &style, &stockType, &status, &desc, &retail, &current,
			&soldS, &soldID, &saleS, &saleNo, &changed); err != nil {
			return err
		}
		it := &schemas.Item{Key: itemKey(aggKey{s, cat, no}), Store: store(s), CategoryID: int(cat), Category: catName.String,
			StockNo: int(no), VendorID: vendor.String, VendStyleCode: style.String, StockType: stockType.String,
			Status: status.String, Description: desc.String}
		var err error
		if it.RetailPrice, err = cents(retail); err != nil {
			return err
		}
		if it.CurrentPrice, err = cents(current); err != nil {
			return err
		}
		if soldS.Valid && soldID.Valid {
			it.SoldToCustomerKey = custKey(soldS.Int64, soldID.Int64)
		}
		if saleS.Valid && saleNo.Valid {
			it.SaleKey = storeKey(aggKey{saleS.Int64, saleNo.Int64})
		}
		if changed.Valid {
			it.DateStatusChanged = db.instant(changed.Time)
		}
		out[aggKey{s, cat, no}] = it
		return nil
	})
}

func loadNotifications(ctx context.Context, db *DB, q querier, keys keySet) (map[aggKey]any, error) {
	out := make(map[aggKey]any)
	return out, each(ctx, db, q, "notification", keys, func(r *sql.Rows) error {
		var (
			s, id                                                     int64
			cS, cID                                                   nint
			channel, provider, to, reason, related, subject, body, st nstr
			queued                                                    ntime
		)
		if err := r.Scan(&s, &id, &cS, &cID, &channel, &provider, &to, &reason, &related, &subject, &body, &st, &queued); err != nil {
			return err
		}
		n := &schemas.Notification{ID: int(id), Store: store(s), Channel: channel.String, Provider: provider.String,
			To: to.String, Reason: reason.String, RelatedKey: related.String, Subject: subject.String, Body: body.String, Status: st.String}
		if cS.Valid && cID.Valid {
			n.CustomerKey = custKey(cS.Int64, cID.Int64)
		}
		if queued.Valid {
			n.QueuedAt = db.instant(queued.Time)
		}
		out[aggKey{s, id}] = n
		return nil
	})
}
