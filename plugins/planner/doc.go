// Command planner records the work in the shared plan (PROTOCOL.md section
// 8): when a classify NEED is admitted it adds a task named by the NEED's
// id, linked to the NEED; when the NEED is finalized it marks the task final
// and records the result it produced.
package main
