"""The dispatcher: which robot does which mission, in what order (allocation).

The allocation core is independent of the server: build an `AllocationProblem` from
robots, tasks and a travel-time matrix and call `solve_allocation`.
"""

from fleet_server.dispatch.allocation import (
    Allocation,
    PlannedTask,
    SolveStats,
    UnassignedReason,
    solve_allocation,
)
from fleet_server.dispatch.problem import (
    AllocationConfig,
    AllocationInputError,
    AllocationProblem,
    Priority,
    Robot,
    Task,
)

__all__ = [
    "Allocation",
    "AllocationConfig",
    "AllocationInputError",
    "AllocationProblem",
    "PlannedTask",
    "Priority",
    "Robot",
    "SolveStats",
    "Task",
    "UnassignedReason",
    "solve_allocation",
]
