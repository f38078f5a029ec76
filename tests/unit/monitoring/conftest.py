"""Generated production logs with known truth (see generate.py), written once per session in every format."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.monitoring.generate import CONFIG, TRAIN, generate_rows, write_flat, write_jsonl


@pytest.fixture(scope="session")
def truth_logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """format -> log file of the generated windows, plus "reference" -> the training data's profile."""
    from mlops_actions.domain.data.profile import build_profile, save_profile

    folder = tmp_path_factory.mktemp("truth")
    frame = generate_rows()
    save_profile(build_profile(TRAIN), folder / "data-profile.json")
    return {
        "jsonl": write_jsonl(frame, folder / "predictions.jsonl"),
        "csv": write_flat(frame, folder / "predictions.csv"),
        "parquet": write_flat(frame, folder / "predictions.parquet"),
        "reference": folder / "data-profile.json",
    }


@pytest.fixture(scope="session")
def example_config():
    from mlops_actions.domain.config import load_config

    return load_config(CONFIG)
