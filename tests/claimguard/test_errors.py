"""Every ``error_description`` claimguard writes is one quotable sentence.

RFC 6750 §3 puts the description in a quoted-string of ``WWW-Authenticate``, so it must
stay within %x20-21 / %x23-5B / %x5D-7E; clients show it to people, so it reads as a
sentence: a capital first letter and a final period. The test walks every place in
``src/claimguard`` where a refusal is built and checks the text written there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import get_args

import pytest

import claimguard
from claimguard import (
    InvalidDPoPProof,
    InvalidToken,
    KeySetUnavailable,
    ReplayStoreUnavailable,
    UnavailableCause,
)
from claimguard.asgi._challenge import Challenger
from claimguard.asgi._requirements import PredicateRequirement
from claimguard.jose._jws import _REFUSED_HEADER_PARAMS

SRC = Path(claimguard.__file__).parent
QUOTABLE = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")

# The callables that take a description, and where it is among their positional arguments.
DESCRIBED = {
    "InvalidToken": 1,
    "InvalidDPoPProof": 1,
    "UseDPoPNonce": 1,
    "InvalidRequest": 0,
    "InsufficientClaims": 0,
    "InsufficientUserAuthentication": 0,
    "KeySetUnavailable": 0,
    "ReplayStoreUnavailable": 0,
    # Its message becomes an InvalidToken's description.
    "AmbiguousClaim": 0,
}
# StepUpRequirement._refuse(cause, description); other modules' _refuse take no description.
STEP_UP_REFUSE = ("asgi/_stepup.py", "_refuse", 1)

# Descriptions handed on rather than written where the error is built; each one's source
# is checked by a test below (or is itself a call in DESCRIBED).
FORWARDED = {
    ("asgi/_requirements.py", "self.description"),
    ("asgi/_stepup.py", "description"),
    ("jose/_jws.py", "reason"),
    ("verification/_issuerset.py", "*known"),
    ("verification/_tokenreader.py", "str(exc)"),
}


def _is_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith(".") and QUOTABLE.fullmatch(text) is not None


def _written(node: ast.expr) -> str | None:
    """The text ``node`` writes, each interpolation shown as ``{}``; ``None`` when it hands
    on a text written elsewhere."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def _descriptions() -> tuple[list[tuple[str, int, ast.expr]], set[tuple[str, str]]]:
    written: list[tuple[str, int, ast.expr]] = []
    forwarded: set[tuple[str, str]] = set()
    for path in sorted(SRC.rglob("*.py")):
        where = path.relative_to(SRC).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                # A default description (claim_check, tool_check …) is written here too.
                arguments = node.args
                named = [*arguments.posonlyargs, *arguments.args]
                pairs = list(
                    zip(
                        named[len(named) - len(arguments.defaults) :],
                        arguments.defaults,
                        strict=True,
                    )
                )
                pairs += [
                    (arg, default)
                    for arg, default in zip(
                        arguments.kwonlyargs, arguments.kw_defaults, strict=True
                    )
                    if default is not None
                ]
                written += [
                    (where, default.lineno, default)
                    for arg, default in pairs
                    if arg.arg == "description" and _written(default) is not None
                ]
                continue
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if (where, name) == STEP_UP_REFUSE[:2]:
                position = STEP_UP_REFUSE[2]
            elif name in DESCRIBED:
                position = DESCRIBED[name]
            else:
                continue
            if any(isinstance(arg, ast.Starred) for arg in node.args):
                forwarded.add((where, ast.unparse(node.args[0])))
                continue
            given = [kw.value for kw in node.keywords if kw.arg == "description"]
            if position < len(node.args):
                given.append(node.args[position])
            for expr in given:
                if _written(expr) is None:
                    forwarded.add((where, ast.unparse(expr)))
                else:
                    written.append((where, expr.lineno, expr))
    return written, forwarded


def test_every_written_description_is_a_quotable_sentence() -> None:
    written, _ = _descriptions()
    assert len(written) > 60
    wrong = []
    for where, line, expr in written:
        text = _written(expr)
        if text is None or not _is_sentence(text):
            wrong.append(f"{where}:{line}: {ast.unparse(expr)}")
    assert wrong == []


def test_every_forwarded_description_is_accounted_for() -> None:
    _, forwarded = _descriptions()
    assert forwarded == FORWARDED


def test_refused_header_parameter_descriptions_are_sentences() -> None:
    assert all(_is_sentence(reason) for reason in _REFUSED_HEADER_PARAMS.values())


@pytest.mark.parametrize("cause", get_args(UnavailableCause))
def test_unavailable_keys_descriptions_are_sentences(cause: UnavailableCause) -> None:
    error = KeySetUnavailable.because(cause, retry_after_seconds=5, detail="GET https://x/ 500")
    assert _is_sentence(error.description)
    assert _is_sentence(Challenger(debug=True).for_error(error).description)


@pytest.mark.parametrize("dpop", ["disabled", "allowed", "required"])
def test_missing_token_description_is_a_sentence(dpop: str) -> None:
    assert _is_sentence(Challenger(dpop=dpop).missing_token().description)


def test_challenge_descriptions_are_sentences() -> None:
    challenger = Challenger(dpop="allowed", debug=True)
    for error in (
        InvalidToken("expired", "The token has expired."),
        InvalidDPoPProof("replayed", "The DPoP proof was used before."),
        ReplayStoreUnavailable("The proof cannot be checked now.", detail="redis down"),
    ):
        answer = challenger.for_error(error)
        assert _is_sentence(answer.description)
        assert answer.fields["error_description"] == answer.description


def test_claim_check_default_description_is_a_sentence() -> None:
    assert _is_sentence(PredicateRequirement(lambda claims: True).description)
