"""The collaboration config: strict validation naming the TOML path, and the agreement hash."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from petsuite.core.errors import InvalidInput
from petsuite.mpc.config import (
    STATISTIC_COLUMNS,
    Hosting,
    Model,
    Role,
    config_hash,
    load_config,
    parse_config,
)

PEER = """
[collaboration]
name = "expenditure"
model = "peer"
threshold = 1

[[parties]]
name = "org-a"
address = "127.0.0.1:7701"
role = "peer"

[[parties]]
name = "org-b"
address = "127.0.0.1:7702"
role = "peer"

[[parties]]
name = "org-c"
address = "127.0.0.1:7703"
role = "peer"

[computation]
statistic = "mean"
lower = 0
upper = 100000
frac_bits = 0
columns = ["expenditure"]

[deadlines]
connect_s = 5
step_s = 5
total_s = 30
"""

DELEGATED = """
[collaboration]
name = "delegated"
model = "{model}"

[[parties]]
name = "server-1"
address = "127.0.0.1:7801"
role = "server"
{hosting1}
[[parties]]
name = "server-2"
address = "127.0.0.1:7802"
role = "server"
{hosting2}
[[parties]]
name = "dealer"
address = "127.0.0.1:7800"
role = "dealer"

[[parties]]
name = "client-a"
address = "127.0.0.1:7811"
role = "client"

[[parties]]
name = "client-b"
address = "127.0.0.1:7812"
role = "client"

[computation]
statistic = "histogram"
categories = ["red", "green"]

[output]
recipients = ["client-a", "server-1"]
"""


def delegated(model: str = "delegated", h1: str = "", h2: str = "") -> str:
    return DELEGATED.format(model=model, hosting1=h1, hosting2=h2)


def test_peer_config_parses() -> None:
    cfg = parse_config(PEER)
    assert cfg.model is Model.PEER
    assert cfg.threshold == 1
    assert cfg.names == ("org-a", "org-b", "org-c")
    assert cfg.compute_parties == cfg.input_parties == cfg.names
    assert cfg.recipients == cfg.names  # default: every data owner
    assert cfg.party("org-b").address == "127.0.0.1:7702"
    assert cfg.computation.n_columns == 1
    assert cfg.links("org-b") == ("org-a", "org-c")
    assert cfg.deadlines.step_s == 5.0
    assert cfg.dp is None


def test_delegated_and_hybrid_parse() -> None:
    cfg = parse_config(delegated())
    assert cfg.compute_parties == ("server-1", "server-2")
    assert cfg.input_parties == ("client-a", "client-b")
    assert cfg.dealer == "dealer"
    assert cfg.recipients == ("client-a", "server-1")
    assert cfg.links("client-a") == ("server-1", "server-2", "dealer")
    assert cfg.links("dealer") == ("server-1", "server-2", "client-a", "client-b")
    assert cfg.computation.categories == ("red", "green")
    hybrid = parse_config(delegated("hybrid", 'hosting = "in-house"\n', 'hosting = "external"\n'))
    assert hybrid.model is Model.HYBRID
    assert hybrid.party("server-1").hosting is Hosting.IN_HOUSE
    assert hybrid.party("server-2").role is Role.SERVER


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("threshold = 1", "threshold = 2", "collaboration.threshold"),  # t >= n/2
        ("threshold = 1", 'threshold = "1"', "collaboration.threshold"),
        ("threshold = 1\n", "", "collaboration.threshold"),  # missing in peer model
        ('model = "peer"', 'model = "star"', "collaboration.model"),
        ('name = "expenditure"', 'name = "expenditure"\ncolour = 1', "collaboration.colour"),
        ('address = "127.0.0.1:7702"', 'address = "127.0.0.1:7701"', "parties[1].address"),
        ('name = "org-b"', 'name = "org-a"', "parties[1].name"),
        ('name = "org-b"', 'name = "Org B"', "parties[1].name"),
        ('address = "127.0.0.1:7703"', 'address = "127.0.0.1"', "parties[2].address"),
        ('address = "127.0.0.1:7703"', 'address = "127.0.0.1:70000"', "parties[2].address"),
        (
            'role = "peer"\n\n[[parties]]\nname = "org-c"',
            'role = "peer"\n\n[[parties]]\nname = "org-c"\nrole2 = 1',
            "parties[2].role2",
        ),
        ('statistic = "mean"', 'statistic = "median"', "computation.statistic"),
        ("upper = 100000", "upper = -5", "computation"),
        ("lower = 0\n", "", "computation.lower"),
        ("lower = 0", "lower = true", "computation.lower"),
        ("frac_bits = 0", "frac_bits = 99", "computation.frac_bits"),
        ('columns = ["expenditure"]', 'columns = ["a", "b"]', "computation.columns"),
        ('columns = ["expenditure"]', 'categories = ["x"]', "computation.categories"),
        ("step_s = 5", "step_s = 0", "deadlines.step_s"),
        ("step_s = 5", 'step_s = "soon"', "deadlines.step_s"),
        ("[deadlines]", '[output]\nrecipients = ["nobody"]\n[deadlines]', "output.recipients[0]"),
        ("[deadlines]", "[dp]\nepsilon = 1\n[deadlines]", "dp.epsilon"),
        ("[deadlines]", "[dp]\nrho = -1\n[deadlines]", "dp.rho"),
        ("[deadlines]", "[extra]\n[deadlines]", "extra"),
    ],
)
def test_peer_config_errors_name_the_path(old: str, new: str, where: str) -> None:
    assert old in PEER
    with pytest.raises(InvalidInput, match="collaboration config: " + re.escape(where)):
        parse_config(PEER.replace(old, new, 1))


def test_peer_model_needs_three_peers_and_only_peers() -> None:
    last_peer = 'role = "peer"\n\n[computation]'
    with pytest.raises(InvalidInput, match=re.escape("parties[2].role")):
        parse_config(PEER.replace(last_peer, 'role = "client"\n\n[computation]'))
    third = '[[parties]]\nname = "org-c"\naddress = "127.0.0.1:7703"\nrole = "peer"\n'
    assert third in PEER
    with pytest.raises(InvalidInput, match="at least 3"):
        parse_config(PEER.replace(third, ""))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (delegated("hybrid"), r"parties\[0\].hosting: missing"),
        (
            delegated("hybrid", 'hosting = "in-house"\n', 'hosting = "in-house"\n'),
            "one in-house and one external",
        ),
        (delegated("delegated", 'hosting = "in-house"\n'), r"parties\[0\].hosting"),
        (delegated().replace('role = "dealer"', 'role = "client"'), "exactly one dealer"),
        (
            delegated().replace(
                'name = "server-2"\naddress = "127.0.0.1:7802"\nrole = "server"',
                'name = "server-2"\naddress = "127.0.0.1:7802"\nrole = "client"',
            ),
            "2 or 3 servers, got 1",
        ),
        (
            delegated().replace('model = "delegated"', 'model = "delegated"\nthreshold = 1'),
            "collaboration.threshold: applies only",
        ),
        (
            delegated().replace('recipients = ["client-a", "server-1"]', 'recipients = ["dealer"]'),
            "dealer never receives",
        ),
        (
            delegated().replace('categories = ["red", "green"]', "categories = []"),
            "computation.categories",
        ),
        (
            delegated().replace('categories = ["red", "green"]', 'categories = ["a", "a"]'),
            "duplicate",
        ),
        ("not = [toml", "not valid TOML"),
    ],
)
def test_delegated_config_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_config(text)


def test_three_servers_allowed_in_delegated_not_hybrid() -> None:
    extra = '[[parties]]\nname = "server-3"\naddress = "127.0.0.1:7803"\nrole = "server"\n'
    text = delegated().replace("[computation]", extra + "\n[computation]")
    assert len(parse_config(text).compute_parties) == 3
    hybrid = delegated("hybrid", 'hosting = "in-house"\n', 'hosting = "external"\n')
    with pytest.raises(InvalidInput):
        parse_config(
            hybrid.replace("[computation]", extra + 'hosting = "external"\n\n[computation]')
        )


def test_hash_covers_what_parties_agree_on_but_not_local_paths(tmp_path: Path) -> None:
    base = config_hash(parse_config(PEER))
    assert len(base) == 64
    assert config_hash(parse_config(PEER)) == base
    # formatting and key order do not matter
    reordered = PEER.replace("frac_bits = 0\n", "").replace("lower = 0", "frac_bits = 0\nlower = 0")
    assert config_hash(parse_config(reordered + "\n# comment\n")) == base
    # integers and floats that are equal hash the same
    assert config_hash(parse_config(PEER.replace("upper = 100000", "upper = 100000.0"))) == base
    for old, new in [
        ("upper = 100000", "upper = 100001"),
        ('address = "127.0.0.1:7702"', 'address = "127.0.0.1:7712"'),
        ('statistic = "mean"', 'statistic = "sum"'),
        ("step_s = 5", "step_s = 6"),
        ('name = "expenditure"', 'name = "expenditure-2"'),
    ]:
        assert config_hash(parse_config(PEER.replace(old, new))) != base, old
    with_dp = PEER + '\n[dp]\nrho = 0.5\ndataset = "spend"\nledger = "a.db"\n'
    other_ledger = with_dp.replace('"a.db"', '"/elsewhere/b.db"')
    assert config_hash(parse_config(with_dp)) == config_hash(parse_config(other_ledger))
    assert config_hash(parse_config(with_dp)) != base
    file = tmp_path / "collaboration.toml"
    file.write_text(with_dp)
    cfg = load_config(file)
    assert cfg.dp is not None and cfg.dp.ledger == tmp_path / "a.db"
    assert cfg.dp.rho == 0.5 and cfg.dp.dataset == "spend"


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_statistics_match_the_recipes() -> None:
    stats = pytest.importorskip("petsuite.mpc.stats")
    assert set(STATISTIC_COLUMNS) == {s.value for s in stats.Statistic}


def test_dp_only_for_statistics_that_take_noise() -> None:
    text = PEER + "\n[dp]\nrho = 0.5\n"
    assert parse_config(text).dp is not None
    with pytest.raises(InvalidInput, match="collaboration config: dp: DP noise"):
        parse_config(text.replace('statistic = "mean"', 'statistic = "max"'))
