"""Micro-timings run with BLAS limited to one thread, as optbench.run does."""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1):
        yield
