"""pytest wiring for the chaos suite: the e2e harness, one Pipeline per
fault, and a line on the real stdout for each fault injected and each
thing verified (the suite's report, also when pytest captures output)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from harness import Pipeline  # noqa: E402


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        pipe = item.funcargs.get("pipeline")
        if pipe is not None:
            rep.sections.append(("lasync daemon logs", pipe.logs()))


@pytest.fixture
def pipeline(tmp_path):
    pipe = Pipeline(tmp_path)
    yield pipe
    pipe.stop()
    reports = pipe.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)
