"""Atomic file output, progress reporting, logging set-up and the device choice."""
