package main

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

type kvInput struct {
	op, key, value, from string
}

type kvOutput struct {
	unknown bool
	found   bool
	value   string
	success bool
}

type kvState struct {
	exists bool
	value  string
}

// kvModel is a register per key with put, get, compare-and-swap and delete.
var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		for _, op := range history {
			k := op.Input.(kvInput).key
			byKey[k] = append(byKey[k], op)
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() interface{} { return kvState{} },
	Step: func(s, in, out interface{}) (bool, interface{}) {
		st := s.(kvState)
		i := in.(kvInput)
		o := out.(kvOutput)
		switch i.op {
		case "put":
			return true, kvState{exists: true, value: i.value}
		case "get":
			return o.found == st.exists && (!st.exists || o.value == st.value), st
		case "cas":
			match := st.exists && st.value == i.from
			if o.unknown {
				// Linearized here, it took effect iff its compare held.
				if match {
					return true, kvState{exists: true, value: i.value}
				}
				return true, st
			}
			if o.success != match {
				return false, st
			}
			if match {
				return true, kvState{exists: true, value: i.value}
			}
			return true, st
		case "delete":
			if o.unknown {
				return true, kvState{}
			}
			return o.success == st.exists, kvState{}
		}
		return false, st
	},
	DescribeOperation: func(in, out interface{}) string {
		i := in.(kvInput)
		o := out.(kvOutput)
		if o.unknown {
			return fmt.Sprintf("%s(%s %q) -> ?", i.op, i.key, i.value)
		}
		return fmt.Sprintf("%s(%s %q %q) -> found=%v value=%q ok=%v", i.op, i.key, i.from, i.value, o.found, o.value, o.success)
	},
}

// KVOperations turns the history's KV records into porcupine operations. Operations
// known to have failed are dropped; writes of unknown outcome never return (they may
// take effect at any point after their call, or never); reads of unknown outcome say
// nothing and are dropped.
func KVOperations(recs []Record) []porcupine.Operation {
	var ops []porcupine.Operation
	for _, r := range recs {
		if r.Kind != "kv" || r.Outcome == OutcomeFail {
			continue
		}
		in := kvInput{op: r.Op, key: r.Key, value: r.Value, from: r.From}
		out := kvOutput{found: r.Found, value: r.Value, success: r.Success}
		ret := r.Ret
		if r.Outcome == OutcomeUnknown {
			if r.Op == "get" {
				continue
			}
			out = kvOutput{unknown: true}
			ret = math.MaxInt64
		}
		if r.Op == "get" {
			in.value = ""
		}
		ops = append(ops, porcupine.Operation{ClientId: r.Client, Input: in, Call: r.Call, Output: out, Return: ret})
	}
	return ops
}

// CheckKV reports whether the KV operations are linearizable.
func CheckKV(recs []Record, timeout time.Duration) (porcupine.CheckResult, int) {
	ops := KVOperations(recs)
	return porcupine.CheckOperationsTimeout(kvModel, ops, timeout), len(ops)
}
