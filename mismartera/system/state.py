"""The system's state machine: one table maps (state, trigger) to the next state.

    stopped ──start──▶ starting ──start_completed──▶ running ⇄ paused (pause / resume)
    starting, running, paused ──stop──▶ stopping ──stop_completed──▶ stopped
    starting, running, paused, stopping ──fail──▶ failed ──stop──▶ stopped

States are adjectives or participles, triggers are verbs. An illegal trigger raises `StateError`
naming the state and the moves that are legal from it, computed from the same table.
"""

from __future__ import annotations

from enum import StrEnum

from mismartera.errors import StateError


class SystemState(StrEnum):
    STOPPED = "stopped"    # no session; `system start` begins one
    STARTING = "starting"  # loading config, opening the run, starting workers
    RUNNING = "running"    # the coordinator replays (or streams) bars
    PAUSED = "paused"      # the clock is frozen; workers wait at their pause gate
    STOPPING = "stopping"  # workers are asked to stop and are being joined
    FAILED = "failed"      # a worker raised; its error is kept until `system stop`

    @property
    def active(self) -> bool:
        return self in (SystemState.STARTING, SystemState.RUNNING, SystemState.PAUSED, SystemState.STOPPING)


class Trigger(StrEnum):
    START = "start"
    START_COMPLETED = "start_completed"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    STOP_COMPLETED = "stop_completed"
    FAIL = "fail"


S, T = SystemState, Trigger

TRANSITIONS: dict[tuple[SystemState, Trigger], SystemState] = {
    (S.STOPPED, T.START): S.STARTING,
    (S.STARTING, T.START_COMPLETED): S.RUNNING,
    (S.STARTING, T.STOP): S.STOPPING,
    (S.STARTING, T.FAIL): S.FAILED,
    (S.RUNNING, T.PAUSE): S.PAUSED,
    (S.RUNNING, T.STOP): S.STOPPING,
    (S.RUNNING, T.FAIL): S.FAILED,
    (S.PAUSED, T.RESUME): S.RUNNING,
    (S.PAUSED, T.STOP): S.STOPPING,
    (S.PAUSED, T.FAIL): S.FAILED,
    (S.STOPPING, T.STOP_COMPLETED): S.STOPPED,
    (S.STOPPING, T.FAIL): S.FAILED,
    (S.FAILED, T.STOP): S.STOPPED,
}

# Triggers a user asks for by command; the others are the system's own.
USER_TRIGGERS = (T.START, T.PAUSE, T.RESUME, T.STOP)


def legal_moves(state: SystemState) -> list[str]:
    """The user commands that are legal from `state`, in a stable order."""
    return [trigger.value for trigger in USER_TRIGGERS if (state, trigger) in TRANSITIONS]


def next_state(state: SystemState, trigger: Trigger) -> SystemState:
    """The state after `trigger`, or StateError naming the state and the legal moves."""
    target = TRANSITIONS.get((state, trigger))
    if target is None:
        raise StateError(illegal_message(state, trigger))
    return target


def illegal_message(state: SystemState, trigger: Trigger) -> str:
    verb = trigger.value.replace("_", " ")
    moves = legal_moves(state)
    if not moves:
        hint = "wait for it to finish"
    elif len(moves) == 1:
        hint = f"{moves[0]} it first"
    else:
        hint = "you can: " + ", ".join(moves)
    return f"cannot {verb}: system is {state.value} ({hint})"
