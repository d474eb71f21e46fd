package swarm_test

import data.swarm

test_need_admitted if swarm.admit with input as {"envelope": {"verb": "NEED"}}

test_propose_admitted if {
	swarm.admit with input as {"envelope": {"verb": "PROPOSE"}}
}
