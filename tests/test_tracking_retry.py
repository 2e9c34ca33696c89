"""RetryingClient.create_once: a create whose reply was lost is not repeated (harness/runs/retry.py).

The store is a real sqlite MLflow store; only the network's failure is simulated: the server
carries out the first create_run and its reply never arrives (a read timeout).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from harness.runs.retry import RetryingClient, is_transient

KEY = "trial_key"


class _ReplyLostOnce:
    """A real client whose first create_run is done by the store and then reported as a timeout."""

    def __init__(self, client: MlflowClient) -> None:
        self.client, self.lost = client, False

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def create_run(self, *args, **kwargs):
        run = self.client.create_run(*args, **kwargs)
        if not self.lost:
            self.lost = True
            raise MlflowException("API request to http://127.0.0.1:1/api/2.0/mlflow/runs/create failed with "
                                  "exception ReadTimeout")
        return run


@pytest.fixture
def store(tmp_path: Path) -> tuple[_ReplyLostOnce, str]:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    return _ReplyLostOnce(client), client.create_experiment("retry")


def _runs(store: tuple[_ReplyLostOnce, str]) -> list:
    client, experiment = store
    return client.client.search_runs([experiment], filter_string=f"tags.`{KEY}` = 'a'")


def test_a_create_whose_reply_was_lost_is_found_not_repeated(store) -> None:
    client, experiment = store
    retrying = RetryingClient(client, "http://127.0.0.1:1", limit_s=30, on_lost=lambda lost: None)
    raw = retrying.raw

    def find() -> str | None:
        found = raw.search_runs([experiment], filter_string=f"tags.`{KEY}` = 'a'")
        return found[0].info.run_id if found else None

    run_id = retrying.create_once(lambda: raw.create_run(experiment, tags={KEY: "a"}).info.run_id, find)
    assert [r.info.run_id for r in _runs(store)] == [run_id]


def test_a_plain_retry_would_have_made_a_second_run(store) -> None:
    """The failure the test above guards against: the same lost reply, retried blindly."""
    client, experiment = store
    assert is_transient(MlflowException("API request to x failed with exception ReadTimeout"))
    retrying = RetryingClient(client, "http://127.0.0.1:1", limit_s=30, on_lost=lambda lost: None)
    retrying.create_run(experiment, tags={KEY: "a"})
    assert len(_runs(store)) == 2
