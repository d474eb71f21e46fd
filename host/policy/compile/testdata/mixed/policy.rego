package swarm

default admit := false

admit if input.envelope.verb == "NEED"
