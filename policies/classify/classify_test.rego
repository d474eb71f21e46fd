package swarm_test

import data.swarm

ref_a := "sha256:0000000000000000000000000000000000000000000000000000000000000000"

need_payload := {
	"capability": "classify",
	"input": ["my invoice is wrong", "the parcel arrived late"],
	"k": 1,
	"n": 1,
	"bid_window_ms": 500,
	"lease_ms": 5000,
	"max_epochs": 3,
	"gas_budget": 1000000,
	"deadline_ms": 60000,
	"nonce": "demo-1",
}

need(payload) := need_refs(payload, [])

need_refs(payload, refs) := {
	"entrypoint": "admit",
	"envelope": {
		"v": 1, "id": ref_a, "thread_id": "", "verb": "NEED", "lamport": 1,
		"sender_pk": "aa", "capability": ref_a, "content_refs": refs,
		"payload": payload, "payload_hash": ref_a,
		"policy_capsule_hash": ref_a, "policy_eval_digest": "",
	},
	"context": {},
}

propose(bid, epoch, context) := {
	"entrypoint": "bid",
	"envelope": {"verb": "PROPOSE", "payload": {"epoch": epoch, "bid": bid}},
	"context": context,
}

result(labels, texts) := {
	"entrypoint": "verify",
	"envelope": {"verb": "COMMIT", "payload": {}},
	"context": {"result": {"labels": labels}, "input": texts},
}

# ---------------------------------------------------------------- admit --
# admit is true, or {"refused": [...]} with every reason, sorted.

test_admit_inline_input if swarm.admit == true with input as need(need_payload)

test_admit_minimal if {
	swarm.admit == true with input as need({"capability": "classify", "input": ["x"], "k": 1, "n": 1})
}

test_admit_content_ref if {
	swarm.admit == true with input as need_refs(object.remove(need_payload, ["input"]), [ref_a])
}

test_admit_refuses_nothing_with_every_reason if {
	swarm.admit == {"refused": [
		`capability null: this capsule admits "classify"`,
		"input: none (payload.input inline, or one ref in content_refs)",
		"k missing, n missing: whole numbers with 1 <= k <= n <= 7",
		"verb null: admit judges a NEED",
	]} with input as {}
}

test_admit_refuses_other_verbs if {
	n := need(need_payload)
	refused(object.union(n, {"envelope": object.union(n.envelope, {"verb": "PROPOSE"})})) == [`verb "PROPOSE": admit judges a NEED`]
}

test_admit_refuses_other_capability if {
	refused(need(object.union(need_payload, {"capability": "translate"}))) == [`capability "translate": this capsule admits "classify"`]
}

test_admit_refuses_bad_quorum if {
	refused(need(object.union(need_payload, {"k": 0}))) == ["k 0, n 1: whole numbers with 1 <= k <= n <= 7"]
	refused(need(object.union(need_payload, {"k": 2, "n": 1}))) == ["k 2, n 1: whole numbers with 1 <= k <= n <= 7"]
	refused(need(object.union(need_payload, {"k": 1, "n": 8}))) == ["k 1, n 8: whole numbers with 1 <= k <= n <= 7"]
	refused(need(object.union(need_payload, {"k": 1.5, "n": 2}))) == ["k 1.5, n 2: whole numbers with 1 <= k <= n <= 7"]
	refused(need(object.union(need_payload, {"k": "1"}))) == [`k "1", n 1: whole numbers with 1 <= k <= n <= 7`]
	refused(need(object.remove(need_payload, ["n"]))) == ["k 1, n missing: whole numbers with 1 <= k <= n <= 7"]
}

test_admit_allows_k_of_7 if {
	swarm.admit == true with input as need(object.union(need_payload, {"k": 7, "n": 7}))
}

test_admit_refuses_bad_input if {
	refused(need(object.union(need_payload, {"input": []}))) == ["input: no texts"]
	refused(need(object.union(need_payload, {"input": "text"}))) == ["input: string, not an array of texts"]
	refused(need(object.union(need_payload, {"input": ["ok", 3, {}]}))) == ["input: 2 items not a string (the first: input[1])"]
	refused(need(object.union(need_payload, {"input": ["ok", concat("", [x | some i in numbers.range(1, 1001); x := "a"])]}))) == ["input: 1 text over 1000 characters (the first: input[1], 1001 characters; more go in the CAS, named by one ref in content_refs)"]
	refused(need(object.union(need_payload, {"input": [true]}))) == ["input: 1 item not a string (the first: input[0])"]
	refused(need(object.union(need_payload, {"input": [x | some i in numbers.range(1, 101); x := "t"]}))) == ["input: 101 texts inline, at most 100 (more go in the CAS, named by one ref in content_refs)"]
	refused(need(object.remove(need_payload, ["input"]))) == ["input: none (payload.input inline, or one ref in content_refs)"]
}

test_admit_allows_input_at_its_limits if {
	swarm.admit == true with input as need(object.union(need_payload, {"input": [concat("", [x | some i in numbers.range(1, 1000); x := "a"])]}))
	swarm.admit == true with input as need(object.union(need_payload, {"input": [x | some i in numbers.range(1, 100); x := "t"]}))
}

test_admit_refuses_bad_content_refs if {
	no_input := object.remove(need_payload, ["input"])
	refused(need_refs(no_input, [])) == ["input: none (payload.input inline, or one ref in content_refs)"]
	refused(need_refs(no_input, ["not-a-ref"])) == [`content_refs: one ref names the input when there is no payload.input; found ["not-a-ref"]`]
	count(refused(need_refs(no_input, [ref_a, ref_a]))) == 1
	refused(need_refs(object.union(no_input, {"input": null}), [ref_a])) == ["input: null, not an array of texts"]
}

test_admit_refuses_bad_limits if {
	refused(need(object.union(need_payload, {"bid_window_ms": 0}))) == ["bid_window_ms 0: a whole number from 1 to 600000"]
	refused(need(object.union(need_payload, {"lease_ms": -5}))) == ["lease_ms -5: a whole number from 1 to 3600000"]
	refused(need(object.union(need_payload, {"max_epochs": 101}))) == ["max_epochs 101: a whole number from 1 to 100"]
	refused(need(object.union(need_payload, {"gas_budget": "lots"}))) == [`gas_budget "lots": a whole number from 1 to 1000000000000`]
	refused(need(object.union(need_payload, {"deadline_ms": 86400001}))) == ["deadline_ms 86400001: a whole number from 1 to 86400000"]
	refused(need(object.union(need_payload, {"lease_ms": 10.5}))) == ["lease_ms 10.5: a whole number from 1 to 3600000"]
}

# Every reason at once, sorted.
test_admit_refuses_with_every_reason if {
	refused(need(object.union(need_payload, {"k": 9, "lease_ms": 0, "input": []}))) == [
		"input: no texts",
		"k 9, n 1: whole numbers with 1 <= k <= n <= 7",
		"lease_ms 0: a whole number from 1 to 3600000",
	]
}

refused(inp) := r if {
	r := swarm.admit.refused with input as inp
}

# ------------------------------------------------------------------ bid --

test_bid_allows_sane_bid if {
	swarm.bid with input as propose({"price": 3, "eta_ms": 60}, 1, {})
	swarm.bid with input as propose({"price": 1000, "eta_ms": 600000}, 1, {})
}

test_bid_checks_epoch if {
	swarm.bid with input as propose({"price": 3, "eta_ms": 60}, 2, {"epoch": 2})
	not swarm.bid with input as propose({"price": 3, "eta_ms": 60}, 1, {"epoch": 2})
}

test_bid_eta_within_deadline if {
	swarm.bid with input as propose({"price": 3, "eta_ms": 60000}, 1, {"need": {"deadline_ms": 60000}})
	not swarm.bid with input as propose({"price": 3, "eta_ms": 60001}, 1, {"need": {"deadline_ms": 60000}})
	not swarm.bid with input as propose({"price": 3, "eta_ms": 600001}, 1, {})
}

test_bid_denies_bad_price if {
	swarm.bid == false with input as propose({"price": 0, "eta_ms": 60}, 1, {})
	not swarm.bid with input as propose({"price": 1000.5, "eta_ms": 60}, 1, {})
	not swarm.bid with input as propose({"price": "3", "eta_ms": 60}, 1, {})
	not swarm.bid with input as propose({"eta_ms": 60}, 1, {})
	not swarm.bid with input as propose({"price": 3, "eta_ms": 0}, 1, {})
}

test_bid_denies_other_verbs if {
	p := propose({"price": 3, "eta_ms": 60}, 1, {})
	not swarm.bid with input as object.union(p, {"envelope": object.union(p.envelope, {"verb": "NEED"})})
}

# --------------------------------------------------------------- verify --

test_verify_allows_complete_result if {
	swarm.verify with input as result(["billing", "complaint"], ["my invoice", "it broke"])
	swarm.verify with input as result(["other"], ["hello"])
}

test_verify_denies_wrong_length if {
	swarm.verify == false with input as result(["billing"], ["my invoice", "it broke"])
	not swarm.verify with input as result(["billing", "other", "other"], ["my invoice", "it broke"])
	not swarm.verify with input as result([], [])
}

test_verify_denies_unknown_label if {
	not swarm.verify with input as result(["billing", "spam"], ["a", "b"])
	not swarm.verify with input as result(["billing", 1], ["a", "b"])
}

test_verify_denies_malformed_result if {
	not swarm.verify with input as {"context": {"input": ["a"], "result": {"labels": ["other"], "extra": 1}}}
	not swarm.verify with input as {"context": {"input": ["a"], "result": ["other"]}}
	not swarm.verify with input as {"context": {"input": ["a"]}}
}

# ---------------------------------------------------------------- route --

test_route_prefers_cheap_and_fast if {
	cheap := swarm.route with input as propose({"price": 3, "eta_ms": 100}, 1, {})
	dear := swarm.route with input as propose({"price": 30, "eta_ms": 100}, 1, {})
	slow := swarm.route with input as propose({"price": 3, "eta_ms": 10000}, 1, {})
	cheap == 996
	cheap > dear
	cheap > slow
}

test_route_undefined_without_bid if {
	not swarm.route with input as {"envelope": {"payload": {}}}
}
