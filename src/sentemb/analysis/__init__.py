"""Geometry of the representation space (docs/methods.md §6.1, §7.1): isotropy, contextualisation,
rogue dimensions, token norms, alignment/uniformity and the singular-value spectrum, computed
per layer for any model the pipeline evaluates and over training steps."""
