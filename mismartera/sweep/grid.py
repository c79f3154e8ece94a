"""The points of a sweep: the product of the swept values, or a random sample of it.

A point is a dict `{param name: value}` in the order the params were given. The grid is never
materialised beyond the points that will run: `--random K` samples K distinct indexes of the
product and decodes each one.
"""

from __future__ import annotations

import math
import random
from itertools import product
from typing import Any

from pydantic import ValidationError

from mismartera.config.session import SessionConfig, format_validation_error
from mismartera.errors import ConfigError, UsageError
from mismartera.sweep.params import SweptParam, Value, point_config
from mismartera.system.assembly import load_strategies

MAX_POINTS = 10_000   # above this a sweep needs --yes


def grid_size(params: list[SweptParam]) -> int:
    return math.prod(len(p.values) for p in params)


def _decode(params: list[SweptParam], index: int) -> dict[str, Value]:
    """The product's `index`-th point (the last param varies fastest, as in itertools.product)."""
    values: list[Value] = []
    for param in reversed(params):
        index, at = divmod(index, len(param.values))
        values.append(param.values[at])
    return {p.name: v for p, v in zip(params, reversed(values), strict=True)}


def build_points(params: list[SweptParam], sample: int | None = None, seed: int = 0,
                 allow_large: bool = False) -> list[dict[str, Value]]:
    """Every point of the grid, or `sample` of them drawn at random (reproducible with `seed`)."""
    total = grid_size(params)
    if sample is not None and sample < 1:
        raise UsageError(f"--random {sample}: expected 1 or more points")
    count = min(total, sample) if sample is not None else total
    if count > MAX_POINTS and not allow_large:
        raise UsageError(f"the sweep has {count:,} points, more than {MAX_POINTS:,}; narrow the grid, sample it "
                         "with --random K, or confirm with --yes")
    if sample is None or sample >= total:
        return [{p.name: v for p, v in zip(params, combo, strict=True)}
                for combo in product(*(p.values for p in params))]
    chosen = sorted(random.Random(seed).sample(range(total), count))
    return [_decode(params, index) for index in chosen]


def point_configs(base: dict[str, Any], params: list[SweptParam], points: list[dict[str, Value]]
                  ) -> list[dict[str, Any] | ConfigError]:
    """Each point's full config, validated like `system start` validates a file; a point whose
    config or strategy parameters are invalid gets its ConfigError instead (it is recorded as a
    failed point, the others still run)."""
    out: list[dict[str, Any] | ConfigError] = []
    for point in points:
        tree = point_config(base, params, point)
        try:
            cfg = SessionConfig.model_validate(tree)
            load_strategies(cfg)
        except ValidationError as exc:
            out.append(ConfigError("invalid config", format_validation_error(exc)))
            continue
        except ConfigError as exc:
            out.append(exc)
            continue
        out.append(cfg.model_dump(mode="json"))
    return out
