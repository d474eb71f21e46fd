// as-echo: the AssemblyScript example agent, an Extism plugin (ABI.md, last
// bullet; docs/ABI.md). For any envelope it is given it stores the
// envelope's payload in the CAS (swarm_cas_put), reads it back
// (swarm_cas_get), logs (swarm_log), and answers with an UPDATE_PLAN that
// annotates task "as-echo" with the payload's ref.
//
// Exports (Extism style, no parameters, i32 result 0 = success):
//   describe: output = the manifest JSON
//   handle:   input = AgentInput JSON, output = AgentOutput JSON
//   _initialize: AssemblyScript's start function (built with --exportStart),
//                which the host calls once after instantiation, as for a
//                native wasip1 reactor.
//
// AssemblyScript has no JSON library in its standard library; the input is
// scanned for the two members it needs ("envelope", then its "payload") by
// the small byte scanner below, and the payload's bytes are stored exactly
// as they appear in the input (the envelope's JCS wire form, so the ref is
// the envelope's payload_hash).

import { Host, Memory } from "@extism/as-pdk";
import {
  alloc,
  error_set,
  free,
  length,
  load_u64,
  load_u8,
  store_u64,
  store_u8,
} from "@extism/as-pdk/lib/env";

// ---------------------------------------------------------------------------
// swarmhost's host functions (module extism:host/user). Every parameter and
// result is an i64: an Extism memory offset, or for swarm_log's level a plain
// integer. A result > 0 is the offset of a block the host allocated (the
// guest may free it); 0 means "nothing" (not found); < 0 is a swarm_v1
// negative error code (-2 bad argument, -3 denied, -4 too large,
// -5 unavailable).

@external("extism:host/user", "swarm_cas_get")
declare function swarm_cas_get(ref: u64): i64;

@external("extism:host/user", "swarm_cas_put")
declare function swarm_cas_put(data: u64): i64;

@external("extism:host/user", "swarm_log")
declare function swarm_log(level: u64, msg: u64): void;

// Declared for completeness (as-echo needs no policy or plan); an unused
// declaration is not imported by the compiled module.
@external("extism:host/user", "swarm_policy_eval")
declare function swarm_policy_eval(req: u64): i64;

@external("extism:host/user", "swarm_plan_query")
declare function swarm_plan_query(req: u64): i64;

// Log levels of swarm_log (abi.LogDebug .. abi.LogError).
const LOG_INFO: u64 = 1;

const MANIFEST =
  '{"name":"as-echo","version":"1.0.0","abi":1,"roles":["worker"],' +
  '"capabilities":["echo"],"verbs":["NEED"]}';

// ---------------------------------------------------------------------------
// Extism memory helpers. The PDK's Memory.allocateBytes stores one byte per
// host call and Host.outputString measures UTF-16 units rather than UTF-8
// bytes, so these move 8 bytes per call and always work in UTF-8 bytes.

// allocBytes copies data into a new Extism block and returns its offset.
function allocBytes(data: Uint8Array): u64 {
  const n = data.length;
  const off = alloc(<u64>n);
  const base = data.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) store_u64(off + <u64>i, load<u64>(base + <usize>i));
  for (; i < n; i++) store_u8(off + <u64>i, load<u8>(base + <usize>i));
  return off;
}

function allocString(s: string): u64 {
  return allocBytes(Uint8Array.wrap(String.UTF8.encode(s)));
}

// readBlock copies the Extism block at off into a new array.
function readBlock(off: u64): Uint8Array {
  const n = <i32>length(off);
  const out = new Uint8Array(n);
  const base = out.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) store<u64>(base + <usize>i, load_u64(off + <u64>i));
  for (; i < n; i++) store<u8>(base + <usize>i, load_u8(off + <u64>i));
  return out;
}

function outputString(s: string): void {
  Host.output(Uint8Array.wrap(String.UTF8.encode(s)));
}

function log(level: u64, msg: string): void {
  const off = allocString(msg);
  swarm_log(level, off);
  free(off);
}

// ---------------------------------------------------------------------------
// A minimal JSON scanner over UTF-8 bytes: enough to find a member of an
// object and the exact byte span of its value. It trusts the host to send
// well-formed JSON and reports anything it cannot follow as not found.

let valueStart: i32 = 0;
let valueEnd: i32 = 0;

function isSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function skipSpace(b: Uint8Array, i: i32): i32 {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

// skipString: b[i] is '"'; returns the index just past the closing quote.
function skipString(b: Uint8Array, i: i32): i32 {
  i++;
  while (i < b.length) {
    const c = b[i];
    if (c == 0x5c) {
      i += 2;
      continue;
    }
    if (c == 0x22) return i + 1;
    i++;
  }
  return -1;
}

// skipValue returns the index just past the value starting at i, or -1.
function skipValue(b: Uint8Array, i: i32): i32 {
  if (i >= b.length) return -1;
  const c = b[i];
  if (c == 0x22) return skipString(b, i);
  if (c == 0x7b || c == 0x5b) {
    let depth = 0;
    while (i < b.length) {
      const d = b[i];
      if (d == 0x22) {
        i = skipString(b, i);
        if (i < 0) return -1;
        continue;
      }
      if (d == 0x7b || d == 0x5b) depth++;
      else if (d == 0x7d || d == 0x5d) {
        depth--;
        if (depth == 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  const start = i;
  while (i < b.length) {
    const d = b[i];
    if (d == 0x2c || d == 0x7d || d == 0x5d || isSpace(d)) break;
    i++;
  }
  return i > start ? i : -1;
}

// keyIs reports whether the string token b[ks..ke) (quotes included) is key.
function keyIs(b: Uint8Array, ks: i32, ke: i32, key: string): bool {
  const n = ke - ks - 2;
  if (n != key.length) return false;
  for (let j = 0; j < n; j++) {
    if (<i32>b[ks + 1 + j] != key.charCodeAt(j)) return false;
  }
  return true;
}

// member finds key among the members of the object starting at i and sets
// valueStart/valueEnd to its value's span.
function member(b: Uint8Array, i: i32, key: string): bool {
  i = skipSpace(b, i);
  if (i >= b.length || b[i] != 0x7b) return false;
  i = skipSpace(b, i + 1);
  while (i < b.length && b[i] == 0x22) {
    const ks = i;
    const ke = skipString(b, i);
    if (ke < 0) return false;
    i = skipSpace(b, ke);
    if (i >= b.length || b[i] != 0x3a) return false;
    i = skipSpace(b, i + 1);
    const ve = skipValue(b, i);
    if (ve < 0) return false;
    if (keyIs(b, ks, ke, key)) {
      valueStart = i;
      valueEnd = ve;
      return true;
    }
    i = skipSpace(b, ve);
    if (i < b.length && b[i] == 0x2c) i = skipSpace(b, i + 1);
  }
  return false;
}

function sameBytes(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

function fail(msg: string): i32 {
  // An AgentOutput with "error": the host records it and sends nothing.
  outputString('{"actions":[],"error":"as-echo: ' + msg + '"}');
  return 0;
}

// ---------------------------------------------------------------------------
// Exports.

export function describe(): i32 {
  outputString(MANIFEST);
  return 0;
}

export function handle(): i32 {
  const input = Host.input();
  if (!member(input, 0, "envelope")) return fail("input has no envelope");
  if (!member(input, valueStart, "payload")) return fail("envelope has no payload");
  const payload = input.slice(valueStart, valueEnd);

  const dataOff = allocBytes(payload);
  const refOff = swarm_cas_put(dataOff);
  free(dataOff);
  if (refOff <= 0) return fail("swarm_cas_put failed with code " + refOff.toString());
  const ref = String.UTF8.decode(readBlock(<u64>refOff).buffer);
  free(<u64>refOff);

  const refArg = allocString(ref);
  const blobOff = swarm_cas_get(refArg);
  free(refArg);
  if (blobOff <= 0) return fail("swarm_cas_get " + ref + " failed with code " + blobOff.toString());
  const back = readBlock(<u64>blobOff);
  free(<u64>blobOff);
  if (!sameBytes(back, payload)) return fail("the CAS gave back other bytes for " + ref);

  log(LOG_INFO, "as-echo stored " + payload.length.toString() + " payload bytes as " + ref);

  outputString(
    '{"actions":[{"verb":"UPDATE_PLAN","payload":{"ops":[{"op":"ANNOTATE",' +
      '"task":"as-echo","key":"ref","value":"' + ref + '"}]},' +
      '"content_refs":["' + ref + '"]}]}',
  );
  return 0;
}

// ---------------------------------------------------------------------------
// abort (selected with --use abort=assembly/index/asAbort): report through
// Extism's error_set and trap, instead of importing env.abort, which no
// Extism host provides. It allocates nothing on the AssemblyScript heap (an
// abort may come from the allocator itself): the text is built in a static
// buffer, ASCII only, truncated at 240 bytes.

// At most 240 bytes of text (a literal: abort is compiled before globals).

// abortPut appends s to the buffer at buf holding n bytes; returns the new n.
function abortPut(buf: usize, n: i32, s: string | null): i32 {
  if (s === null) return n;
  const str = changetype<string>(s);
  for (let i = 0; i < str.length && n < 240; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) c = 0x3f; // '?'
    store<u8>(buf + <usize>n, <u8>c);
    n++;
  }
  return n;
}

function abortPutU32(buf: usize, n: i32, v: u32): i32 {
  let div: u32 = 1_000_000_000;
  let started = false;
  while (div > 0) {
    const d = (v / div) % 10;
    if (d != 0 || started || div == 1) {
      started = true;
      if (n < 240) {
        store<u8>(buf + <usize>n, <u8>(0x30 + d));
        n++;
      }
    }
    div /= 10;
  }
  return n;
}

function asAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const buf = memory.data(256);
  let n = 0;
  n = abortPut(buf, n, "abort: ");
  n = abortPut(buf, n, message);
  n = abortPut(buf, n, " at ");
  n = abortPut(buf, n, fileName);
  n = abortPut(buf, n, ":");
  n = abortPutU32(buf, n, line);
  n = abortPut(buf, n, ":");
  n = abortPutU32(buf, n, column);
  const off = alloc(<u64>n);
  for (let i = 0; i < n; i++) store_u8(off + <u64>i, load<u8>(buf + <usize>i));
  error_set(off);
  unreachable();
}
