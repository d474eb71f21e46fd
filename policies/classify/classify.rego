# The capsule of the demo task, classify: label short texts as billing,
# shipping, praise, complaint or other. Entrypoints and input shapes are
# described in policies/README.md; the input is always
# {"entrypoint", "envelope" (without sig), "context" (recorded data)}.
package swarm

# ---------------------------------------------------------------- admit --
# A classify NEED, well-formed and within limits: true. Otherwise
# {"refused": [...]}, every reason it is not, sorted: the node's refusal
# shows them (a value other than true refuses). Whether it admits rests on
# the rules alone (valid), never on a reason being put into words.

admit := true if valid

admit := {"refused": reasons} if not valid

valid if {
	input.envelope.verb == "NEED"
	need_fields.capability == "classify"
	valid_quorum(need_fields)
	valid_input
	count(bad_limits) == 0
}

reasons := sort(refusals) if {
	count(refusals) > 0
} else := ["the NEED is not a classify NEED within this capsule's limits"]

valid_input if {
	inline
	texts := need_fields.input
	is_array(texts)
	count(texts) >= 1
	count(texts) <= max_texts
	every text in texts {
		is_string(text)
		count(text) <= max_text_chars
	}
}

valid_input if {
	not inline
	one_ref
}

bad_limits contains name if {
	some name, _ in limits
	value := need_fields[name]
	not within(value, limits[name])
}

# The NEED's payload ({} when there is none).
need_fields := p if {
	p := input.envelope.payload
	is_object(p)
} else := {}

refusals contains msg if {
	verb := object.get(input, ["envelope", "verb"], null)
	verb != "NEED"
	msg := concat("", ["verb ", json.marshal(verb), ": admit judges a NEED"])
}

refusals contains msg if {
	capability := object.get(need_fields, "capability", null)
	capability != "classify"
	msg := concat("", ["capability ", json.marshal(capability), ": this capsule admits \"classify\""])
}

refusals contains msg if {
	not valid_quorum(need_fields)
	msg := concat("", ["k ", shown(need_fields, "k"), ", n ", shown(need_fields, "n"), ": whole numbers with 1 <= k <= n <= 7"])
}

# 1 <= k <= n <= 7, whole numbers.
valid_quorum(p) if {
	whole(p.k)
	whole(p.n)
	1 <= p.k
	p.k <= p.n
	p.n <= 7
}

max_texts := 100

max_text_chars := 1000

# The input is inline (payload.input: 1 to 100 strings of at most 1000
# characters) or in the CAS (exactly one ref in content_refs, and no
# payload.input at all).
inline if has_key(need_fields, "input")

content_refs := object.get(input, ["envelope", "content_refs"], [])

refusals contains "input: none (payload.input inline, or one ref in content_refs)" if {
	not inline
	count(content_refs) == 0
}

refusals contains msg if {
	not inline
	count(content_refs) > 0
	not one_ref
	msg := concat("", ["content_refs: one ref names the input when there is no payload.input; found ", json.marshal(content_refs)])
}

one_ref if {
	count(content_refs) == 1
	is_ref(content_refs[0])
}

refusals contains msg if {
	inline
	not is_array(need_fields.input)
	msg := concat("", ["input: ", type_name(need_fields.input), ", not an array of texts"])
}

refusals contains "input: no texts" if {
	inline
	need_fields.input == []
}

refusals contains msg if {
	inline
	texts := need_fields.input
	is_array(texts)
	count(texts) > max_texts
	msg := concat("", [
		"input: ", format_int(count(texts), 10), " texts inline, at most ", format_int(max_texts, 10),
		" (more go in the CAS, named by one ref in content_refs)",
	])
}

refusals contains msg if {
	inline
	texts := need_fields.input
	is_array(texts)
	others := [i | some i, text in texts; not is_string(text)]
	count(others) > 0
	msg := concat("", [
		"input: ", counted(count(others), "item", "items"), " not a string (the first: input[",
		format_int(others[0], 10), "])",
	])
}

refusals contains msg if {
	inline
	texts := need_fields.input
	is_array(texts)
	long := [i | some i, text in texts; is_string(text); count(text) > max_text_chars]
	count(long) > 0
	msg := concat("", [
		"input: ", counted(count(long), "text", "texts"), " over ", format_int(max_text_chars, 10),
		" characters (the first: input[", format_int(long[0], 10), "], ",
		format_int(count(texts[long[0]]), 10), " characters; more go in the CAS, named by one ref in content_refs)",
	])
}

# counted is "1 text" or "2 texts".
counted(n, one, _) := concat("", ["1 ", one]) if n == 1

counted(n, _, many) := concat("", [format_int(n, 10), " ", many]) if n != 1

# Upper bounds of the NEED's optional limits; each, when present, is a whole
# number from 1 to its bound.
limits := {
	"bid_window_ms": 600000, # 10 minutes
	"lease_ms": 3600000, # 1 hour
	"max_epochs": 100,
	"gas_budget": 1000000000000,
	"deadline_ms": 86400000, # 24 hours
}

refusals contains msg if {
	some name, bound in limits
	value := need_fields[name]
	not within(value, bound)
	msg := concat("", [name, " ", json.marshal(value), ": a whole number from 1 to ", json.marshal(bound)])
}

within(value, bound) if {
	whole(value)
	value >= 1
	value <= bound
}

# shown is a payload field as the refusal shows it.
shown(obj, key) := json.marshal(obj[key]) if has_key(obj, key)

shown(obj, key) := "missing" if not has_key(obj, key)

# ------------------------------------------------------------------ bid --
# A sane bid on a PROPOSE: 0 < price <= 1000, 0 < eta_ms <= the NEED's
# deadline (10 minutes when it names none), for the current epoch.

default bid := false

bid if {
	input.envelope.verb == "PROPOSE"
	b := input.envelope.payload.bid
	is_number(b.price)
	b.price > 0
	b.price <= 1000
	is_number(b.eta_ms)
	b.eta_ms > 0
	b.eta_ms <= max_eta_ms
	epoch_ok
}

default_deadline_ms := 600000

max_eta_ms := d if {
	d := input.context.need.deadline_ms
	is_number(d)
} else := default_deadline_ms

epoch_ok if not has_key(object.get(input, "context", {}), "epoch")

epoch_ok if input.envelope.payload.epoch == input.context.epoch

# --------------------------------------------------------------- verify --
# A classify result, complete and well-formed for its input: one allowed
# label per text, and nothing else in the result.

default verify := false

labels := {"billing", "shipping", "praise", "complaint", "other"}

verify if {
	result := input.context.result
	is_object(result)
	object.keys(result) == {"labels"}
	texts := input.context.input
	is_array(texts)
	is_array(result.labels)
	count(texts) >= 1
	count(result.labels) == count(texts)
	every label in result.labels {
		label in labels
	}
}

# ---------------------------------------------------------------- route --
# A bid's score, higher is better: cheap and fast wins. Undefined (null)
# unless price and eta_ms are numbers.

route := (1000 - b.price) - (b.eta_ms / 100) if {
	b := input.envelope.payload.bid
	is_number(b.price)
	is_number(b.eta_ms)
}

# -------------------------------------------------------------- helpers --

whole(x) if {
	is_number(x)
	floor(x) == x
}

has_key(obj, key) if {
	is_object(obj)
	_ = obj[key]
}

# The envelope's own checks make every content ref well-formed; this only
# tells a ref from any other string (and keeps regex, and with it RE2, out
# of the module).
is_ref(s) if {
	is_string(s)
	startswith(s, "sha256:")
	count(s) == 71
}
