// Command classifier is a worker for the capability "classify": it bids on
// classify NEEDs, and when a DECIDE chooses it, claims the work, labels the
// texts (plugins/internal/classify), stores the result in the CAS and
// commits it. Everything it does is a function of its input and the CAS.
package main
