"""The one training loop, its data order, checkpoints, optimizer, export and multi-process helpers."""
