"""Keep what Dask and Ray change process-wide out of the rest of the suite.

Importing ``distributed`` (and Ray) calls ``tblib.pickling_support.install()``, which
registers a reducer for every exception class in ``copyreg.dispatch_table``; from then on
pickling an exception also pickles its whole traceback, recursively, which can exceed the
recursion limit inside pytest's deep stack. That is those engines' choice for their own
processes; here it would change how later, unrelated tests pickle errors, so the table is
restored after each test module of this folder.
"""

from __future__ import annotations

import copyreg
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def _restore_copyreg_dispatch_table() -> Iterator[None]:
    before = dict(copyreg.dispatch_table)
    yield
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(before)
