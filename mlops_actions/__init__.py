"""mlops-actions: gate every pull request on a statistically sound model comparison."""

__version__ = "0.1.0"
