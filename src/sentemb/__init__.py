"""sentemb: a reproducible laboratory for contrastive sentence-representation learning."""

__version__ = "0.1.0"
