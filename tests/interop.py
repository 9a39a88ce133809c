"""DPoP proofs made by an independent implementation: the npm package ``dpop`` under Node.

``scripts/npm-dpop`` installs the package into ``.npm-interop/`` (``scripts/test`` runs
it); tests call :func:`require_npm_dpop` first, which skips them with the reason when Node
or the package is missing. Keys are generated here per test and handed to Node as JWKs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, Literal

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

__all__ = [
    "PRIVATE_MEMBERS",
    "ProofAlg",
    "generate_jwk",
    "node_dpop_proof",
    "npm_dpop_missing",
    "require_npm_dpop",
]

ROOT = Path(__file__).resolve().parents[1]
NPM_PREFIX = ROOT / ".npm-interop"

ProofAlg = Literal["ES256", "Ed25519", "RS256", "PS256"]
"""The ``alg`` values the npm package signs with (it names Ed25519 ``Ed25519``, the fully
specified name of RFC 9864, where older code says ``EdDSA``)."""

PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

# Node hangs on nothing here; this only stops a broken install from stalling the suite.
_NODE_SECONDS = 60

# Reads {jwk, alg, htm, htu, nonce, accessToken, additional} on stdin, prints the proof.
_SCRIPT = """
import { generateProof } from "dpop";
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const algorithms = {
  ES256: { name: "ECDSA", namedCurve: "P-256" },
  Ed25519: { name: "Ed25519" },
  RS256: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  PS256: { name: "RSA-PSS", hash: "SHA-256" },
};
const algorithm = algorithms[input.alg];
// key_ops, use and alg would have to agree with each import's usage: leave them out.
const { key_ops, use, alg, ...privateJwk } = input.jwk;
const privateMembers = new Set(["d", "p", "q", "dp", "dq", "qi", "oth", "k"]);
const publicJwk = Object.fromEntries(
  Object.entries(privateJwk).filter(([name]) => !privateMembers.has(name)),
);
const keypair = {
  privateKey: await crypto.subtle.importKey("jwk", privateJwk, algorithm, false, ["sign"]),
  publicKey: await crypto.subtle.importKey("jwk", publicJwk, algorithm, true, ["verify"]),
};
const proof = await generateProof(
  keypair, input.htu, input.htm, input.nonce ?? undefined,
  input.accessToken ?? undefined, input.additional ?? undefined,
);
process.stdout.write(proof);
"""


def npm_dpop_missing() -> str | None:
    """Why Node cannot make proofs here, or ``None`` when it can."""
    if shutil.which("node") is None:
        return "node is not installed; the interoperability tests need Node and npm"
    if not (NPM_PREFIX / "node_modules" / "dpop" / "package.json").is_file():
        return "the npm package dpop is not in .npm-interop/; scripts/npm-dpop installs it"
    return None


def require_npm_dpop() -> None:
    """Skip the calling test, with the reason, when Node or the package is missing."""
    missing = npm_dpop_missing()
    if missing:
        pytest.skip(missing)


def generate_jwk(alg: ProofAlg = "ES256") -> dict[str, Any]:
    """A new private key for ``alg`` as a JWK (public members included)."""
    if alg == "ES256":
        return ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()), as_dict=True)
    if alg == "Ed25519":
        return OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate(), as_dict=True)
    return RSAAlgorithm.to_jwk(
        rsa.generate_private_key(public_exponent=65537, key_size=2048), as_dict=True
    )


def node_dpop_proof(
    private_jwk: dict[str, Any],
    method: str,
    url: str,
    *,
    alg: ProofAlg = "ES256",
    access_token: str | None = None,
    nonce: str | None = None,
    additional: dict[str, Any] | None = None,
) -> str:
    """A DPoP proof for ``method`` and ``url`` made by the npm package ``dpop``.

    ``url`` goes into ``htu`` as given (the package strips nothing); ``additional``
    claims are merged under the package's own. Call :func:`require_npm_dpop` first.
    """
    payload = {
        "jwk": private_jwk,
        "alg": alg,
        "htm": method,
        "htu": url,
        "nonce": nonce,
        "accessToken": access_token,
        "additional": additional,
    }
    node = shutil.which("node")
    assert node is not None, "call require_npm_dpop() first"
    done = subprocess.run(
        [node, "--no-warnings", "--input-type=module", "-e", _SCRIPT],
        input=json.dumps(payload).encode(),
        capture_output=True,
        cwd=NPM_PREFIX,
        timeout=_NODE_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"node could not make a DPoP proof:\n{done.stderr.decode(errors='replace')}"
        )
    return done.stdout.decode()
