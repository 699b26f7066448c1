package main

import (
	"strings"
	"testing"
	"time"
)

func kv(client int, op, key string, call, ret int64) Record {
	return Record{Kind: "kv", Client: client, Op: op, Key: key, Call: call, Ret: ret, Outcome: OutcomeOK}
}

func put(client int, key, value string, call, ret, rev int64) Record {
	r := kv(client, "put", key, call, ret)
	r.Value, r.Revision = value, rev
	return r
}

func get(client int, key, value string, found bool, call, ret int64) Record {
	r := kv(client, "get", key, call, ret)
	r.Value, r.Found = value, found
	return r
}

func check(t *testing.T, recs []Record) Report {
	t.Helper()
	return Check(recs, 10*time.Second)
}

func TestValidHistoryPasses(t *testing.T) {
	cas := kv(2, "cas", "k", 30, 40)
	cas.From, cas.Value, cas.Success, cas.Revision = "a", "b", true, 2
	unknown := put(3, "k", "z", 45, 0, 0)
	unknown.Outcome = OutcomeUnknown
	rep := check(t, []Record{
		put(1, "k", "a", 0, 10, 1),
		get(2, "k", "a", true, 15, 20),
		cas,
		unknown,
		get(1, "k", "b", true, 50, 60),
		{Kind: "event", Watch: 1, Start: 1, Revision: 1, Key: "k", Type: "CREATED", Value: "a"},
		{Kind: "event", Watch: 1, Start: 1, Revision: 2, Key: "k", Type: "UPDATED", Value: "b"},
		// The unknown write did apply; its event is explained by its value.
		{Kind: "event", Watch: 1, Start: 1, Revision: 3, Key: "k", Type: "UPDATED", Value: "z"},
		{Kind: "lock", Client: 1, Token: 5, Acquired: 1, Released: 2},
		{Kind: "lock", Client: 2, Token: 9, Acquired: 3, Released: 4},
	})
	if !rep.OK() {
		t.Fatalf("valid history rejected: %+v", rep)
	}
}

func TestStaleReadIsCaught(t *testing.T) {
	rep := check(t, []Record{
		put(1, "k", "a", 0, 10, 1),
		put(1, "k", "b", 20, 30, 2),
		// Begins after "b" was acknowledged, yet reads "a".
		get(2, "k", "a", true, 40, 50),
	})
	if rep.KVResult != "Illegal" {
		t.Fatalf("stale read not caught: %+v", rep)
	}
}

func TestLostWriteIsCaught(t *testing.T) {
	rep := check(t, []Record{
		put(1, "k", "a", 0, 10, 1),
		// The acknowledged write is gone: a later read finds nothing.
		get(2, "k", "", false, 20, 30),
	})
	if rep.KVResult != "Illegal" {
		t.Fatalf("lost write not caught: %+v", rep)
	}
}

func TestUnknownWriteMayOrMayNotApply(t *testing.T) {
	unknown := put(1, "k", "x", 0, 0, 0)
	unknown.Outcome = OutcomeUnknown
	for _, read := range []Record{get(2, "k", "x", true, 20, 30), get(2, "k", "", false, 20, 30)} {
		if rep := check(t, []Record{unknown, read}); rep.KVResult != "Ok" {
			t.Fatalf("unknown write constrained too much: %+v", rep)
		}
	}
}

func TestDuplicatedWatchEventIsCaught(t *testing.T) {
	rep := check(t, []Record{
		put(1, "k", "a", 0, 10, 1),
		put(1, "k", "b", 20, 30, 2),
		{Kind: "event", Watch: 7, Start: 1, Revision: 1, Key: "k"},
		{Kind: "event", Watch: 7, Start: 1, Revision: 2, Key: "k"},
		{Kind: "event", Watch: 7, Start: 1, Revision: 2, Key: "k"},
	})
	if len(rep.WatchProblems) != 1 || !strings.Contains(rep.WatchProblems[0], "twice") {
		t.Fatalf("duplicate not caught: %+v", rep.WatchProblems)
	}
}

func TestWatchGapIsCaught(t *testing.T) {
	rep := check(t, []Record{
		put(1, "k", "a", 0, 10, 1),
		put(1, "k", "b", 20, 30, 2),
		put(1, "k", "c", 40, 50, 3),
		{Kind: "event", Watch: 7, Start: 1, Revision: 1, Key: "k"},
		{Kind: "event", Watch: 7, Start: 1, Revision: 3, Key: "k"},
	})
	if len(rep.WatchProblems) != 1 || !strings.Contains(rep.WatchProblems[0], "gap") {
		t.Fatalf("gap not caught: %+v", rep.WatchProblems)
	}
}

func TestOverlappingLockHoldersAreCaught(t *testing.T) {
	rep := check(t, []Record{
		{Kind: "lock", Client: 1, Token: 5, Acquired: 1, Released: 10},
		{Kind: "lock", Client: 2, Token: 6, Acquired: 5, Released: 12},
	})
	if len(rep.LockProblems) == 0 {
		t.Fatalf("overlap not caught")
	}
	rep = check(t, []Record{
		{Kind: "lock", Client: 1, Token: 9, Acquired: 1, Released: 2},
		{Kind: "lock", Client: 2, Token: 6, Acquired: 3, Released: 4},
	})
	if len(rep.LockProblems) == 0 {
		t.Fatalf("decreasing token not caught")
	}
}

func TestPhantomWatchEventIsCaught(t *testing.T) {
	rep := check(t, []Record{
		put(1, "k", "a", 0, 10, 1),
		{Kind: "event", Watch: 7, Start: 1, Revision: 1, Key: "k", Type: "CREATED", Value: "a"},
		{Kind: "event", Watch: 7, Start: 1, Revision: 2, Key: "k", Type: "UPDATED", Value: "never-written"},
	})
	if len(rep.WatchProblems) != 1 || !strings.Contains(rep.WatchProblems[0], "matches no write") {
		t.Fatalf("phantom not caught: %+v", rep.WatchProblems)
	}
}
