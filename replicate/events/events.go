// Package events receives bucket event notifications, the S3-style JSON
// records an object store POSTs to a webhook when objects change, so that
// continuous replication reacts in well under a second instead of waiting
// for its next listing.
//
// Events are a hint, never the source of truth: the receiver drops events
// for subscribers that do not keep up, the store sends them unordered and
// gives up after a timeout, and replication also lists the bucket
// periodically. A lost event is never a lost object, only a later copy.
//
// The format is the one of versitygw v1.8.0 (the local provider's store),
// which follows AWS's event message structure; see [Parse].
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is what happened to an object.
type Kind string

// Kinds of events. Events of other families (ACL changes, restores) are
// not reported: they change neither content, metadata nor tags.
const (
	// Created: the object was written (put, copy, post, multipart
	// completion); its content and metadata may have changed.
	Created Kind = "created"
	// Removed: the object was deleted (a delete marker on a versioned
	// bucket, or a specific version).
	Removed Kind = "removed"
	// Tagged: the object's tags were set or removed; its content did not
	// change.
	Tagged Kind = "tagged"
)

// Event is one object change.
type Event struct {
	Bucket string
	// Key is the object key, decoded (see Parse).
	Key string
	// VersionID is the version the event names, if the store reports it
	// (versitygw v1.8.0 leaves it out of PutObject events).
	VersionID string
	// ETag is the object's ETag without quotes, if reported.
	ETag string
	// Size is the object size in bytes; 0 when not reported (versitygw
	// reports it for PutObject only, not for copies, multipart
	// completions, tagging or deletes).
	Size int64
	Kind Kind
	// Name is the raw event name, e.g. "s3:ObjectCreated:Put".
	Name string
	// Sequencer orders events of the same key (AWS: compare as hex
	// strings padded to equal length; versitygw: a per-process counter).
	Sequencer string
	// Time is the event time (second precision with versitygw); zero when
	// the record has none.
	Time time.Time
}

// message is an S3 event notification; test events have Event instead of
// Records.
type message struct {
	Records *[]record `json:"Records"`
	Event   string    `json:"Event"`
}

type record struct {
	EventName string `json:"eventName"`
	EventTime string `json:"eventTime"`
	S3        *struct {
		Bucket struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string  `json:"key"`
			Size      int64   `json:"size"`
			ETag      *string `json:"eTag"`
			VersionID *string `json:"versionId"`
			Sequencer string  `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// testEvent is the Event of the test message a store sends when the webhook
// is configured (versitygw at start-up, AWS when the configuration is put).
const testEvent = "s3:TestEvent"

// Parse decodes one notification body into its events. A test event yields
// no events and no error; records of other event families (ACL, restore)
// are skipped. Unknown fields are ignored; a body that is not a JSON object
// with Records (or a test event), a record without event name, bucket or
// key, or with a malformed time is an error.
//
// Keys are taken as sent. versitygw v1.8.0 sends them plain: it decodes the
// request path, so the key "a b+c%41.txt" arrives as "a b+c%41.txt", not
// percent-encoded (checked against a real store in the tests), unlike AWS, whose notifications encode keys as form
// values ('+' for space) and reach pilotlight through queues, not this
// webhook.
func Parse(body []byte) ([]Event, error) {
	var m message
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("events: parse notification: %w", err)
	}
	if dec.More() {
		return nil, errors.New("events: parse notification: data after the JSON object")
	}
	if m.Records == nil {
		if m.Event == testEvent {
			return nil, nil
		}
		return nil, errors.New("events: parse notification: no Records")
	}
	var out []Event
	for i, r := range *m.Records {
		ev, ok, err := r.event()
		if err != nil {
			return nil, fmt.Errorf("events: parse record %d: %w", i, err)
		}
		if ok {
			out = append(out, ev)
		}
	}
	return out, nil
}

// event converts one record; ok is false for event families not reported.
func (r record) event() (ev Event, ok bool, err error) {
	if r.EventName == "" {
		return ev, false, errors.New("no eventName")
	}
	switch name := strings.TrimPrefix(r.EventName, "s3:"); {
	case strings.HasPrefix(name, "ObjectCreated:"):
		ev.Kind = Created
	case strings.HasPrefix(name, "ObjectRemoved:"):
		ev.Kind = Removed
	case strings.HasPrefix(name, "ObjectTagging:"):
		ev.Kind = Tagged
	default:
		return ev, false, nil
	}
	if r.S3 == nil {
		return ev, false, fmt.Errorf("%s: no s3 element", r.EventName)
	}
	o := r.S3.Object
	ev.Bucket, ev.Key, ev.Size, ev.Name = r.S3.Bucket.Name, o.Key, o.Size, r.EventName
	ev.Sequencer = o.Sequencer
	if ev.Bucket == "" {
		return ev, false, fmt.Errorf("%s: no bucket name", r.EventName)
	}
	if ev.Key == "" {
		return ev, false, fmt.Errorf("%s: no object key", r.EventName)
	}
	if o.VersionID != nil {
		ev.VersionID = *o.VersionID
	}
	if o.ETag != nil {
		ev.ETag = strings.Trim(*o.ETag, `"`)
	}
	if r.EventTime != "" {
		if ev.Time, err = time.Parse(time.RFC3339, r.EventTime); err != nil {
			return ev, false, fmt.Errorf("%s: eventTime: %w", r.EventName, err)
		}
	}
	return ev, true, nil
}
