package swarm

# Rules for the differential test against OPA's own evaluator: built-in and
# host builtins, sets, objects, comprehensions, some, every, partial rules,
# undefined results.

default allow := false

allow if {
	input.user.role == "admin"
}

allow if {
	some g in input.user.groups
	g == "ops"
}

sum_items := sum([x | some x in input.numbers])

max_item := max(input.numbers)

evens contains n if {
	some n in input.numbers
	n % 2 == 0
}

by_name[p.name] := p.age if {
	some p in input.people
}

adults := {p.name | some p in input.people; p.age >= 18}

all_positive if {
	every n in input.numbers {
		n > 0
	}
}

first_upper := upper(input.words[0])

joined := concat("-", input.words)

split_parts := split(input.csv, ",")

formatted := sprintf("%s has %d items", [input.user.name, count(input.numbers)])

trimmed := trim_space(input.padded)

has_prefix if startswith(input.words[0], "he")

replaced := replace(input.csv, ",", ";")

lookup := input.table[input.key]

nested := {"a": [1, 2, {"b": input.user.name}], "c": count(input.words)}

unique_count := count({w | some w in input.words})

sorted_words := sort(input.words)

regex_match if regex.match(`^[a-z]+$`, input.words[0])

json_roundtrip := json.unmarshal(json.marshal(input.user))

object_keys := {k | some k, _ in input.table}

union_set := evens | {100}

intersection_count := count(evens & {2, 4, 6})

array_slice := array.slice(input.numbers, 1, 3)

abs_sum := abs(-1 * sum_items)

number_string := format_int(sum_items, 16)

base64_round := base64.decode(base64.encode(input.user.name))

hashed := crypto.sha256(input.user.name)

undefined_rule if input.no_such_field == 1

object_union := object.union(input.table, {"z": 26})

comma_at := indexof(input.csv, ",")

contains_any if {
	some w in input.words
	contains(w, "or")
}

min_of_set := min({n | some n in input.numbers})

count_people := count(input.people)

walk_paths := count([p | walk(input.user, [p, _])])

parsed_units := units.parse_bytes("2KB")

semver_cmp := semver.compare("1.2.3", "1.10.0")
