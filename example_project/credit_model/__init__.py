"""Credit-default risk model for the lending portfolio: feature engineering and training."""
