package plan

import (
	"fmt"
	"slices"
)

// Query returns one task's canonical object, the same bytes as its value
// in State(), and whether the plan has the task.
func (p *Plan) Query(task string) ([]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.materialize().tasks[task]
	if t == nil {
		return nil, false
	}
	return slices.Clone(t.encode()), true
}

// QueryJSON answers the swarm_v1 plan_query host function. The request is
// a JSON object: {"task":"<id>"} asks for one task and is answered with its
// canonical object (as Query); {} asks for the whole plan and is answered
// with State(). A request that is not such an object is an error matching
// ErrMalformed (the host's -2); a task the plan does not hold, ErrNotFound
// (the host's -1).
func (p *Plan) QueryJSON(req []byte) ([]byte, error) {
	members, err := parseObject(req, "query")
	if err != nil {
		return nil, fmt.Errorf("plan: query: %w", err)
	}
	if len(members) == 0 {
		return p.State(), nil
	}
	for _, m := range members { // keys are unique: this leaves one, "task"
		if m.key != "task" {
			return nil, fmt.Errorf("plan: query: %w",
				fieldErr("query", "unknown field "+quote(m.key)+`; a query is {} or {"task":"<id>"}`))
		}
	}
	task, err := decodeString("query.task", members[0].raw)
	if err == nil {
		err = checkName("query.task", task)
	}
	if err != nil {
		return nil, fmt.Errorf("plan: query: %w", err)
	}
	answer, ok := p.Query(task)
	if !ok {
		return nil, fmt.Errorf("plan: query: task %s: %w", quote(task), ErrNotFound)
	}
	return answer, nil
}
