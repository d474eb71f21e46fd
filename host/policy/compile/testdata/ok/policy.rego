package swarm

default admit := false

admit if {
	input.envelope.verb == "NEED"
	count(input.envelope.payload.input) > 0
}

default bid := false

bid if input.envelope.payload.bid.price <= 100

verify if {
	# sprintf and strings.count are not compiled into OPA's wasm: host builtins.
	sprintf("%d", [count(input.context.result.labels)]) == sprintf("%d", [count(input.context.input)])
	strings.count("abc", "b") == 1
}

route := 1000 - input.envelope.payload.bid.price
