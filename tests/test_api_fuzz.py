"""Property-based fuzzing of the whole HTTP API from its own OpenAPI document.

Schemathesis reads ``/openapi.json`` of a live server (uvicorn, a real PostGIS test
database with assets in every layer) and, for every operation, generates requests
that fit the schema and requests that break it (wrong types, missing fields, odd
strings, huge numbers…), signed in as an admin with an API token. The assertion is
Schemathesis' ``not_a_server_error`` check: whatever a client sends, the answer is
never a 5xx. Every failure is collected (no shrinking) and reported with a curl
command that reproduces it.

Budget: up to ``EXAMPLES`` cases per operation and generation mode, and at most
``BUDGET_S`` seconds in all, shared out evenly over the operations (time an operation
leaves unused goes to the next ones), so the run stays near a minute on the 2-core
machine however many routes the app grows. Derandomised: the same cases on every run,
so CI is stable; ``FUZZ_RANDOM=1`` explores new ones, ``FUZZ_BUDGET_S=600`` for longer.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from registry.catalog import LayerCatalog
from registry.permissions import Role
from registry.settings import Settings
from tests.authkit import make_accounts
from tests.live_server import live_server
from tests.ogc_support import seed_all

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
BUDGET_S = float(os.environ.get("FUZZ_BUDGET_S", "60"))  # longer for a deeper search by hand
# Operations that can take the fuzzer's own access away (revoke its token, change its
# role) run last, so they cannot hide what the others would find.
LAST = ("PATCH /auth/users/{username}", "DELETE /auth/tokens/{token_id}")
# The app's own document (every route), and the OGC API's (``/ogc/api``), which also
# lists the query parameters of the items routes (bbox, filter, crs, datetime…).
DOCUMENTS = (("/openapi.json", ""), ("/ogc/api", "/ogc"))


@dataclass(frozen=True)
class Target:
    """The live server, an admin's token and one live asset id per layer."""

    base: str
    token: str
    assets: dict[str, str]
    log: Path


@pytest.fixture
def server(db: Settings, conn: psycopg.Connection, catalog: LayerCatalog, tmp_path: Path) -> Iterator[Target]:
    """A live server on a database with accounts and a few assets in every layer."""
    token = make_accounts(conn)[Role.ADMIN].token
    seed_all(conn, catalog, 3)
    assets = dict(conn.execute("SELECT DISTINCT ON (layer) layer, id::text FROM assets ORDER BY layer, code"))
    conn.commit()
    assert db.database_url
    log = tmp_path / "server.log"
    with live_server(db.database_url, log=log) as base:
        yield Target(base, token, assets, log)


def _operations(target: Target) -> list[tuple[Any, str]]:
    """Every operation of both documents with the base URL it is called under."""
    auth = {"Authorization": f"Bearer {target.token}"}
    ops = []
    for document, prefix in DOCUMENTS:
        schema = schemathesis.openapi.from_url(target.base + document, headers=auth)
        ops += [(result.ok(), target.base + prefix) for result in schema.get_all_operations()]
    return sorted(ops, key=lambda pair: LAST.index(pair[0].label) + 1 if pair[0].label in LAST else 0)


def _strategy(op: Any, assets: dict[str, str]) -> st.SearchStrategy[Any]:
    """Schema-valid and schema-breaking cases; where the path names a layer and an
    asset, also cases aimed at a real one (random ids mostly end in a 404)."""
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    options = [op.as_strategy(generation_mode=mode) for mode in modes]
    names = set(re.findall(r"{(\w+)}", op.path))
    if names & {"layer", "collection_id"}:
        for layer, asset_id in assets.items():
            fixed = {"layer": layer, "collection_id": layer, "asset_id": asset_id, "feature_id": asset_id}
            path = {k: v for k, v in fixed.items() if k in names}
            options += [op.as_strategy(generation_mode=mode, path_parameters=path) for mode in modes]
    return st.one_of(options)


class _BudgetSpent(BaseException):
    """Ends an operation's run: not an Exception, so Hypothesis lets it through as it is
    (no failure to report or shrink)."""


@dataclass
class Tally:
    """What the fuzzer sent and got back."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: Counter[str] = field(default_factory=Counter)


def _fuzz(op: Any, target: Target, base: str, session: requests.Session, tally: Tally, until: float) -> None:
    """Send the operation's generated cases until ``until`` (monotonic); every 5xx is
    recorded with a curl command that reproduces it."""
    headers = {"Authorization": f"Bearer {target.token}"}

    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        database=None,
        derandomize="FUZZ_RANDOM" not in os.environ,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(op, target.assets))
    def run(case: Any) -> None:
        if time.monotonic() > until:
            raise _BudgetSpent  # this operation's share of the time is used up
        response = case.call(base_url=base, session=session, headers=headers, timeout=60)
        tally.sent[f"{base} {op.label}"] += 1
        tally.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error], headers=headers)
        except (AssertionError, schemathesis.errors.FailureGroup):
            key = f"{op.label} -> {response.status_code}"
            tally.failures.setdefault(key, case.as_curl_command(headers=headers))

    started = time.monotonic()
    try:
        run()
    except _BudgetSpent:
        pass
    tally.seconds[op.label] += time.monotonic() - started


def test_no_request_the_fuzzer_makes_gets_a_5xx(server: Target, capsys: pytest.CaptureFixture[str]) -> None:
    session = requests.Session()  # keep-alive, as a real client
    tally = Tally()
    started = time.monotonic()
    operations = _operations(server)
    for i, (op, base) in enumerate(operations):
        left = BUDGET_S - (time.monotonic() - started)
        _fuzz(op, server, base, session, tally, time.monotonic() + max(left, 0) / (len(operations) - i))
    elapsed = time.monotonic() - started
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    slowest, seconds = tally.seconds.most_common(1)[0]
    with capsys.disabled():  # one summary line, never one per request
        sys.stdout.write(
            f"\nAPI fuzz: {sum(tally.sent.values())} requests to {len(operations)} operations "
            f"in {elapsed:.0f} s, {server_errors} 5xx; statuses {dict(sorted(tally.statuses.items()))}; "
            f"slowest {slowest} ({seconds:.1f} s)\n"
        )
    if tally.failures:
        errors = [line for line in server.log.read_text(errors="replace").splitlines() if "Error" in line]
        pytest.fail(
            "5xx responses (one example each):\n"
            + "\n".join(f"{k}\n    {v}" for k, v in tally.failures.items())
            + "\nserver errors:\n"
            + "\n".join(dict.fromkeys(errors))[:4000],
            pytrace=False,
        )
