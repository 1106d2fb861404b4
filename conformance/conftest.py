"""`pytest conformance/` loads the suite's plugin from here (hooks and fixtures live in plugin.py)."""

from conformance.plugin import (
    alice,
    anon,
    blob,
    bob,
    make_caller,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_report_header,
    pytest_runtest_makereport,
    pytest_runtest_setup,
    pytest_sessionfinish,
    pytest_sessionstart,
    pytest_terminal_summary,
    recorder,
    target,
)

__all__ = [
    "alice",
    "anon",
    "blob",
    "bob",
    "make_caller",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_sessionfinish",
    "pytest_sessionstart",
    "pytest_terminal_summary",
    "recorder",
    "target",
]
