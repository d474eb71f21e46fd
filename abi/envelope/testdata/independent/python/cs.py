"""Independent implementation of CAN Swarm protocol v1 envelope / capability formats,
written from /work/shared/PROTOCOL.md sections 1-5 only."""
import hashlib, json, math
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization

ENV_DOMAIN = b"CANSWARM-ENVELOPE-V1\n"
CAP_DOMAIN = b"CANSWARM-CAPABILITY-V1\n"
VERBS = ["NEED", "PROPOSE", "DECIDE", "CLAIM", "HEARTBEAT", "YIELD", "RELEASE", "COMMIT", "ATTEST",
         "FINALIZE", "CHALLENGE", "INVALIDATE", "UPDATE_PLAN", "RECONCILE", "CHECKPOINT"]
FIELDS = ["v", "id", "thread_id", "verb", "lamport", "sender_pk", "capability", "content_refs", "payload",
          "payload_hash", "policy_capsule_hash", "policy_eval_digest", "sig"]

# ---------------------------------------------------------------- RFC 8785 (JCS)
_SHORT = {0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r"}


def _jstr(s: str) -> str:
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == '\\':
            out.append('\\\\')
        elif c < 0x20:
            out.append(_SHORT.get(c) or "\\u%04x" % c)
        elif 0xD800 <= c <= 0xDFFF:
            raise ValueError("lone surrogate in string")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _es6_number(x: float) -> str:
    # ECMAScript Number.prototype.toString for finite doubles (RFC 8785 section 3.2.2.3)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("non-finite number")
    if x == 0:
        return "0"
    if x < 0:
        return "-" + _es6_number(-x)
    r = repr(x)  # shortest round-trip digits
    if "e" in r:
        mant, exp = r.split("e")
        exp = int(exp)
    else:
        mant, exp = r, 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # position of decimal point relative to digits start
    n = exp + len(ip) - (len(ip + fp) - len((ip + fp).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * (-n) + digits
    e = n - 1
    es = ("+" if e >= 0 else "-") + str(abs(e))
    if k == 1:
        return digits + "e" + es
    return digits[0] + "." + digits[1:] + "e" + es


def _key16(k: str) -> bytes:
    return k.encode("utf-16-be", "surrogatepass")


def jcs_str(v) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        if abs(v) > 2 ** 53:
            raise ValueError("integer outside +/-2^53")
        return str(v)
    if isinstance(v, float):
        return _es6_number(v)
    if isinstance(v, str):
        return _jstr(v)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(jcs_str(x) for x in v) + "]"
    if isinstance(v, dict):
        for k in v:
            if not isinstance(k, str):
                raise TypeError("non-string key")
        ks = sorted(v.keys(), key=_key16)
        return "{" + ",".join(_jstr(k) + ":" + jcs_str(v[k]) for k in ks) + "}"
    raise TypeError(type(v))


def jcs(v) -> bytes:
    return jcs_str(v).encode("utf-8")


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()

# ---------------------------------------------------------------- keys


class Key:
    def __init__(self, seed_hex=None):
        if seed_hex is None:
            self.sk = Ed25519PrivateKey.generate()
        else:
            self.sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
        self.seed = self.sk.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption()).hex()
        self.pk = self.sk.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw).hex()

    @classmethod
    def load(cls, path):
        d = json.load(open(path))
        k = cls(d["seed"])
        assert k.pk == d["public_key"], "key file public_key mismatch"
        return k

    def keyfile(self):
        return {"v": 1, "public_key": self.pk, "seed": self.seed}

    def sign(self, msg: bytes) -> str:
        return self.sk.sign(msg).hex()


def verify_sig(pk_hex, msg, sig_hex):
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(pk_hex)).verify(bytes.fromhex(sig_hex), msg)
        return True
    except Exception:
        return False

# ---------------------------------------------------------------- envelopes


def signing_form(env: dict) -> bytes:
    return jcs({k: v for k, v in env.items() if k not in ("id", "sig", "payload")})


def make_envelope(key: Key, verb, payload, lamport=1, thread_id="", capability="", content_refs=None,
                  policy_capsule_hash="", policy_eval_digest="", v=1):
    env = {"v": v, "thread_id": thread_id, "verb": verb, "lamport": lamport, "sender_pk": key.pk,
           "capability": capability, "content_refs": list(content_refs or []), "payload": payload,
           "payload_hash": sha(jcs(payload)), "policy_capsule_hash": policy_capsule_hash,
           "policy_eval_digest": policy_eval_digest}
    env["id"] = sha(signing_form(env))
    env["sig"] = key.sign(ENV_DOMAIN + env["id"].encode("ascii"))
    return env


def resign(key, env):
    """Recompute payload_hash, id, sig after an edit (to isolate one check)."""
    env = dict(env)
    env["payload_hash"] = sha(jcs(env["payload"]))
    env["id"] = sha(signing_form(env))
    env["sig"] = key.sign(ENV_DOMAIN + env["id"].encode("ascii"))
    return env


import re
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_PK = re.compile(r"^[0-9a-f]{64}$")
_SIG = re.compile(r"^[0-9a-f]{128}$")


def check_envelope(wire: bytes):
    """Stateless checks of section 2 in contract order. Returns 'ok' or a code."""
    if len(wire) > 64 * 1024:
        # size is checked 4th, but we need a parse first; do parse then report order-correctly
        pass
    def nodup(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise ValueError("duplicate key")
            d[k] = v
        return d
    try:
        env = json.loads(wire.decode("utf-8"), object_pairs_hook=nodup)
        jcs(env)  # representable in JCS: no lone surrogates, ints within 2^53, finite numbers
    except Exception:
        return "malformed"
    if not isinstance(env, dict) or set(env) != set(FIELDS):
        return "malformed"
    types = {"v": int, "id": str, "thread_id": str, "verb": str, "lamport": int, "sender_pk": str,
             "capability": str, "content_refs": list, "payload": dict, "payload_hash": str,
             "policy_capsule_hash": str, "policy_eval_digest": str, "sig": str}
    for f, t in types.items():
        if not isinstance(env[f], t) or isinstance(env[f], bool):
            return "malformed"
    if not (_PK.match(env["sender_pk"]) and _SIG.match(env["sig"]) and _HASH.match(env["id"])
            and _HASH.match(env["payload_hash"]) and env["lamport"] >= 0
            and all(isinstance(r, str) and _HASH.match(r) for r in env["content_refs"])
            and all(x == "" or _HASH.match(x) for x in (env["thread_id"], env["capability"],
                    env["policy_capsule_hash"], env["policy_eval_digest"]))):
        return "malformed"
    if env["v"] != 1:
        return "bad_version"
    if env["verb"] not in VERBS:
        return "unknown_verb"
    if len(wire) > 64 * 1024 or len(jcs(env["payload"])) > 32 * 1024 or len(env["content_refs"]) > 64:
        return "too_large"
    if sha(jcs(env["payload"])) != env["payload_hash"]:
        return "payload_hash_mismatch"
    if sha(signing_form(env)) != env["id"]:
        return "id_mismatch"
    if not verify_sig(env["sender_pk"], ENV_DOMAIN + env["id"].encode(), env["sig"]):
        return "bad_signature"
    return "ok"

# ---------------------------------------------------------------- capability tokens


def make_token(issuer: Key, subject_pk, roles, capabilities, not_after=0, v=1):
    tok = {"v": v, "issuer_pk": issuer.pk, "subject_pk": subject_pk, "roles": list(roles),
           "capabilities": list(capabilities), "not_after": not_after}
    h = sha(jcs(tok))
    tok["sig"] = issuer.sign(CAP_DOMAIN + h.encode("ascii"))
    return tok


def token_bytes(tok):
    return jcs(tok)


def token_ref(tok):
    return sha(jcs(tok))
