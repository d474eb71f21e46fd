// Package api is a running node's HTTP interface on loopback, its NEED
// routes on the bus, and the clients the CLI uses to reach them.
//
// A node started by `swarmhost run` serves it on --api-addr (default a free
// loopback port) and writes the address in its data folder ([RunFile],
// data/node.json) once it serves, so that every other command given the same
// --data finds it. The file is removed on a clean stop; after a crash it
// stays, and a client finds nothing listening there and says so.
//
// Routes (JSON in, JSON out; errors are {"error": "..."} with a 4xx/5xx
// status):
//
//	GET    /v1/consensus/status          consensus.Status
//	GET    /v1/consensus/needs/{need}    {"found","collected","record"}
//	POST   /v1/consensus/propose         a shard command -> shard.Result (200 whether accepted or rejected)
//	POST   /v1/consensus/members         {"replica_id","raft_address"}: add a host to every shard
//	DELETE /v1/consensus/members/{id}    remove a host from every shard
//	POST   /v1/needs                     a NeedRequest -> {"id"}: a NEED signed by the node's client key, published
//	GET    /v1/needs                     NeedList: ?state=S&after=ID&limit=N (NeedQuery), a page in id order
//	GET    /v1/needs/{need}              protocol.ThreadInfo; ?wait=1 once final, abandoned or refused
//	                                     (503 if the node stops itself meanwhile, 504 after 10 minutes)
//	GET    /metrics                      the node's counters, the Prometheus text format (README lists them)
//	GET    /healthz                      {"status":"ok"}, or 503 {"error"}: the node stopped itself, or its
//	                                     loop has taken no input for 30 s while inputs wait
//
// The NEED routes are also served on the bus ([ServeOnBus]): a NATS
// service "swarmhost" (nats.go micro) in one queue group over every node,
// subjects swarmhost.v1.needs.submit (a NeedRequest -> {"id"}), .show
// ({"id","wait"} -> protocol.ThreadInfo) and .list ({"state","after",
// "limit"} -> NeedList); an error answer carries the Nats-Service-Error
// headers with the HTTP status as its code. [BusClient] is the client the
// CLI uses with --nats-url. Who may reach them is who may reach the NATS
// server: the operator's (its users, TLS and permissions for an external
// cluster; the embedded server listens on loopback). They take NEEDs
// signed by the node's client key, a client's rights alone, never the
// consensus or membership routes.
//
// The API has no authentication: it listens on loopback only (Listen
// refuses any other address, CheckLoopback), and it is the operator's tool
// (like etcdctl against a local member). A server marked ObserveOnly serves
// GET /metrics and /healthz alone, which change nothing, on any address
// (`swarmhost run --metrics-addr`, for a scraper on another machine).
package api
