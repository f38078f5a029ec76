"""The train command on a temporary git repository: skops model, metadata, atomic output, bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_actions.cli import main
from mlops_actions.domain.model_io import METADATA_FILE, MODEL_FILE


def train(project: Path, *extra: str) -> int:
    return main(
        ["train", "--config", str(project / "mlops.yaml"), "--output-dir", str(project / "out"), *extra]
    )


def test_train_writes_skops_model_and_lineage(tiny_project: Path) -> None:
    assert train(tiny_project) == 0
    metadata = json.loads((tiny_project / "out" / METADATA_FILE).read_text())
    assert (tiny_project / "out" / MODEL_FILE).read_bytes()[:2] == b"PK"  # skops is a zip archive
    assert metadata["model_digest"].startswith("sha256:")
    assert metadata["git"]["branch"] == "main" and metadata["git"]["dirty"] is False
    assert len(metadata["git"]["commit"]) == 40
    assert metadata["data"]["train"]["rows"] == 600 and len(metadata["data"]["train"]["sha256"]) == 64
    assert metadata["features"] == ["x1", "x2", "group"]
    assert metadata["classes"] == [0, 1]
    assert {"scikit-learn", "numpy", "skops", "python"} <= set(metadata["libraries"])
    assert metadata["params"] == {"C": 1.0} and metadata["train_seconds"] >= 0


def test_train_with_a_shell_command(tiny_project: Path) -> None:
    script = tiny_project / "fit.py"
    script.write_text(
        "import json, sys\nimport pandas as pd\nfrom tiny_model import train_model\n"
        "from mlops_actions.domain.model_io import save_model\n"
        "train, out, params = sys.argv[1:4]\nframe = pd.read_csv(train)\n"
        "model = train_model(frame[['x1','x2','group']], frame['label'], json.load(open(params)))\n"
        "save_model(model, out)\n"
    )
    config = (
        (tiny_project / "mlops.yaml")
        .read_text()
        .replace("entrypoint: tiny_model:train_model", "command: python fit.py {train} {model} {params}")
    )
    (tiny_project / "mlops.yaml").write_text(config)
    assert train(tiny_project) == 0
    assert json.loads((tiny_project / "out" / METADATA_FILE).read_text())["trainer"]["command"].startswith(
        "python"
    )


def test_failed_training_leaves_the_previous_model_untouched(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tiny_project) == 0
    before = (tiny_project / "out" / MODEL_FILE).read_bytes()
    (tiny_project / "tiny_model.py").write_text(
        "def train_model(X, y, params):\n    raise ValueError('boom')\n"
    )
    assert train(tiny_project) == 2
    assert "training raised ValueError: boom" in capsys.readouterr().err
    assert (tiny_project / "out" / MODEL_FILE).read_bytes() == before
    assert not list(tiny_project.glob(".out.staging-*"))


def test_untrusted_custom_type_is_refused_with_the_key_to_allow_it(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_project / "custom.py").write_text(
        "from sklearn.base import BaseEstimator, ClassifierMixin\nimport numpy as np\n"
        "class Always(ClassifierMixin, BaseEstimator):\n"
        "    def fit(self, X, y):\n        self.classes_ = np.unique(y)\n        return self\n"
        "    def predict(self, X):\n        return np.zeros(len(X), dtype=int)\n"
        "    def predict_proba(self, X):\n        return np.tile([0.5, 0.5], (len(X), 1))\n"
        "def fit(X, y, params):\n    return Always().fit(X, y)\n"
    )
    config_path = tiny_project / "mlops.yaml"
    config_path.write_text(config_path.read_text().replace("tiny_model:train_model", "custom:fit"))
    assert train(tiny_project) == 2
    err = capsys.readouterr().err
    assert "custom.Always" in err and "train.trusted_types" in err
    assert not (tiny_project / "out").exists()
    config_path.write_text(
        config_path.read_text().replace(
            "params: {C: 1.0}", "params: {C: 1.0}\n  trusted_types: [custom.Always]"
        )
    )
    assert train(tiny_project) == 0


def test_a_function_defined_in_the_training_script_is_named_with_the_fix_and_nothing_is_written(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tiny_project / "fit.py").write_text(
        "import json, sys\nimport numpy as np\nimport pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.pipeline import make_pipeline\n"
        "from sklearn.preprocessing import FunctionTransformer\nimport skops.io as sio\n"
        "def squash(X):\n    return np.tanh(X)\n"
        "train, out = sys.argv[1:3]\nframe = pd.read_csv(train)\n"
        "model = make_pipeline(FunctionTransformer(squash), LogisticRegression())\n"
        "sio.dump(model.fit(frame[['x1', 'x2']], frame['label']), out)\n"
    )
    config_path = tiny_project / "mlops.yaml"
    config_path.write_text(
        config_path.read_text()
        .replace("entrypoint: tiny_model:train_model", "command: python fit.py {train} {model}")
        .replace("params: {C: 1.0}", "params: {C: 1.0}\n  trusted_types: [__main__.squash]")
    )
    assert train(tiny_project) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert "'squash', defined in the training script itself (__main__.squash)" in line
    assert "import it from the training script" in line
    assert not (tiny_project / "out").exists() and not list(tiny_project.glob(".out.staging-*"))
