// Package classify is the task the first-party classifier performs and the
// verifier re-checks: labelling short texts by keyword rules. It is pure and
// deterministic, so a verifier that runs it again gets the same answer.
package classify
