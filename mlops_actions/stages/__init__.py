"""Stages: check, release (deploy and monitor later) — orchestration of the building blocks."""
