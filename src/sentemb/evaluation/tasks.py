"""Which tasks a task set covers, and how averages are formed (methods.md §0.2-0.3).

Kept free of torch imports so that reporting can use it cheaply.
"""

from __future__ import annotations

from sentemb.data.senteval import STS_TASKS, TRANSFER_TASKS

# STS tasks reported from a train/dev/test split rather than from subsets.
SPLIT_TASKS = ("STSBenchmark", "SICKRelatedness")


def sts_tasks(mode: str) -> list[str]:
    """In dev mode only STS-B and SICK-R have dev splits (SimCSE evaluation.py)."""
    return list(SPLIT_TASKS) if mode == "dev" else list(STS_TASKS)


def task_names(tasks: str, mode: str) -> list[str]:
    return {"sts": sts_tasks(mode), "transfer": list(TRANSFER_TASKS),
            "all": sts_tasks(mode) + list(TRANSFER_TASKS)}[tasks]


def rounded_mean(values: list[float]) -> float:
    """SimCSE's "Avg.": each score rounded to 2 decimals first, then averaged."""
    if not values:
        raise ValueError("cannot average zero scores")
    return round(sum(round(v, 2) for v in values) / len(values), 2)
