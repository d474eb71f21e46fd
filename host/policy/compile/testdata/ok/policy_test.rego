package swarm_test

import data.swarm

test_admit if swarm.admit with input as {"envelope": {"verb": "NEED", "payload": {"input": ["x"]}}}

test_admit_denied if not swarm.admit with input as {"envelope": {"verb": "PROPOSE"}}
