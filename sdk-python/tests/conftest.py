import os
import sys
from typing import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from cluster import Cluster  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    if os.environ.get("CORRAL_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow scenario: set CORRAL_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def server() -> Iterator[Cluster]:
    """One single-node server shared by a test module."""
    with Cluster(1) as c:
        yield c


@pytest.fixture(scope="module")
def cluster3() -> Iterator[Cluster]:
    """A 3-member cluster shared by a test module."""
    with Cluster(3) as c:
        yield c
