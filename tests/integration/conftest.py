"""Integration fixtures: a small playbook and a running in-process worker."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from nudgeflow.orchestrator.runtime.worker import Worker
from tests.support.processes import STARTED

PLAYBOOK = """\
id: admin_onboarding
name: Admin onboarding
audience:
  role: admin
first_value: connect_source
milestones:
  - id: connect_source
    title: Connect a data source
    when:
      event: Data Source Connected
      where:
        status: ok
    celebrate:
      - channel: in_app
        title: "You connected {{ event.source }}!"
        body: "{{ progress.done }} of {{ progress.total }} done. Next: {{ progress.next }}"
  - id: invite_teammate
    title: Invite a teammate
    when:
      event: Teammate Invited
    celebrate:
      - channel: in_app
        title: "Team work!"
        body: "{{ progress.done }} of {{ progress.total }} done"
"""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failing test's report carries the log tail of every worker process it started."""
    report: pytest.TestReport = yield
    if report.failed:
        shown = {name for name, _ in report.sections}
        for worker in STARTED:
            name = f"worker process {worker.log_path}"
            if name not in shown:  # once per test, whichever phase failed
                report.sections.append((name, worker.log_tail()))
    if call.when == "teardown":
        STARTED.clear()
    return report


@pytest.fixture
def rules_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """A folder with one playbook: the test module's own `PLAYBOOK` if it has one, else the one above."""
    path = tmp_path / "playbooks"
    path.mkdir()
    (path / "admin.yaml").write_text(textwrap.dedent(getattr(request.module, "PLAYBOOK", PLAYBOOK)))
    return path


@pytest.fixture
async def worker(make_settings, rules_path: Path) -> AsyncIterator[Worker]:  # type: ignore[no-untyped-def]
    async with Worker(make_settings(rules_path)) as running:
        await running.wait_ready(timeout=60)
        yield running
