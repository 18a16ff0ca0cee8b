package streams

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/edgesync/edgesync/schemas"
)

// PublishOutcome publishes what a provider connector did with the Edge
// notification event eventID, on partner.<partner>.notification.<key>,
// where the Edge writer records it.
func PublishOutcome(ctx context.Context, js jetstream.JetStream, partner, eventID string, o schemas.NotificationOutcome) error {
	m, err := schemas.OutcomeEnvelope(partner, eventID, o).Msg()
	if err != nil {
		return Permanent(err)
	}
	if _, err := PublishMsg(ctx, js, m); err != nil {
		return fmt.Errorf("publish outcome of %s: %w", o.NotificationKey, err)
	}
	return nil
}
