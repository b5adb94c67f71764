"""Sigma protocols for linear relations over ristretto255: Schnorr, Pedersen openings, DLEQ, equality
of committed values, AND and OR composition; interactive and non-interactive (Fiat–Shamir).

A :class:`LinearRelation` is a system of equations ``lhs_j = sum_k w_k * B_jk`` in secret witnesses
``w_k``. One generic prover covers every relation: it sends one commitment ``T_j = sum_k r_k * B_jk``
per equation, receives a challenge ``c`` and answers ``s_k = r_k + c*w_k``; the verifier checks
``sum_k s_k * B_jk == T_j + c*lhs_j``. OR composition follows Cramer, Damgård and Schoenmakers
(CRYPTO '94): the prover simulates the branches it cannot prove and splits the verifier's
challenge so that the branch challenges sum to it.

Non-interactive proofs (:func:`prove` / :func:`verify`, :func:`prove_or` / :func:`verify_or`) draw
the challenge from a :class:`~petsuite.zkp.transcript.Transcript` that has absorbed the caller's
context (protocol label, nonces), the proof type, the relation's name, every base and left-hand
side of every equation, and every commitment; so a proof for one statement fails for any other.
A proof is ``(challenge, responses)``: the verifier recomputes the commitments from it.

Threat model and what leaks: honest-verifier zero-knowledge (special HVZK; the Fiat–Shamir version
is zero-knowledge in the random-oracle model): a proof reveals the statement (which is public) and
that the prover knows witnesses, nothing about them. Nonces come from the CSPRNG; reusing a nonce
for two challenges reveals the witness, so :class:`SigmaProver` answers once only. An OR proof
hides which branch the prover knows. Secret arithmetic uses libsodium's constant-time scalar code;
Python object handling around it is not constant time. Every verification failure, including
malformed encodings, raises :class:`~petsuite.core.errors.VerificationFailed`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from petsuite.core.errors import InvalidInput, VerificationFailed
from petsuite.core.rng import RandomSource, resolve
from petsuite.primitives.group import SCALAR_BYTES, Point, Scalar, multiscalar_mul
from petsuite.zkp.pedersen import PedersenParams
from petsuite.zkp.transcript import Transcript

__all__ = [
    "PROOF_VERSION",
    "LinearRelation",
    "OrProof",
    "SigmaProof",
    "SigmaProver",
    "check_interactive",
    "conjunction",
    "dleq",
    "equal_committed_values",
    "pedersen_opening",
    "prove",
    "prove_or",
    "schnorr",
    "verify",
    "verify_or",
]

#: Version byte leading every serialised Sigma and OR proof.
PROOF_VERSION: Final = 1
_TAG_SIGMA: Final = 0x53  # "S"
_TAG_OR: Final = 0x4F  # "O"
#: Upper bounds that keep a hostile encoding from requesting huge allocations.
_MAX_RESPONSES: Final = 1024
_MAX_BRANCHES: Final = 256

Term = tuple[int, Point]
Equation = tuple[Point, tuple[Term, ...]]


@dataclass(frozen=True)
class LinearRelation:
    """The statement ``lhs_j = sum_k witness[k] * base`` for each equation ``(lhs_j, terms_j)``.

    ``terms_j`` lists ``(witness_index, base)`` pairs; a witness absent from an equation has base
    zero there. Every witness must appear in some equation, bases must not be the identity, and no
    witness may appear twice in one equation. All of it is public.
    """

    name: str
    witness_names: tuple[str, ...]
    equations: tuple[Equation, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput("a relation needs a non-empty name")
        names = self.witness_names
        if not isinstance(names, tuple) or not names:
            raise InvalidInput("witness_names must be a non-empty tuple")
        if any(not isinstance(n, str) or not n for n in names) or len(set(names)) != len(names):
            raise InvalidInput("witness names must be distinct non-empty strings")
        if not isinstance(self.equations, tuple) or not self.equations:
            raise InvalidInput("equations must be a non-empty tuple")
        used: set[int] = set()
        for j, equation in enumerate(self.equations):
            if not isinstance(equation, tuple) or len(equation) != 2:
                raise InvalidInput(f"equation {j} must be a (lhs, terms) pair")
            lhs, terms = equation
            if not isinstance(lhs, Point):
                raise InvalidInput(f"equation {j}: lhs is not a Point")
            if not isinstance(terms, tuple) or not terms:
                raise InvalidInput(f"equation {j} has no terms")
            seen: set[int] = set()
            for term in terms:
                if not isinstance(term, tuple) or len(term) != 2:
                    raise InvalidInput(f"equation {j}: a term must be (witness_index, base)")
                index, base = term
                if isinstance(index, bool) or not isinstance(index, int):
                    raise InvalidInput(f"equation {j}: witness index must be an int")
                if not 0 <= index < len(names) or index in seen:
                    raise InvalidInput(f"equation {j}: bad or repeated witness index {index}")
                if not isinstance(base, Point) or base.is_identity():
                    raise InvalidInput(f"equation {j}: a base must be a non-identity Point")
                seen.add(index)
            used |= seen
        if len(used) != len(names):
            raise InvalidInput("every witness must appear in at least one equation")

    def bind(self, t: Transcript) -> None:
        """Absorb the full statement: name, witness names, every base and every lhs, in order."""
        t.append_message(b"relation", self.name.encode("utf-8"))
        t.append_int(b"witness-count", len(self.witness_names))
        for name in self.witness_names:
            t.append_message(b"witness", name.encode("utf-8"))
        t.append_int(b"equation-count", len(self.equations))
        for lhs, terms in self.equations:
            t.append_int(b"term-count", len(terms))
            for index, base in terms:
                t.append_int(b"index", index)
                t.append_point(b"base", base)
            t.append_point(b"lhs", lhs)

    def holds(self, witnesses: Sequence[Scalar]) -> bool:
        """Whether ``witnesses`` satisfy every equation (prover-side check)."""
        ws = _witness_tuple(self, witnesses)
        for lhs, terms in self.equations:
            value = multiscalar_mul([ws[k] for k, _ in terms], [b for _, b in terms])
            if not hmac.compare_digest(value.to_bytes(), lhs.to_bytes()):
                return False
        return True


def _witness_tuple(relation: LinearRelation, witnesses: Sequence[Scalar]) -> tuple[Scalar, ...]:
    ws = tuple(witnesses)
    if len(ws) != len(relation.witness_names):
        raise InvalidInput(
            f"relation {relation.name!r} takes {len(relation.witness_names)} witnesses, "
            f"got {len(ws)}"
        )
    if any(not isinstance(w, Scalar) for w in ws):
        raise InvalidInput("witnesses must be Scalars")
    return ws


# --- relation constructors -----------------------------------------------------------------------


def schnorr(public_key: Point, base: Point | None = None) -> LinearRelation:
    """Knowledge of ``x`` with ``public_key = x*base`` (default base: the ristretto255 generator)."""
    b = Point.generator() if base is None else base
    return LinearRelation("schnorr", ("x",), ((public_key, ((0, b),)),))


def pedersen_opening(commitment: Point, params: PedersenParams | None = None) -> LinearRelation:
    """Knowledge of ``(value, blinding)`` with ``commitment = value*g + blinding*h``."""
    p = PedersenParams.default() if params is None else params
    return LinearRelation(
        "pedersen-opening", ("value", "blinding"), ((commitment, ((0, p.g), (1, p.h))),)
    )


def dleq(g: Point, x: Point, h: Point, y: Point) -> LinearRelation:
    """Equality of discrete logarithms: knowledge of ``k`` with ``x = k*g`` and ``y = k*h``."""
    return LinearRelation("dleq", ("k",), ((x, ((0, g),)), (y, ((0, h),))))


def equal_committed_values(
    c1: Point, c2: Point, params: PedersenParams | None = None
) -> LinearRelation:
    """``c1`` and ``c2`` commit to the same value: ``c1 - c2 = d*h``.

    The single witness is the blinding difference ``d = r1 - r2``; nothing about the value leaks.
    """
    p = PedersenParams.default() if params is None else params
    return LinearRelation(
        "equal-committed-values", ("blinding_difference",), ((c1 - c2, ((0, p.h),)),)
    )


def conjunction(*relations: LinearRelation) -> LinearRelation:
    """AND: every relation holds, with independent witnesses (concatenated in order).

    The combined name ``and(n1,n2,...)`` and the witness names ``i.name`` keep the statement
    unambiguous in the transcript.
    """
    if not relations:
        raise InvalidInput("conjunction needs at least one relation")
    names: list[str] = []
    equations: list[Equation] = []
    for i, rel in enumerate(relations):
        if not isinstance(rel, LinearRelation):
            raise InvalidInput("conjunction takes LinearRelations")
        offset = len(names)
        names.extend(f"{i}.{n}" for n in rel.witness_names)
        for lhs, terms in rel.equations:
            equations.append((lhs, tuple((k + offset, b) for k, b in terms)))
    name = "and(" + ",".join(r.name for r in relations) + ")"
    return LinearRelation(name, tuple(names), tuple(equations))


# --- core algebra --------------------------------------------------------------------------------


def _commit_nonces(relation: LinearRelation, nonces: Sequence[Scalar]) -> tuple[Point, ...]:
    return tuple(
        multiscalar_mul([nonces[k] for k, _ in terms], [b for _, b in terms])
        for _, terms in relation.equations
    )


def _recompute(
    relation: LinearRelation, challenge: Scalar, responses: Sequence[Scalar]
) -> tuple[Point, ...]:
    """``T_j = sum_k s_k*B_jk - c*lhs_j``: the commitments a valid transcript must contain."""
    neg_c = -challenge
    out: list[Point] = []
    for lhs, terms in relation.equations:
        scalars = [responses[k] for k, _ in terms] + [neg_c]
        points = [b for _, b in terms] + [lhs]
        out.append(multiscalar_mul(scalars, points))
    return tuple(out)


def _responses(
    nonces: Sequence[Scalar], challenge: Scalar, witnesses: Sequence[Scalar]
) -> tuple[Scalar, ...]:
    return tuple(r + challenge * w for r, w in zip(nonces, witnesses, strict=True))


def _random_scalars(n: int, rng: RandomSource) -> list[Scalar]:
    return [Scalar.random(rng) for _ in range(n)]


def _bind_commitments(t: Transcript, commitments: Sequence[Point]) -> None:
    t.append_int(b"commitment-count", len(commitments))
    for point in commitments:
        t.append_point(b"commitment", point)


# --- non-interactive proofs ----------------------------------------------------------------------


def _scalar_from(data: bytes) -> Scalar:
    try:
        return Scalar.from_bytes(data)
    except InvalidInput as exc:
        raise VerificationFailed("malformed proof: non-canonical scalar") from exc


def _checked_bytes(data: object) -> bytes:
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    if not isinstance(data, bytes):
        raise VerificationFailed("malformed proof: not bytes")
    return data


@dataclass(frozen=True)
class SigmaProof:
    """A Fiat–Shamir proof for a :class:`LinearRelation`: the challenge and one response per witness.

    Encoding (``to_bytes``): version byte ``0x01``, tag ``b"S"``, 2-byte big-endian response count
    ``n``, the 32-byte challenge, then ``n`` 32-byte responses (all canonical scalars).
    """

    challenge: Scalar
    responses: tuple[Scalar, ...]

    def to_bytes(self) -> bytes:
        head = bytes([PROOF_VERSION, _TAG_SIGMA]) + len(self.responses).to_bytes(2, "big")
        return head + self.challenge.to_bytes() + b"".join(s.to_bytes() for s in self.responses)

    @classmethod
    def from_bytes(cls, data: bytes) -> SigmaProof:
        """Strict decoding; raises VerificationFailed on any malformed input."""
        raw = _checked_bytes(data)
        if len(raw) < 4 or raw[0] != PROOF_VERSION or raw[1] != _TAG_SIGMA:
            raise VerificationFailed("malformed proof: bad header")
        n = int.from_bytes(raw[2:4], "big")
        if not 1 <= n <= _MAX_RESPONSES or len(raw) != 4 + SCALAR_BYTES * (n + 1):
            raise VerificationFailed("malformed proof: bad length")
        scalars = [
            _scalar_from(raw[i : i + SCALAR_BYTES]) for i in range(4, len(raw), SCALAR_BYTES)
        ]
        return cls(scalars[0], tuple(scalars[1:]))


def prove(
    relation: LinearRelation,
    witnesses: Sequence[Scalar],
    transcript: Transcript,
    rng: RandomSource | None = None,
) -> SigmaProof:
    """Prove knowledge of ``witnesses`` for ``relation``; the transcript is updated in place.

    Raises
    ------
    InvalidInput
        If the witnesses do not satisfy the relation (no proof of a false statement is produced).
    """
    ws = _witness_tuple(relation, witnesses)
    if not relation.holds(ws):
        raise InvalidInput(f"the witnesses do not satisfy relation {relation.name!r}")
    nonces = _random_scalars(len(ws), resolve(rng))
    commitments = _commit_nonces(relation, nonces)
    transcript.append_message(b"proof-type", b"sigma/linear/v1")
    relation.bind(transcript)
    _bind_commitments(transcript, commitments)
    challenge = transcript.challenge_scalar(b"challenge")
    return SigmaProof(challenge, _responses(nonces, challenge, ws))


def verify(relation: LinearRelation, proof: SigmaProof, transcript: Transcript) -> None:
    """Check a :class:`SigmaProof` against ``relation`` and the caller's transcript.

    Raises
    ------
    VerificationFailed
        On a false or malformed proof, or a proof made for another statement or context.
    """
    if not isinstance(relation, LinearRelation) or not isinstance(proof, SigmaProof):
        raise VerificationFailed("malformed proof")
    if not isinstance(proof.challenge, Scalar) or len(proof.responses) != len(
        relation.witness_names
    ):
        raise VerificationFailed("malformed proof: wrong number of responses")
    if any(not isinstance(s, Scalar) for s in proof.responses):
        raise VerificationFailed("malformed proof")
    commitments = _recompute(relation, proof.challenge, proof.responses)
    transcript.append_message(b"proof-type", b"sigma/linear/v1")
    relation.bind(transcript)
    _bind_commitments(transcript, commitments)
    expected = transcript.challenge_scalar(b"challenge")
    if expected != proof.challenge:
        raise VerificationFailed("sigma proof does not verify")


# --- OR composition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrProof:
    """A Fiat–Shamir OR proof: per branch, its challenge and responses; the challenges sum to the
    transcript's challenge.

    Encoding (``to_bytes``): version byte ``0x01``, tag ``b"O"``, 2-byte branch count ``m``, then
    per branch a 2-byte response count ``n_i``, the branch challenge and ``n_i`` responses.
    """

    challenges: tuple[Scalar, ...]
    responses: tuple[tuple[Scalar, ...], ...]

    def to_bytes(self) -> bytes:
        out = bytearray([PROOF_VERSION, _TAG_OR])
        out += len(self.challenges).to_bytes(2, "big")
        for c, rs in zip(self.challenges, self.responses, strict=True):
            out += len(rs).to_bytes(2, "big") + c.to_bytes()
            out += b"".join(s.to_bytes() for s in rs)
        return bytes(out)

    @classmethod
    def from_bytes(cls, data: bytes) -> OrProof:
        """Strict decoding; raises VerificationFailed on any malformed input."""
        raw = _checked_bytes(data)
        if len(raw) < 4 or raw[0] != PROOF_VERSION or raw[1] != _TAG_OR:
            raise VerificationFailed("malformed proof: bad header")
        m = int.from_bytes(raw[2:4], "big")
        if not 2 <= m <= _MAX_BRANCHES:
            raise VerificationFailed("malformed proof: bad branch count")
        pos = 4
        challenges: list[Scalar] = []
        responses: list[tuple[Scalar, ...]] = []
        for _ in range(m):
            if pos + 2 > len(raw):
                raise VerificationFailed("malformed proof: truncated")
            n = int.from_bytes(raw[pos : pos + 2], "big")
            pos += 2
            end = pos + SCALAR_BYTES * (n + 1)
            if not 1 <= n <= _MAX_RESPONSES or end > len(raw):
                raise VerificationFailed("malformed proof: truncated or bad count")
            scalars = [
                _scalar_from(raw[i : i + SCALAR_BYTES]) for i in range(pos, end, SCALAR_BYTES)
            ]
            challenges.append(scalars[0])
            responses.append(tuple(scalars[1:]))
            pos = end
        if pos != len(raw):
            raise VerificationFailed("malformed proof: trailing bytes")
        return cls(tuple(challenges), tuple(responses))


def _bind_or(t: Transcript, relations: Sequence[LinearRelation]) -> None:
    t.append_message(b"proof-type", b"sigma/or/v1")
    t.append_int(b"branch-count", len(relations))
    for rel in relations:
        rel.bind(t)


def _check_branches(relations: Sequence[LinearRelation]) -> tuple[LinearRelation, ...]:
    rels = tuple(relations)
    if not 2 <= len(rels) <= _MAX_BRANCHES:
        raise InvalidInput(f"an OR proof needs 2 to {_MAX_BRANCHES} branches")
    if any(not isinstance(r, LinearRelation) for r in rels):
        raise InvalidInput("OR branches must be LinearRelations")
    return rels


def prove_or(
    relations: Sequence[LinearRelation],
    known: int,
    witnesses: Sequence[Scalar],
    transcript: Transcript,
    rng: RandomSource | None = None,
) -> OrProof:
    """Prove that at least one of ``relations`` holds, knowing the witnesses of branch ``known``.

    The other branches are simulated (random challenge and responses); the proof does not reveal
    ``known``.

    Raises
    ------
    InvalidInput
        If ``known`` is out of range or the witnesses do not satisfy that branch.
    """
    rels = _check_branches(relations)
    if isinstance(known, bool) or not isinstance(known, int) or not 0 <= known < len(rels):
        raise InvalidInput("known must index one of the relations")
    ws = _witness_tuple(rels[known], witnesses)
    if not rels[known].holds(ws):
        raise InvalidInput("the witnesses do not satisfy the known branch")
    source = resolve(rng)
    challenges: list[Scalar | None] = []
    responses: list[tuple[Scalar, ...] | None] = []
    commitments: list[tuple[Point, ...]] = []
    nonces: list[Scalar] = []
    for i, rel in enumerate(rels):
        if i == known:
            nonces = _random_scalars(len(ws), source)
            commitments.append(_commit_nonces(rel, nonces))
            challenges.append(None)
            responses.append(None)
        else:
            c_i = Scalar.random(source)
            s_i = tuple(_random_scalars(len(rel.witness_names), source))
            commitments.append(_recompute(rel, c_i, s_i))
            challenges.append(c_i)
            responses.append(s_i)
    _bind_or(transcript, rels)
    for branch in commitments:
        _bind_commitments(transcript, branch)
    total = transcript.challenge_scalar(b"challenge")
    own = total
    for c in challenges:
        if c is not None:
            own = own - c
    challenges[known] = own
    responses[known] = _responses(nonces, own, ws)
    return OrProof(
        tuple(c for c in challenges if c is not None),
        tuple(r for r in responses if r is not None),
    )


def verify_or(relations: Sequence[LinearRelation], proof: OrProof, transcript: Transcript) -> None:
    """Check an :class:`OrProof`; raises VerificationFailed on any false or malformed proof."""
    try:
        rels = _check_branches(relations)
    except InvalidInput as exc:
        raise VerificationFailed("malformed OR statement") from exc
    if not isinstance(proof, OrProof):
        raise VerificationFailed("malformed proof")
    if len(proof.challenges) != len(rels) or len(proof.responses) != len(rels):
        raise VerificationFailed("malformed proof: wrong branch count")
    commitments: list[tuple[Point, ...]] = []
    total: Scalar | None = None
    for rel, c, rs in zip(rels, proof.challenges, proof.responses, strict=True):
        if not isinstance(c, Scalar) or len(rs) != len(rel.witness_names):
            raise VerificationFailed("malformed proof: wrong number of responses")
        if any(not isinstance(s, Scalar) for s in rs):
            raise VerificationFailed("malformed proof")
        commitments.append(_recompute(rel, c, rs))
        total = c if total is None else total + c
    _bind_or(transcript, rels)
    for branch in commitments:
        _bind_commitments(transcript, branch)
    expected = transcript.challenge_scalar(b"challenge")
    if total is None or expected != total:
        raise VerificationFailed("OR proof does not verify")


# --- interactive (three-move) protocol -----------------------------------------------------------


class SigmaProver:
    """The prover's side of the interactive protocol: commitments, then one response.

    The verifier must draw its challenge uniformly at random *after* receiving the commitments
    (:meth:`Scalar.random`); this gives honest-verifier zero-knowledge. A second call to
    :meth:`respond` is refused: two responses to one set of nonces reveal the witnesses.
    """

    __slots__ = ("_commitments", "_nonces", "_relation", "_spent", "_witnesses")

    def __init__(
        self,
        relation: LinearRelation,
        witnesses: Sequence[Scalar],
        rng: RandomSource | None = None,
    ) -> None:
        if not isinstance(relation, LinearRelation):
            raise InvalidInput("relation must be a LinearRelation")
        ws = _witness_tuple(relation, witnesses)
        if not relation.holds(ws):
            raise InvalidInput(f"the witnesses do not satisfy relation {relation.name!r}")
        self._relation = relation
        self._witnesses = ws
        self._nonces = tuple(_random_scalars(len(ws), resolve(rng)))
        self._commitments = _commit_nonces(relation, self._nonces)
        self._spent = False

    def commitments(self) -> tuple[Point, ...]:
        """The first message: one commitment per equation of the relation."""
        return self._commitments

    def respond(self, challenge: Scalar) -> tuple[Scalar, ...]:
        """The third message: one response per witness. Allowed once only."""
        if not isinstance(challenge, Scalar):
            raise InvalidInput("the challenge must be a Scalar")
        if self._spent:
            raise InvalidInput("this prover has already responded; start a new one")
        self._spent = True
        return _responses(self._nonces, challenge, self._witnesses)

    def __repr__(self) -> str:
        return f"SigmaProver({self._relation.name!r}, <witnesses hidden>)"


def check_interactive(
    relation: LinearRelation,
    commitments: Sequence[Point],
    challenge: Scalar,
    responses: Sequence[Scalar],
) -> None:
    """The verifier's check of an interactive run; raises VerificationFailed if it fails.

    The caller is responsible for having drawn ``challenge`` at random after ``commitments``
    arrived; checking a challenge chosen by the prover proves nothing.
    """
    if not isinstance(relation, LinearRelation) or not isinstance(challenge, Scalar):
        raise VerificationFailed("malformed interactive transcript")
    ts = tuple(commitments)
    rs = tuple(responses)
    if len(ts) != len(relation.equations) or len(rs) != len(relation.witness_names):
        raise VerificationFailed("malformed interactive transcript: wrong counts")
    if any(not isinstance(t, Point) for t in ts) or any(not isinstance(s, Scalar) for s in rs):
        raise VerificationFailed("malformed interactive transcript")
    expected = _recompute(relation, challenge, rs)
    ok = True
    for got, want in zip(ts, expected, strict=True):
        ok &= hmac.compare_digest(got.to_bytes(), want.to_bytes())
    if not ok:
        raise VerificationFailed("interactive sigma proof does not verify")
