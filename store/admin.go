package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Values of the request fields that SetRequestState and SetRequestPriority accept.
var (
	RequestStates     = []string{"open", "closed"}
	RequestPriorities = []string{"low", "normal", "high", "urgent"}
)

// UpdatePerson writes a person's name, kind, status and admin flag.
func (q Q) UpdatePerson(ctx context.Context, p Person) error {
	switch {
	case p.Kind != "staff" && p.Kind != "occupant":
		return fmt.Errorf("%w: person kind %q", ErrInvalid, p.Kind)
	case p.Status != "pending" && p.Status != "active" && p.Status != "denied" && p.Status != "blocked":
		return fmt.Errorf("%w: person status %q", ErrInvalid, p.Status)
	}
	n, err := q.exec(ctx, "update-person", p.Name, p.Kind, p.Status, p.IsAdmin, p.ID)
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

// PersonEvents lists the events about a person that concern no request
// (approved, denied, blocked…), oldest first.
func (q Q) PersonEvents(ctx context.Context, person int64) ([]Event, error) {
	var es []Event
	err := q.sel(ctx, &es, "person-events", person)
	return es, err
}

// SetRequestState opens or closes a request.
func (q Q) SetRequestState(ctx context.Context, request int64, state string) error {
	if !slices.Contains(RequestStates, state) {
		return fmt.Errorf("%w: request state %q", ErrInvalid, state)
	}
	return q.updateRequest(ctx, "set-request-state", state, request)
}

// SetRequestPriority sets a request's priority: low, normal, high or urgent.
func (q Q) SetRequestPriority(ctx context.Context, request int64, p string) error {
	if !slices.Contains(RequestPriorities, p) {
		return fmt.Errorf("%w: request priority %q", ErrInvalid, p)
	}
	return q.updateRequest(ctx, "set-request-priority", p, request)
}

// SetRequester makes person the request's requester (the creator stays).
func (q Q) SetRequester(ctx context.Context, request, person int64) error {
	return q.updateRequest(ctx, "set-requester", person, request)
}

// updateRequest sets one field and updated_at; ErrNotFound for no such request.
func (q Q) updateRequest(ctx context.Context, name string, v any, request int64) error {
	n, err := q.exec(ctx, name, v, now(), request)
	if err == nil && n == 0 {
		return ErrNotFound
	}
	return err
}

// AddLabel labels a request; white space is trimmed, a label added twice is kept once.
func (q Q) AddLabel(ctx context.Context, request int64, name string) error {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return fmt.Errorf("%w: empty label", ErrInvalid)
	}
	_, err := q.exec(ctx, "insert-label", request, name)
	return err
}

// Labels lists a request's labels by name.
func (q Q) Labels(ctx context.Context, request int64) ([]string, error) {
	var ls []string
	err := q.sel(ctx, &ls, "request-labels", request)
	return ls, err
}
