package writer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/edgesync/edgesync/projectors"
	"github.com/edgesync/edgesync/schemas"
	"github.com/edgesync/edgesync/streams"
)

const cbPartner = projectors.PartnerClientbook

var cbSource = strings.ToUpper(cbPartner)

// errUnknownClient is a Clientbook event about a client Edge does not know.
var errUnknownClient = errors.New("the Clientbook client is not linked to an Edge customer")

func (w *Writer) clientbook(ctx context.Context, pe schemas.PartnerEnvelope) error {
	var err error
	switch pe.Entity {
	case "client":
		err = w.cbClient(ctx, pe)
	case "collection":
		err = w.cbCollection(ctx, pe)
	case "activity":
		err = w.cbActivity(ctx, pe)
	case "message":
		err = w.cbMessage(ctx, pe)
	default:
		w.ignore(pe, "Clientbook sends Edge clients, the Edge collection, recent activity and messages only")
		return nil
	}
	if errors.Is(err, errUnknownClient) {
		return streams.Permanent(err)
	}
	return err
}

// cbClient merges a new or changed client: "In Clientbook, newly added
// customers are automatically downloaded to Edge", matched by email first.
func (w *Writer) cbClient(ctx context.Context, pe schemas.PartnerEnvelope) error {
	ev, err := projectors.ParseClientbookClient(pe.Data, w.cfg.Clientbook.AcquisitionPreference)
	if err != nil {
		return streams.Permanent(err)
	}
	match, err := w.match(ctx, w.cfg.Clientbook, ev.Person, func(ctx context.Context) (string, error) {
		// A client edgesync wrote carries the Edge key; one it linked
		// without writing yet is in the links bucket.
		if ev.ExternalID != "" {
			return ev.ExternalID, nil
		}
		return w.linksOf(cbPartner).EdgeKey(ctx, "customer", ev.Person.PartnerID)
	})
	if err != nil {
		return err
	}
	cmds, err := projectors.MergePerson(ev.Person, match, w.cfg.Clientbook)
	if err != nil {
		return streams.Permanent(err)
	}
	if err := w.apply(ctx, pe, cmds); err != nil {
		return err
	}
	// Tell the connector which client a downloaded or matched customer is,
	// so a later Edge edit updates it instead of creating a second client.
	return w.mirrorLink(ctx, cbPartner, "customer", ev.Person.PartnerID, ev.Person.PartnerID)
}

// cbCustomer finds the Edge customer of a Clientbook client. A store's
// writer takes a client it knows no link of for another store's: one of its
// own store is linked before any event about it, by the connector's push
// or by this writer's download of the client, which came first.
func (w *Writer) cbCustomer(ctx context.Context, clientID, externalID string) (string, error) {
	key, err := w.cbLinkedCustomer(ctx, clientID, externalID)
	if err != nil {
		return "", err
	}
	if key == "" {
		if w.cfg.Store != "" {
			return "", fmt.Errorf("%w: client %s is linked to no customer of store %s", errOtherStore, clientID, w.cfg.Store)
		}
		return "", fmt.Errorf("client %s: %w", clientID, errUnknownClient)
	}
	return key, w.ours(key)
}

func (w *Writer) cbLinkedCustomer(ctx context.Context, clientID, externalID string) (string, error) {
	if externalID != "" {
		return externalID, nil
	}
	key, err := w.store.LinkedKey(ctx, cbPartner, "customer", clientID)
	if err != nil {
		return "", fmt.Errorf("read edge link: %w", err)
	}
	if key == "" {
		return w.linksOf(cbPartner).EdgeKey(ctx, "customer", clientID)
	}
	return key, nil
}

// cbCollection merges the "Edge" collection into the wish list. "Only
// changes to the Collection named Edge on the Clientbook customer
// synchronize. Other Collections are ignored."
func (w *Writer) cbCollection(ctx context.Context, pe schemas.PartnerEnvelope) error {
	ev, err := projectors.ParseClientbookCollection(pe.Data)
	if err != nil {
		return streams.Permanent(err)
	}
	if ev.Name != projectors.CollectionName {
		w.ignore(pe, "only the collection named Edge synchronizes")
		return nil
	}
	cust, err := w.cbCustomer(ctx, ev.ClientID, ev.ClientExternalID)
	if err != nil {
		return err
	}
	linked, err := w.collectionLinks(ctx, cust, ev)
	if err != nil {
		return err
	}
	return w.apply(ctx, pe, projectors.MergeCollection(cust, ev.Name, ev.CollectionItems(), linked, cbSource, pe.Time))
}

// collectionLinks maps the collection's item ids to Edge wishes: items the
// connector wrote (it records them), items downloaded before (linked in
// Edge), and items carrying a wish's external id. A wish stands for one
// item only: once an item of the event represents it, older ids of the
// same wish are not read as removed.
func (w *Writer) collectionLinks(ctx context.Context, cust string, ev projectors.ClientbookCollectionEvent) (map[string]int, error) {
	pushed, err := w.linksOf(cbPartner).Collection(ctx, cust)
	if err != nil {
		return nil, err
	}
	downloaded, err := w.store.WishLinks(ctx, cbPartner, cust)
	if err != nil {
		return nil, fmt.Errorf("read wish links of %s: %w", cust, err)
	}
	linked := map[string]int{}
	present := map[int]bool{}
	for _, it := range ev.Items {
		id, ok := pushed[it.ID]
		if !ok {
			id, ok = downloaded[it.ID]
		}
		if !ok {
			var owner string
			owner, id, ok = projectors.WishOwner(it)
			ok = ok && owner == cust
		}
		if ok {
			linked[it.ID], present[id] = id, true
		}
	}
	for _, known := range []map[string]int{pushed, downloaded} {
		for item, id := range known {
			if _, ok := linked[item]; !ok && !present[id] {
				linked[item], present[id] = id, true
			}
		}
	}
	return linked, nil
}

// cbActivity merges recent activity into notes: "Clientbook Recent
// Activity downloads as Edge Notes. Changes made to existing notes in Edge
// upload to Clientbook and vice-versa."
func (w *Writer) cbActivity(ctx context.Context, pe schemas.PartnerEnvelope) error {
	ev, err := projectors.ParseClientbookActivity(pe.Data)
	if err != nil {
		return streams.Permanent(err)
	}
	if ev.Type != "note" {
		w.ignore(pe, "only note activities become Edge notes")
		return nil
	}
	cust, err := w.cbCustomer(ctx, ev.ClientID, ev.ClientExternalID)
	if err != nil {
		return err
	}
	noteKey := ev.ExternalID
	if noteKey == "" {
		if noteKey, err = w.store.LinkedKey(ctx, cbPartner, "note", ev.ID); err != nil {
			return fmt.Errorf("read note link: %w", err)
		}
	}
	var linked *schemas.Note
	if noteKey != "" {
		if linked, err = w.store.NoteByKey(ctx, noteKey); err != nil {
			return fmt.Errorf("read note %s: %w", noteKey, err)
		}
	}
	if err := w.apply(ctx, pe, projectors.MergeActivityNote(cust, ev.ID, ev.Text, ev.OccurredAt, linked, cbSource)); err != nil {
		return err
	}
	if linked != nil {
		return nil
	}
	// The connector edits this entry in place when the note changes in Edge.
	return w.mirrorLink(ctx, cbPartner, "note", ev.ID, ev.ID)
}

// cbMessage records a message sent in Clientbook: "Messages (emails or
// texts) sent through Clientbook download to Edge and appear on the Edge
// Customer's Activity tab."
func (w *Writer) cbMessage(ctx context.Context, pe schemas.PartnerEnvelope) error {
	ev, err := projectors.ParseClientbookMessage(pe.Data)
	if err != nil {
		return streams.Permanent(err)
	}
	cust, err := w.cbCustomer(ctx, ev.ClientID, ev.ClientExternalID)
	if err != nil {
		return err
	}
	return w.apply(ctx, pe, projectors.MergeMessage(cust, ev.Activity()))
}
