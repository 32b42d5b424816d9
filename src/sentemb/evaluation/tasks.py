"""Which tasks a task selection covers, and how averages are formed (docs/methods.md §0.2-0.3).

Kept free of torch imports so that reporting can use it cheaply.
"""

from __future__ import annotations

from sentemb.data.tasks import family, get_task, split_tasks
from sentemb.errors import ConfigError

FAMILIES = ("sts", "transfer", "all")


def sts_tasks(mode: str) -> list[str]:
    """In dev mode only the STS tasks with a dev split exist (SimCSE's evaluation.py)."""
    return split_tasks() if mode == "dev" else family("sts")


def task_names(spec: str, mode: str) -> list[str]:
    """``sts`` | ``transfer`` | ``all``, or a comma-separated list of task names (``STS12,STSBenchmark``)."""
    if spec in FAMILIES:
        transfer = family("transfer")
        return {"sts": sts_tasks(mode), "transfer": transfer, "all": sts_tasks(mode) + transfer}[spec]
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--tasks: empty selection {spec!r}; give sts, transfer, all or task names")
    for name in names:
        task = get_task(name)
        if mode == "dev" and task.family == "sts" and task.protocol != "sts_split":
            raise ConfigError(f"--tasks: {name} has no dev split (dev mode evaluates {', '.join(split_tasks())})")
    return list(dict.fromkeys(names))


def rounded_mean(values: list[float]) -> float:
    """SimCSE's "Avg.": each score rounded to 2 decimals first, then averaged."""
    if not values:
        raise ValueError("cannot average zero scores")
    return round(sum(round(v, 2) for v in values) / len(values), 2)
