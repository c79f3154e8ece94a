import pytest

from mismartera.errors import ExitCode, StateError
from mismartera.system.state import TRANSITIONS, SystemState, Trigger, legal_moves, next_state


def test_happy_path() -> None:
    state = SystemState.STOPPED
    for trigger, expected in [(Trigger.START, "starting"), (Trigger.START_COMPLETED, "running"),
                              (Trigger.PAUSE, "paused"), (Trigger.RESUME, "running"), (Trigger.STOP, "stopping"),
                              (Trigger.STOP_COMPLETED, "stopped")]:
        state = next_state(state, trigger)
        assert state.value == expected


@pytest.mark.parametrize("state", [SystemState.STARTING, SystemState.RUNNING, SystemState.PAUSED,
                                   SystemState.STOPPING])
def test_any_active_state_can_fail(state: SystemState) -> None:
    assert next_state(state, Trigger.FAIL) is SystemState.FAILED


def test_failed_goes_to_stopped_by_stop() -> None:
    assert next_state(SystemState.FAILED, Trigger.STOP) is SystemState.STOPPED


def test_illegal_moves_name_the_state_and_the_legal_moves() -> None:
    with pytest.raises(StateError) as info:
        next_state(SystemState.STOPPED, Trigger.PAUSE)
    assert str(info.value) == "cannot pause: system is stopped (start it first)"
    assert info.value.exit_code == ExitCode.WRONG_STATE
    with pytest.raises(StateError, match=r"^cannot resume: system is running \(you can: pause, stop\)$"):
        next_state(SystemState.RUNNING, Trigger.RESUME)
    with pytest.raises(StateError, match=r"^cannot start: system is failed \(stop it first\)$"):
        next_state(SystemState.FAILED, Trigger.START)


def test_every_state_is_reachable_and_stopped_is_reachable_from_every_state() -> None:
    targets = set(TRANSITIONS.values())
    assert set(SystemState) - {SystemState.STOPPED} <= targets
    assert legal_moves(SystemState.PAUSED) == ["resume", "stop"]
