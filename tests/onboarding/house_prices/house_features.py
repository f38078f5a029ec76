"""Feature code of the house-price project: importable, so a saved model can find it again."""

import numpy as np


def age_at_sale(frame):
    """Years between construction and sale, floored at zero."""
    return np.maximum(frame[["sold_year"]].to_numpy() - frame[["built_year"]].to_numpy(), 0)
