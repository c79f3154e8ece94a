"""Parameter sweeps and walk-forward: many full backtests of one session config.

    params.py       NAME=VALUES parsed against a config (did-you-mean, type checks)
    grid.py         the points: the product of the values, or a random sample
    columns.py      the sweep's bars, read once, as numpy columns; the bar source workers read
    point.py        one point run in a worker through SystemManager, its rows handed back
    stored_rows.py  a point's rows copied SQLite to SQLite as stored
    store.py        the sweeps and points in the database (the parent is the only writer)
    local.py        the default engine: a concurrent.futures process pool
    ray_engine.py   the Ray engine, the only module that imports Ray
    runner.py       `sweep run` and `--resume`
    walk_forward.py `sweep walk-forward`
    leaderboard.py  metrics, ranking and the heat map
"""

ENGINES = ("local", "ray")   # `--engine`: a process pool on this machine, or Ray
