// Command swarmhost is the CAN Swarm host: one binary for the node and the
// operator's tools.
//
// Exit status: 0 success; 1 a rejected or invalid input, with one line
// saying why; 2 a usage error (unknown command or flag, wrong arguments); 3
// a plugin fault in "plugin call" (out of gas, trap, memory limit, stack
// depth, bad pointer, bad output), printed as "error: <kind>: <detail>".
// Every subcommand is thin: the work is done by the packages under abi/ and
// host/, so that what the CLI does is what the node does.
package main
