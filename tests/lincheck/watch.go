package main

import (
	"fmt"
	"sort"
)

// CheckWatches verifies every watch stream against the acknowledged writes: events in
// revision order, none twice, none without a write behind it, and every acknowledged
// write between the watch's start and its last event delivered.
func CheckWatches(recs []Record) []string {
	acked := map[int64]bool{}
	// Writes whose revision is unknown may still show up as events: a set or create is
	// recognised by its (unique) value, a delete by its key.
	unknownValues := map[string]bool{}
	unknownDeletes := map[string]bool{}
	for _, r := range recs {
		if r.Kind != "kv" || r.Op == "get" {
			continue
		}
		if r.Outcome == OutcomeUnknown {
			if r.Op == "delete" {
				unknownDeletes[r.Key] = true
			} else {
				unknownValues[r.Key+"="+r.Value] = true
			}
			continue
		}
		if r.Outcome == OutcomeOK && r.Revision != 0 {
			acked[r.Revision] = true
		}
	}
	explained := func(e Record) bool {
		if acked[e.Revision] {
			return true
		}
		if e.Type == "DELETED" {
			return unknownDeletes[e.Key]
		}
		return unknownValues[e.Key+"="+e.Value]
	}
	streams := map[int64][]Record{}
	for _, r := range recs {
		if r.Kind == "event" {
			streams[r.Watch] = append(streams[r.Watch], r)
		}
	}
	ids := make([]int64, 0, len(streams))
	for id := range streams {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	var problems []string
	for _, id := range ids {
		events := streams[id]
		seen := map[string]bool{}
		last := int64(0)
		start := events[0].Start
		for _, e := range events {
			if e.Revision < last {
				problems = append(problems, fmt.Sprintf("watch %d: revision %d after %d (out of order)", id, e.Revision, last))
			}
			k := fmt.Sprintf("%d/%s", e.Revision, e.Key)
			if seen[k] {
				problems = append(problems, fmt.Sprintf("watch %d: event %s delivered twice", id, k))
			}
			seen[k] = true
			if e.Revision < start {
				problems = append(problems, fmt.Sprintf("watch %d: revision %d before its start %d", id, e.Revision, start))
			}
			if !explained(e) {
				problems = append(problems, fmt.Sprintf("watch %d: event at revision %d (%s %s) matches no write", id, e.Revision, e.Type, e.Key))
			}
			if e.Revision > last {
				last = e.Revision
			}
		}
		got := map[int64]bool{}
		for _, e := range events {
			got[e.Revision] = true
		}
		for rev := range acked {
			if rev >= start && rev <= last && !got[rev] {
				problems = append(problems, fmt.Sprintf("watch %d: acknowledged write at revision %d missing (gap)", id, rev))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// CheckLocks verifies fencing tokens: unique, and a hold that began after another
// ended carries a higher token; holds that overlap in time are reported.
func CheckLocks(recs []Record) []string {
	var holds []Record
	for _, r := range recs {
		if r.Kind == "lock" {
			holds = append(holds, r)
		}
	}
	sort.Slice(holds, func(a, b int) bool { return holds[a].Acquired < holds[b].Acquired })
	var problems []string
	tokens := map[int64]int{}
	for i, h := range holds {
		if c, dup := tokens[h.Token]; dup {
			problems = append(problems, fmt.Sprintf("token %d given to clients %d and %d", h.Token, c, h.Client))
		}
		tokens[h.Token] = h.Client
		for _, prev := range holds[:i] {
			if prev.Released > h.Acquired {
				problems = append(problems, fmt.Sprintf("holds overlap: client %d (token %d) and client %d (token %d)", prev.Client, prev.Token, h.Client, h.Token))
			}
			if prev.Released <= h.Acquired && prev.Token >= h.Token {
				problems = append(problems, fmt.Sprintf("token %d of a later hold is not above %d", h.Token, prev.Token))
			}
		}
	}
	return problems
}
