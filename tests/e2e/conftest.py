"""pytest wiring for the end-to-end tests (see harness.py)."""

from __future__ import annotations

import pytest

from harness import Pipeline


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
