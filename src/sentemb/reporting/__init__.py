"""The aggregate stage: tables, comparisons (paired bootstrap), figures, plot TSVs and the report."""
