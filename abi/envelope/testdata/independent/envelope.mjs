// An independent implementation of PROTOCOL.md section 2, written from the
// text alone in JavaScript (Node's built-in Ed25519, a 20-line JCS), used to
// check that swarmhost and another implementation agree byte for byte.
//
//   node envelope.mjs sign KEYFILE   reads drafts (JSON lines) on stdin, prints signed envelopes
//   node envelope.mjs verify FILE    prints "ok <id>" or "invalid: <code>"
//   node envelope.mjs vectors KEYFILE  prints the cases of independent.jsonl
import { createHash, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

// RFC 8785: ES6 number and string serialisation (JSON.stringify), keys
// sorted by UTF-16 code units (JavaScript's default string order).
function jcs(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(jcs).join(',') + ']';
  return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + jcs(v[k])).join(',') + '}';
}
const sha = b => 'sha256:' + createHash('sha256').update(b).digest('hex');
const DOMAIN = 'CANSWARM-ENVELOPE-V1\n';
const VERBS = ['NEED','PROPOSE','DECIDE','CLAIM','HEARTBEAT','YIELD','RELEASE','COMMIT','ATTEST','FINALIZE','CHALLENGE','INVALIDATE','UPDATE_PLAN','RECONCILE','CHECKPOINT'];

function keyOf(file) {
  const k = JSON.parse(readFileSync(file, 'utf8'));
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(k.seed, 'hex')]);
  const priv = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
  if (pub !== k.public_key) throw new Error('key file: public key does not match seed');
  return { priv, pub };
}

function signDraft(d, key) {
  const e = { v: 1, thread_id: d.thread_id ?? '', verb: d.verb, lamport: d.lamport, sender_pk: key.pub,
    capability: d.capability ?? '', content_refs: d.content_refs ?? [], payload: d.payload ?? {},
    policy_capsule_hash: d.policy_capsule_hash ?? '', policy_eval_digest: d.policy_eval_digest ?? '' };
  e.payload_hash = sha(jcs(e.payload));
  const { payload, ...signing } = e;
  e.id = sha(jcs(signing));
  e.sig = sign(null, Buffer.from(DOMAIN + e.id), key.priv).toString('hex');
  return e;
}

function check(text) {
  let e;
  try { e = JSON.parse(text); } catch { return 'malformed'; }
  const fields = ['v','id','thread_id','verb','lamport','sender_pk','capability','content_refs','payload','payload_hash','policy_capsule_hash','policy_eval_digest','sig'];
  if (typeof e !== 'object' || e === null || Array.isArray(e)) return 'malformed';
  if (Object.keys(e).length !== fields.length || fields.some(f => !(f in e))) return 'malformed';
  if (typeof e.v !== 'number') return 'malformed';
  if (typeof e.payload !== 'object' || Array.isArray(e.payload) || e.payload === null) return 'malformed';
  if (e.v !== 1) return 'bad_version';
  if (!VERBS.includes(e.verb)) return 'unknown_verb';
  if (Buffer.byteLength(jcs(e)) > 65536 || Buffer.byteLength(jcs(e.payload)) > 32768 || e.content_refs.length > 64) return 'too_large';
  if (sha(jcs(e.payload)) !== e.payload_hash) return 'payload_hash_mismatch';
  const { id, sig, payload, ...signing } = e;
  if (sha(jcs(signing)) !== id) return 'id_mismatch';
  const pub = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(e.sender_pk, 'hex')]), format: 'der', type: 'spki' });
  if (!/^[0-9a-f]{128}$/.test(sig) || !verify(null, Buffer.from(DOMAIN + id), pub, Buffer.from(sig, 'hex'))) return 'bad_signature';
  return 'ok ' + id;
}

const [cmd, arg] = process.argv.slice(2);
if (cmd === 'sign') {
  const key = keyOf(arg);
  for (const line of readFileSync(0, 'utf8').split('\n').filter(Boolean)) console.log(jcs(signDraft(JSON.parse(line), key)));
} else if (cmd === 'verify') {
  const r = check(readFileSync(arg, 'utf8'));
  console.log(r.startsWith('ok') ? r : 'invalid: ' + r);
  process.exit(r.startsWith('ok') ? 0 : 1);
} else if (cmd === 'vectors') {
  const key = keyOf(arg);
  const need = signDraft({ verb: 'NEED', lamport: 1, content_refs: ['sha256:' + 'ab'.repeat(32)],
    payload: { capability: 'classify', k: 3, n: 3, bid_window_ms: 500, lease_ms: 30000, max_epochs: 3, gas_budget: 1000000, deadline_ms: 600000, nonce: 'js-1' } }, key);
  const cases = [
    ['js-need', 'ok', need],
    ['js-propose-floats', 'ok', signDraft({ verb: 'PROPOSE', thread_id: need.id, lamport: 2, payload: { epoch: 1, bid: { price: 0.1, eta_ms: 1e21, weight: -5e-7 } } }, key)],
    ['js-update-plan-unicode', 'ok', signDraft({ verb: 'UPDATE_PLAN', thread_id: need.id, lamport: 3, payload: { ops: [{ op: 'ANNOTATE', task: 't\u0001', key: '\u20ac\ud83d\ude00\ufb33', value: 'line\nbreak "q" \\ /' }] } }, key)],
    ['js-commit-refs', 'ok', signDraft({ verb: 'COMMIT', thread_id: need.id, lamport: 9, capability: 'sha256:' + 'cd'.repeat(32), content_refs: ['sha256:' + '01'.repeat(32), 'sha256:' + '02'.repeat(32)], policy_capsule_hash: 'sha256:' + 'ef'.repeat(32), payload: { epoch: 1, fence: 7, result: 'sha256:' + '01'.repeat(32), telemetry: { gas_used: 1234, wall_ms: 5 } } }, key)],
  ];
  const tamper = (name, code, f) => { const e = structuredClone(need); f(e); cases.push([name, code, e]); };
  tamper('js-tamper-lamport', 'id_mismatch', e => { e.lamport = 2; });
  tamper('js-tamper-payload', 'payload_hash_mismatch', e => { e.payload.k = 1; });
  tamper('js-tamper-sig', 'bad_signature', e => { e.sig = (e.sig[0] === '0' ? '1' : '0') + e.sig.slice(1); });
  tamper('js-tamper-version', 'bad_version', e => { e.v = 2; });
  tamper('js-tamper-verb', 'unknown_verb', e => { e.verb = 'WANT'; });
  tamper('js-tamper-id', 'id_mismatch', e => { e.id = 'sha256:' + '00'.repeat(32); });
  tamper('js-tamper-payload-hash', 'payload_hash_mismatch', e => { e.payload_hash = 'sha256:' + '00'.repeat(32); });
  tamper('js-tamper-refs', 'id_mismatch', e => { e.content_refs = ['sha256:' + 'ac'.repeat(32)]; });
  for (const [name, expect, e] of cases) {
    const text = jcs(e);
    const got = check(text);
    if ((got.startsWith('ok') ? 'ok' : got) !== expect) throw new Error(`${name}: this implementation says ${got}, expected ${expect}`);
    console.log(JSON.stringify({ name, expect, envelope: text }));
  }
} else {
  console.error('usage: node envelope.mjs sign KEYFILE | verify FILE | vectors KEYFILE');
  process.exit(2);
}
