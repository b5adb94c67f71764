"""The collaboration config of a secure computation: who takes part, where, and what is computed.

Every party holds the same TOML file (``collaboration.toml``). :func:`config_hash` digests everything
the parties must agree on (the model, the parties and their addresses and roles, the computation, who
receives the result, the DP budget of the release, the deadlines) in a canonical encoding; the runtime
compares the hashes at every handshake and aborts with ``CONFIG_MISMATCH`` when two parties differ.
Local settings (the privacy ledger's path, a local listen address) are not part of the hash.

Format::

    [collaboration]
    name = "expenditure-2026"
    model = "peer"                 # peer | delegated | hybrid
    threshold = 1                  # peer only: Shamir degree t, t < n/2

    [[parties]]
    name = "org-a"
    address = "127.0.0.1:7701"     # HOST:PORT this party listens on
    role = "peer"                  # peer | server | client | dealer
    # hosting = "in-house"         # hybrid servers only: in-house | external

    [computation]
    statistic = "mean"             # sum mean variance weighted_mean histogram min max
                                   # linear_regression
    lower = 0                      # declared bounds of every input value
    upper = 1000000
    frac_bits = 0                  # fixed-point bits (0 for integer data)
    categories = []                # histogram only
    columns = ["expenditure"]      # default column names (a party may name its own)

    [output]                       # optional; default: every data owner
    recipients = ["org-a"]

    [dp]                           # optional: discrete Gaussian noise on the output
    rho = 0.5                      # zCDP cost of the release, charged to each owner's ledger
    dataset = "expenditure"        # the ledger's dataset label (default: the collaboration name)
    ledger = "ledger.db"           # local, not hashed (the CLI's --ledger overrides it)

    [deadlines]                    # optional, seconds
    connect_s = 60                 # to reach every peer and finish the handshakes
    step_s = 30                    # for any one protocol message
    total_s = 600                  # for the whole run

Threat model: the file is public within the collaboration; it holds no secrets. A party that edits
its copy cannot change what others compute: the hash check refuses to run with it.
"""

from __future__ import annotations

import enum
import hashlib
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from petsuite.core.encoding import canonical_json
from petsuite.core.errors import InvalidInput
from petsuite.net.pki import validate_party_name

__all__ = [
    "CONFIG_FORMAT",
    "DP_STATISTICS",
    "STATISTIC_COLUMNS",
    "CollaborationConfig",
    "ComputationConfig",
    "Deadlines",
    "DpConfig",
    "Hosting",
    "Model",
    "PartyConfig",
    "Role",
    "config_hash",
    "from_mapping",
    "load_config",
    "parse_config",
]

#: Domain label of the canonical encoding that :func:`config_hash` digests.
CONFIG_FORMAT = "petsuite.mpc.collaboration/v1"

#: The statistics and how many input columns each takes.
STATISTIC_COLUMNS: Mapping[str, int] = {
    "sum": 1,
    "mean": 1,
    "variance": 1,
    "weighted_mean": 2,
    "histogram": 1,
    "min": 1,
    "max": 1,
    "linear_regression": 2,
}

#: The statistics that can take DP noise on the output.
DP_STATISTICS = ("sum", "mean", "histogram")
_MAX_PARTIES = 64
_MAX_CATEGORIES = 4096
_MAX_FRAC_BITS = 40
_MAX_NAME = 128
_E = TypeVar("_E", bound=enum.StrEnum)


class Model(enum.StrEnum):
    """Deployment model: who computes."""

    PEER = "peer"
    DELEGATED = "delegated"
    HYBRID = "hybrid"


class Role(enum.StrEnum):
    """A party's role."""

    PEER = "peer"
    SERVER = "server"
    CLIENT = "client"
    DEALER = "dealer"


class Hosting(enum.StrEnum):
    """Who runs a compute server in the hybrid model."""

    IN_HOUSE = "in-house"
    EXTERNAL = "external"


@dataclass(frozen=True)
class PartyConfig:
    """One party: its name (its certificate's name), where it listens, and its role."""

    name: str
    host: str
    port: int
    role: Role
    hosting: Hosting | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def canonical(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "role": self.role.value,
            "hosting": None if self.hosting is None else self.hosting.value,
        }


@dataclass(frozen=True)
class ComputationConfig:
    """What is computed; see :mod:`petsuite.mpc.stats` for the recipes."""

    statistic: str
    lower: float
    upper: float
    frac_bits: int = 16
    categories: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

    @property
    def n_columns(self) -> int:
        """How many input columns each data owner provides."""
        return STATISTIC_COLUMNS[self.statistic]

    def canonical(self) -> dict[str, Any]:
        return {
            "statistic": self.statistic,
            "lower": float(self.lower),
            "upper": float(self.upper),
            "frac_bits": self.frac_bits,
            "categories": list(self.categories),
            "columns": list(self.columns),
        }


@dataclass(frozen=True)
class DpConfig:
    """Optional DP noise on the output: its zCDP cost and the ledger's dataset label."""

    rho: float
    dataset: str
    ledger: Path | None = None  # local: not part of the hash

    def canonical(self) -> dict[str, Any]:
        return {"rho": float(self.rho), "dataset": self.dataset}


@dataclass(frozen=True)
class Deadlines:
    """Time limits in seconds."""

    connect_s: float = 60.0
    step_s: float = 30.0
    total_s: float = 600.0

    def canonical(self) -> dict[str, Any]:
        return {
            "connect_s": float(self.connect_s),
            "step_s": float(self.step_s),
            "total_s": float(self.total_s),
        }


@dataclass(frozen=True)
class CollaborationConfig:
    """A validated collaboration config. Build it with :func:`load_config` or :func:`parse_config`."""

    name: str
    model: Model
    parties: tuple[PartyConfig, ...]
    computation: ComputationConfig
    recipients: tuple[str, ...]
    threshold: int | None = None
    dp: DpConfig | None = None
    deadlines: Deadlines = Deadlines()

    # -- lookups ---------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Every party's name, in config order."""
        return tuple(p.name for p in self.parties)

    def party(self, name: str) -> PartyConfig:
        """The party called ``name``; :class:`InvalidInput` if there is none."""
        for p in self.parties:
            if p.name == name:
                return p
        raise InvalidInput(
            f"party {name[:80]!r} is not in collaboration {self.name!r}; "
            f"parties: {', '.join(self.names)}"
        )

    def with_role(self, role: Role) -> tuple[str, ...]:
        """Names of the parties with ``role``, in config order."""
        return tuple(p.name for p in self.parties if p.role is role)

    @property
    def compute_parties(self) -> tuple[str, ...]:
        """Peers (peer model) or servers (delegated, hybrid)."""
        return self.with_role(Role.PEER if self.model is Model.PEER else Role.SERVER)

    @property
    def input_parties(self) -> tuple[str, ...]:
        """The data owners, in config order: peers, or clients."""
        return self.with_role(Role.PEER if self.model is Model.PEER else Role.CLIENT)

    @property
    def dealer(self) -> str | None:
        """The dealer's name (delegated and hybrid models)."""
        dealers = self.with_role(Role.DEALER)
        return dealers[0] if dealers else None

    def links(self, name: str) -> tuple[str, ...]:
        """The parties ``name`` exchanges messages with, in config order.

        Peer model: every other peer. Delegated and hybrid: servers talk to every other party,
        the dealer to every server and client, a client to the servers and the dealer (clients
        never talk to each other).
        """
        me = self.party(name)
        if self.model is Model.PEER or me.role in (Role.SERVER, Role.DEALER):
            return tuple(n for n in self.names if n != name)
        return tuple(p.name for p in self.parties if p.role in (Role.SERVER, Role.DEALER))

    def index(self, name: str) -> int:
        """Position of ``name`` in the config (who connects to whom follows it)."""
        return self.names.index(self.party(name).name)

    # -- agreement -------------------------------------------------------------------------------

    def canonical(self) -> dict[str, Any]:
        """Everything the parties must agree on, as a JSON-ready value (no local paths)."""
        return {
            "format": CONFIG_FORMAT,
            "name": self.name,
            "model": self.model.value,
            "threshold": self.threshold,
            "parties": [p.canonical() for p in self.parties],
            "computation": self.computation.canonical(),
            "recipients": list(self.recipients),
            "dp": None if self.dp is None else self.dp.canonical(),
            "deadlines": self.deadlines.canonical(),
        }

    def config_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical` in canonical JSON."""
        return hashlib.sha256(canonical_json(self.canonical())).hexdigest()


def config_hash(config: CollaborationConfig) -> str:
    """SHA-256 (hex) of the canonical encoding of what the parties must agree on."""
    return config.config_hash()


# ------------------------------------------------------------------------------------------------
# parsing


def _err(path: str, why: str) -> InvalidInput:
    return InvalidInput(f"collaboration config: {path}: {why}")


def _table(data: Any, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _err(path, f"expected a table, got {type(data).__name__}")
    return data


def _keys(
    data: Mapping[str, Any], path: str, required: Sequence[str], optional: Sequence[str] = ()
) -> None:
    unknown = sorted(set(data) - set(required) - set(optional))
    if unknown:
        where = f"{path}.{unknown[0]}" if path else unknown[0]
        raise _err(where, "unknown key")
    for key in required:
        if key not in data:
            raise _err(f"{path}.{key}" if path else key, "missing")


def _str(value: Any, path: str, *, max_len: int = _MAX_NAME) -> str:
    if not isinstance(value, str) or not value:
        raise _err(path, "expected a non-empty string")
    if len(value) > max_len or not value.isprintable():
        raise _err(path, f"expected at most {max_len} printable characters")
    return value


def _int(value: Any, path: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(path, f"expected an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise _err(path, f"must be in [{lo}, {hi}]")
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _err(path, f"expected a number, got {type(value).__name__}")
    out = float(value)
    if not math.isfinite(out):
        raise _err(path, "must be finite")
    return out


def _positive(value: Any, path: str) -> float:
    out = _number(value, path)
    if out <= 0:
        raise _err(path, "must be positive")
    return out


def _enum(kind: type[_E], value: Any, path: str) -> _E:
    if not isinstance(value, str):
        raise _err(path, f"expected a string, got {type(value).__name__}")
    try:
        return kind(value)
    except ValueError:
        raise _err(path, f"expected one of {', '.join(m.value for m in kind)}") from None


def _str_list(value: Any, path: str, *, max_items: int) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _err(path, f"expected a list of strings, got {type(value).__name__}")
    if len(value) > max_items:
        raise _err(path, f"at most {max_items} items")
    items = tuple(_str(v, f"{path}[{i}]") for i, v in enumerate(value))
    if len(set(items)) != len(items):
        raise _err(path, "duplicate entries")
    return items


def _address(value: Any, path: str) -> tuple[str, int]:
    text = _str(value, path, max_len=300)
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    digits = port.isascii() and port.isdigit()  # str.isdigit alone admits e.g. superscripts
    if not sep or not host or not digits or not 1 <= int(port) <= 65535:
        raise _err(path, "expected HOST:PORT with a port in [1, 65535], e.g. 127.0.0.1:7701")
    if any(c.isspace() for c in host):
        raise _err(path, "the host contains white space")
    return host, int(port)


def _party(data: Any, path: str, model: Model) -> PartyConfig:
    table = _table(data, path)
    _keys(table, path, ("name", "address", "role"), ("hosting",))
    try:
        name = validate_party_name(table["name"])
    except InvalidInput as exc:
        raise _err(f"{path}.name", str(exc)) from None
    host, port = _address(table["address"], f"{path}.address")
    role = _enum(Role, table["role"], f"{path}.role")
    hosting = None
    if "hosting" in table:
        if model is not Model.HYBRID or role is not Role.SERVER:
            raise _err(f"{path}.hosting", "only hybrid-model servers have a hosting")
        hosting = _enum(Hosting, table["hosting"], f"{path}.hosting")
    elif model is Model.HYBRID and role is Role.SERVER:
        raise _err(f"{path}.hosting", "missing (in-house or external)")
    return PartyConfig(name=name, host=host, port=port, role=role, hosting=hosting)


def _check_roles(model: Model, parties: Sequence[PartyConfig], threshold: int | None) -> None:
    roles = [p.role for p in parties]
    if model is Model.PEER:
        for i, p in enumerate(parties):
            if p.role is not Role.PEER:
                raise _err(f"parties[{i}].role", "the peer model has only peers")
        n = len(parties)
        if n < 3:
            raise _err("parties", f"the peer model needs at least 3 peers, got {n}")
        if threshold is None:
            raise _err("collaboration.threshold", "missing (the peer model needs t)")
        if 2 * threshold >= n:
            raise _err(
                "collaboration.threshold",
                f"t = {threshold} needs t < n/2 (honest majority); n = {n} allows t <= {(n - 1) // 2}",
            )
        return
    if threshold is not None:
        raise _err("collaboration.threshold", "applies only to the peer model")
    for i, p in enumerate(parties):
        if p.role is Role.PEER:
            raise _err(f"parties[{i}].role", f"the {model} model has no peers")
    servers = roles.count(Role.SERVER)
    allowed = (2,) if model is Model.HYBRID else (2, 3)
    if servers not in allowed:
        raise _err(
            "parties",
            f"the {model} model needs {' or '.join(map(str, allowed))} servers, got {servers}",
        )
    if roles.count(Role.DEALER) != 1:
        raise _err("parties", f"the {model} model needs exactly one dealer")
    if roles.count(Role.CLIENT) < 1:
        raise _err("parties", f"the {model} model needs at least one client (a data owner)")
    if model is Model.HYBRID:
        hostings = sorted(str(p.hosting) for p in parties if p.role is Role.SERVER)
        if hostings != [Hosting.EXTERNAL.value, Hosting.IN_HOUSE.value]:
            raise _err("parties", "the hybrid model needs one in-house and one external server")


def _computation(data: Any) -> ComputationConfig:
    path = "computation"
    table = _table(data, path)
    _keys(table, path, ("statistic",), ("lower", "upper", "frac_bits", "categories", "columns"))
    statistic = table["statistic"]
    if not isinstance(statistic, str) or statistic not in STATISTIC_COLUMNS:
        raise _err(f"{path}.statistic", f"expected one of {', '.join(STATISTIC_COLUMNS)}")
    histogram = statistic == "histogram"
    if not histogram:
        for key in ("lower", "upper"):
            if key not in table:
                raise _err(f"{path}.{key}", "missing")
    lower = _number(table.get("lower", 0), f"{path}.lower")
    upper = _number(table.get("upper", 1), f"{path}.upper")
    if not lower < upper:
        raise _err(path, "lower must be below upper")
    frac_bits = _int(table.get("frac_bits", 0 if histogram else 16), f"{path}.frac_bits", 0,
                     _MAX_FRAC_BITS)
    categories: tuple[str, ...] = ()
    if histogram:
        if "categories" not in table:
            raise _err(f"{path}.categories", "missing (a histogram needs its categories)")
        categories = _str_list(table["categories"], f"{path}.categories",
                               max_items=_MAX_CATEGORIES)
        if not categories:
            raise _err(f"{path}.categories", "needs at least one category")
    elif "categories" in table:
        raise _err(f"{path}.categories", "applies only to histogram")
    columns: tuple[str, ...] = ()
    if "columns" in table:
        columns = _str_list(table["columns"], f"{path}.columns", max_items=2)
        need = STATISTIC_COLUMNS[statistic]
        if len(columns) != need:
            raise _err(f"{path}.columns", f"{statistic} takes {need} column(s), got {len(columns)}")
    return ComputationConfig(
        statistic=statistic,
        lower=lower,
        upper=upper,
        frac_bits=frac_bits,
        categories=categories,
        columns=columns,
    )


def _dp(data: Any, default_dataset: str, base: Path | None) -> DpConfig:
    path = "dp"
    table = _table(data, path)
    _keys(table, path, ("rho",), ("dataset", "ledger"))
    rho = _positive(table["rho"], f"{path}.rho")
    dataset = _str(table.get("dataset", default_dataset), f"{path}.dataset")
    ledger = None
    if "ledger" in table:
        ledger = Path(_str(table["ledger"], f"{path}.ledger", max_len=4096))
        if base is not None and not ledger.is_absolute():
            ledger = base / ledger
    return DpConfig(rho=rho, dataset=dataset, ledger=ledger)


def _deadlines(data: Any) -> Deadlines:
    path = "deadlines"
    table = _table(data, path)
    _keys(table, path, (), ("connect_s", "step_s", "total_s"))
    default = Deadlines()
    out = Deadlines(
        connect_s=_positive(table.get("connect_s", default.connect_s), f"{path}.connect_s"),
        step_s=_positive(table.get("step_s", default.step_s), f"{path}.step_s"),
        total_s=_positive(table.get("total_s", default.total_s), f"{path}.total_s"),
    )
    for key in ("connect_s", "step_s", "total_s"):
        if getattr(out, key) > 86_400:
            raise _err(f"{path}.{key}", "at most one day (86400 s)")
    return out


def from_mapping(data: Mapping[str, Any], *, base: Path | None = None) -> CollaborationConfig:
    """Validate a parsed TOML document; ``base`` resolves a relative ``dp.ledger``.

    Raises
    ------
    InvalidInput
        Naming the TOML path of the first problem (unknown or missing key, wrong type, a threshold
        without an honest majority, a wrong number of servers, duplicate names or addresses, ...).
    """
    root = _table(dict(data), "(document)")
    _keys(root, "", ("collaboration", "parties", "computation"), ("output", "dp", "deadlines"))
    collab = _table(root["collaboration"], "collaboration")
    _keys(collab, "collaboration", ("name", "model"), ("threshold",))
    name = _str(collab["name"], "collaboration.name")
    model = _enum(Model, collab["model"], "collaboration.model")
    threshold = None
    if "threshold" in collab:
        threshold = _int(collab["threshold"], "collaboration.threshold", 1, _MAX_PARTIES)
    raw_parties = root["parties"]
    if not isinstance(raw_parties, list) or not raw_parties:
        raise _err("parties", "expected a non-empty array of tables ([[parties]])")
    if len(raw_parties) > _MAX_PARTIES:
        raise _err("parties", f"at most {_MAX_PARTIES} parties")
    parties = tuple(_party(p, f"parties[{i}]", model) for i, p in enumerate(raw_parties))
    seen_names: dict[str, int] = {}
    seen_addresses: dict[tuple[str, int], int] = {}
    for i, p in enumerate(parties):
        if p.name in seen_names:
            raise _err(f"parties[{i}].name", f"duplicate of parties[{seen_names[p.name]}]")
        seen_names[p.name] = i
        key = (p.host.lower(), p.port)
        if key in seen_addresses:
            raise _err(f"parties[{i}].address", f"duplicate of parties[{seen_addresses[key]}]")
        seen_addresses[key] = i
    _check_roles(model, parties, threshold)
    computation = _computation(root["computation"])
    data_owners = tuple(
        p.name for p in parties if p.role is (Role.PEER if model is Model.PEER else Role.CLIENT)
    )
    recipients = data_owners
    if "output" in root:
        output = _table(root["output"], "output")
        _keys(output, "output", ("recipients",))
        recipients = _str_list(output["recipients"], "output.recipients", max_items=_MAX_PARTIES)
        if not recipients:
            raise _err("output.recipients", "needs at least one recipient")
        roles = {p.name: p.role for p in parties}
        for i, r in enumerate(recipients):
            if r not in roles:
                raise _err(f"output.recipients[{i}]", f"{r!r} is not a party")
            if roles[r] is Role.DEALER:
                raise _err(f"output.recipients[{i}]", "the dealer never receives results")
    dp = _dp(root["dp"], name, base) if "dp" in root else None
    if dp is not None and computation.statistic not in DP_STATISTICS:
        raise _err("dp", f"DP noise is offered for {', '.join(DP_STATISTICS)} only")
    deadlines = _deadlines(root["deadlines"]) if "deadlines" in root else Deadlines()
    return CollaborationConfig(
        name=name,
        model=model,
        parties=parties,
        computation=computation,
        recipients=recipients,
        threshold=threshold,
        dp=dp,
        deadlines=deadlines,
    )


def parse_config(text: str, *, base: Path | None = None) -> CollaborationConfig:
    """Parse and validate a collaboration config from TOML text.

    Raises
    ------
    InvalidInput
        Not valid TOML, or see :func:`from_mapping`.
    """
    if not isinstance(text, str):
        raise InvalidInput("the collaboration config must be text")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"collaboration config: not valid TOML: {exc}") from None
    return from_mapping(data, base=base)


def load_config(path: Path | str) -> CollaborationConfig:
    """Read and validate a collaboration config file (a relative ``dp.ledger`` is resolved
    against the file's folder)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the collaboration config {file}: {exc}") from None
    return parse_config(text, base=file.parent)
