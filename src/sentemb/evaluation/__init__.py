"""The SentEval/SimCSE evaluation: STS scoring, transfer classifiers, the embedding cache, the runner."""
