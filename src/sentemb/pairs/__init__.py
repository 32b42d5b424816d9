"""Pair-task fine-tuning with the batch-softmax contrastive loss (docs/methods.md §4).

A bi-encoder is fine-tuned on labelled pairs ``(text_a, text_b, label)`` and scored by the
cosine of the two embeddings. Modules: ``records`` (the pair dataset interface), ``tasks`` (the
offline tasks STS-B, SICK-R, MRPC and a generic TSV reader), ``sources`` (online loaders of the
paper's other datasets), ``batching`` (data shuffling strategies, §4.4), ``metrics`` and
``ranking`` (task metrics), ``finetune`` (the training loop).
"""
