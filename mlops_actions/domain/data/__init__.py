"""Data: reading tables, fingerprints, schemas, validation, drift and mergeable profiles."""
