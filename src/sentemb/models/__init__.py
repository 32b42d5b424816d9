"""Model resolution, the sentence encoder, the one pooler implementation, training heads."""
