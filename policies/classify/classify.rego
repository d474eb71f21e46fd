# The capsule of the demo task, classify: label short texts as billing,
# shipping, praise, complaint or other. Entrypoints and input shapes are
# described in policies/README.md; the input is always
# {"entrypoint", "envelope" (without sig), "context" (recorded data)}.
package swarm

# ---------------------------------------------------------------- admit --
# A classify NEED, well-formed and within limits.

default admit := false

admit if {
	input.envelope.verb == "NEED"
	payload := input.envelope.payload
	payload.capability == "classify"
	valid_quorum(payload)
	valid_input(input.envelope)
	count(bad_limits) == 0
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

# Inline input: 1 to 100 strings of at most 1000 characters.
valid_input(env) if {
	texts := env.payload.input
	is_array(texts)
	count(texts) >= 1
	count(texts) <= max_texts
	every text in texts {
		is_string(text)
		count(text) <= max_text_chars
	}
}

# Or the input in the CAS: exactly one ref, and no inline input.
valid_input(env) if {
	not has_key(env.payload, "input")
	count(env.content_refs) == 1
	is_ref(env.content_refs[0])
}

# Upper bounds of the NEED's optional limits; each, when present, is a whole
# number from 1 to its bound.
limits := {
	"bid_window_ms": 600000, # 10 minutes
	"lease_ms": 3600000, # 1 hour
	"max_epochs": 100,
	"gas_budget": 1000000000000,
	"deadline_ms": 86400000, # 24 hours
}

bad_limits contains name if {
	some name, bound in limits
	value := input.envelope.payload[name]
	not within(value, bound)
}

within(value, bound) if {
	whole(value)
	value >= 1
	value <= bound
}

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
