"""Gathering a model's trend: its registry's versions and its metadata store's records (``history --trend``).

A store that cannot be opened or read leaves the versions alone, with a warning: the trend never fails
because the store does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_actions.domain.config import Config
from mlops_actions.errors import MlopsError
from mlops_actions.metadata.records import Listing
from mlops_actions.metadata.trends import ModelTrend, model_trends

DASHBOARD_DIR = Path("mlops-out") / "trend"
DASHBOARD_FILE = "index.html"


def store_listing(config: Config, env: Mapping[str, str] | None = None) -> Listing:
    """The model's records in the config's metadata store; none, with a warning saying why, when there is no
    store (``metadata.backend: off``) or it cannot be read."""
    from mlops_actions.metadata import open_store

    try:
        store = open_store(config, env)
    except (MlopsError, NotImplementedError, OSError) as error:
        return Listing([], [f"the metadata store could not be opened: {error or type(error).__name__}"])
    if store is None:
        return Listing([], ["metadata.backend is off: only the registry's versions are shown"])
    try:
        return store.list_records(config.model_name)
    except (MlopsError, OSError) as error:
        return Listing([], [f"{store.name}: the records could not be read: {error}"])
    finally:
        store.close()


def gather_trend(config: Config, env: Mapping[str, str] | None = None) -> ModelTrend:
    """The trend of the config's model: its registry's versions and its store's records."""
    from mlops_actions.registry import open_registry

    versions = open_registry(config).list_versions()
    return model_trends(config, store_listing(config, env), versions)


@dataclass(frozen=True)
class Dashboard:
    """What ``history --trend`` produced: the Markdown summary and where the HTML dashboard was written."""

    markdown: str
    path: Path
    trends: list[ModelTrend]


def write_dashboard(
    configs: list[Config], output_dir: Path = DASHBOARD_DIR, env: Mapping[str, str] | None = None
) -> Dashboard:
    """Gather each config's trend, write the self-contained dashboard ``output_dir/index.html`` and return it
    with the Markdown summary."""
    from mlops_actions.domain.model_io import path_errors, write_text_atomic
    from mlops_actions.render.trend import trend_markdown
    from mlops_actions.render.trend_html import render_trend_html

    trends = [gather_trend(config, env) for config in configs]
    target = Path(output_dir) / DASHBOARD_FILE
    with path_errors(target.parent, "create the dashboard folder"):
        target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, render_trend_html(trends))
    return Dashboard(markdown=trend_markdown(trends), path=target, trends=trends)
