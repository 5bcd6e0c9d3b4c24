"""A compiled mission: the full node/edge sequence, and the orders that release it.

Base, horizon and updates (VDA 5050 §6.6.1, §6.6.2)
----------------------------------------------------
Node ``i`` of the sequence has sequenceId ``2 i``, the edge after it ``2 i + 1``; ids never
change between updates. The initial order (``orderUpdateId`` 0) releases nodes 0 through
the *release point* ``r0`` (and the edges between them) and carries the rest as horizon.
Update ``k`` starts at the previous decision point ``r(k-1)``, resent exactly as first
sent (the stitching node), releases through ``rk >= r(k-1)`` and carries the remaining
horizon. Released nodes and edges are never sent again except the stitching node.

Horizon nodes carry no actions: their actions are sent with the update that releases
them, with the same actionIds they have in :attr:`CompiledMission.nodes`. Announcing
actions in the horizon is optional, and our onboard agent checks every actionId of an
update against all the actions it holds, the old horizon's included, before it drops that
horizon (``robot_agent.executor.OrderExecutor._prepare_runs``), so a resent horizon action
would be refused as a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from missions.compiler.robot import StartPose
from missions.report import PlannedPoint
from missions.types import MissionSpec, NoShowAction
from missions.uv_dose import RoomDosePlan
from missions.vda5050 import PROTOCOL_VERSION, Edge, Node, Order


@dataclass(frozen=True)
class DwellPointPlan:
    """A place the robot disinfects from: what the CLI lists as a dwell point.

    UV: ``predicted_dose_mj_cm2`` is the dose at the mission's ``distance_m`` after
    ``dwell_s`` of lamp-on time (what the robot will report as ``deliveredDoseMjCm2``).
    Spray: ``dwell_s`` is the estimated spraying time, ``volume_ml`` the planned volume
    and ``predicted_dose_mj_cm2`` is None.
    """

    node_id: str
    action_id: str
    x: float
    y: float
    level: str
    dwell_s: float
    predicted_dose_mj_cm2: float | None
    volume_ml: float | None = None

    def as_json(self) -> dict[str, Any]:
        """The JSON object ``fleet mission plan`` prints."""
        body: dict[str, Any] = {
            "node_id": self.node_id,
            "x": self.x,
            "y": self.y,
            "level": self.level,
            "dwell_s": self.dwell_s,
            "predicted_dose_mj_cm2": self.predicted_dose_mj_cm2,
        }
        if self.volume_ml is not None:
            body["volume_ml"] = self.volume_ml
        return body


@dataclass(eq=False)
class CompiledMission:
    """Everything the server needs to send a mission and judge it afterwards.

    ``nodes`` and ``edges`` are the full sequence, every element marked released and
    every action in place; :meth:`order` and :meth:`order_update` cut orders from it.
    ``node_waypoints[i]`` is the graph waypoint node ``i`` stands on (None for a free
    position such as a UV dwell point).

    Patrol ``rounds: until_stopped``: the sequence is one round and
    ``repeat_until_stopped`` is True. When the robot has finished the round the server
    compiles the mission again with ``start=compiled.end_pose`` and a new ``order_id``
    and sends that as a new order, until someone stops the mission; the estimate is per
    round.

    Guidance: ``meeting_node_index`` is the node where ``guideWaitForPerson`` runs. The
    agent does not stop the order when that action FAILS (timeout), so the server should
    release only through that node first (:meth:`with_initial_release`) and extend the
    base with :meth:`order_update` once the action is FINISHED. If it FAILED, the
    mission's ``on_no_show`` (:attr:`on_no_show`) says what the server does next:
    ``return_to_start``: cancelOrder (the robot still holds the horizon), then a new order
    back to where the robot came from (the first node); ``wait_at_destination``: release
    the rest, so the robot goes to the destination and waits for the person there;
    ``cancel``: cancelOrder; the robot stays at the meeting point and the mission ends.
    """

    order_id: str
    manufacturer: str
    serial_number: str
    mission: MissionSpec
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    node_waypoints: tuple[str | None, ...]
    estimated_duration_s: float
    dwell_points: tuple[DwellPointPlan, ...] = ()
    planned_points: tuple[PlannedPoint, ...] = ()
    room_plans: Mapping[str, RoomDosePlan] = field(default_factory=dict)
    repeat_until_stopped: bool = False
    meeting_node_index: int | None = None
    on_no_show: NoShowAction | None = None
    initial_release: int = -1
    """Index of the last node the initial order releases; -1 (default): all of them."""
    quiet_suppressed: tuple[str, ...] = ()
    """actionTypes left out for quiet hours, in path order (:mod:`missions.compiler.quiet`)."""
    _releases: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.initial_release == -1:
            self.initial_release = len(self.nodes) - 1
        self.initial_release = self._node_index(self.initial_release, "release_until")

    # -- the plan ------------------------------------------------------------------------

    @property
    def end_pose(self) -> StartPose:
        """Where the robot stands when the sequence is done (start of a next round)."""
        waypoint = self.node_waypoints[-1]
        if waypoint is not None:
            return StartPose(waypoint=waypoint)
        position = self.nodes[-1].node_position
        if position is None:  # every node we compile has a position
            raise ValueError(f"node {self.nodes[-1].node_id} has no position")
        return StartPose(x=position.x, y=position.y, level=position.map_id)

    @property
    def released_through(self) -> int | None:
        """Index of the current decision point, or None before :meth:`order` was called."""
        return self._releases[-1] if self._releases else None

    @property
    def last_update_id(self) -> int | None:
        """The highest orderUpdateId issued so far."""
        return len(self._releases) - 1 if self._releases else None

    def with_initial_release(self, release_until: int | None) -> CompiledMission:
        """The same plan with another release point for the initial order, nothing issued."""
        index = len(self.nodes) - 1 if release_until is None else release_until
        return CompiledMission(
            **{
                name: getattr(self, name)
                for name in self.__dataclass_fields__
                if name not in ("initial_release", "_releases")
            },
            initial_release=self._node_index(index, "release_until"),
        )

    def _node_index(self, index: int, what: str) -> int:
        if isinstance(index, bool) or not 0 <= index < len(self.nodes):
            raise ValueError(f"{what}: node index {index!r} is not in 0..{len(self.nodes) - 1}")
        return index

    # -- orders --------------------------------------------------------------------------

    def order(self, header_id: int = 0, timestamp: datetime | None = None) -> Order:
        """The initial order (orderUpdateId 0): base through the release point, then horizon."""
        if not self._releases:
            self._releases.append(self.initial_release)
        return self._cut(0, 0, self._releases[0], header_id, timestamp)

    def order_update(
        self,
        update_id: int,
        release_until: int | None,
        header_id: int = 0,
        timestamp: datetime | None = None,
    ) -> Order:
        """Update ``update_id``: from the last decision point, released through ``release_until``.

        ``release_until`` is a node index (None: the last node) and may not lie before the
        current decision point: the base cannot change (§6.6.2). ``update_id`` is the next
        orderUpdateId, or one already issued with the same release (a resend, identical).
        """
        if not self._releases:
            raise ValueError("order_update: send the initial order (order()) first")
        release = self._node_index(
            len(self.nodes) - 1 if release_until is None else release_until, "release_until"
        )
        if isinstance(update_id, bool) or update_id < 1:
            raise ValueError(f"update_id: must be 1 or more, got {update_id!r}")
        issued = len(self._releases)
        if update_id < issued:
            if release != self._releases[update_id]:
                raise ValueError(
                    f"update_id {update_id} was issued releasing through node "
                    f"{self._releases[update_id]}, not {release}"
                )
        elif update_id == issued:
            if release < self._releases[-1]:
                raise ValueError(
                    f"release_until {release} lies before the decision point "
                    f"{self._releases[-1]}: the released base cannot change"
                )
            self._releases.append(release)
        else:
            raise ValueError(f"update_id: the next orderUpdateId is {issued}, got {update_id}")
        stitch = self._releases[update_id - 1]
        return self._cut(update_id, stitch, release, header_id, timestamp)

    def next_order_update(
        self, release_until: int | None, header_id: int = 0, timestamp: datetime | None = None
    ) -> Order:
        """:meth:`order_update` with the next orderUpdateId."""
        if not self._releases:
            raise ValueError("next_order_update: send the initial order (order()) first")
        return self.order_update(len(self._releases), release_until, header_id, timestamp)

    def _cut(
        self,
        update_id: int,
        first: int,
        release: int,
        header_id: int,
        timestamp: datetime | None,
    ) -> Order:
        nodes = [
            _node_as(self.nodes[i], released=i <= release) for i in range(first, len(self.nodes))
        ]
        edges = [
            self.edges[i].model_copy(update={"released": i + 1 <= release}, deep=True)
            for i in range(first, len(self.edges))
        ]
        return Order(
            header_id=header_id,
            timestamp=timestamp or datetime.now(UTC),
            version=PROTOCOL_VERSION,
            manufacturer=self.manufacturer,
            serial_number=self.serial_number,
            order_id=self.order_id,
            order_update_id=update_id,
            nodes=nodes,
            edges=edges,
        )

    def dwell_points_json(self) -> list[dict[str, Any]]:
        """The dwell points as ``fleet mission plan`` prints them."""
        return [point.as_json() for point in self.dwell_points]


def _node_as(node: Node, *, released: bool) -> Node:
    if released:
        return node.model_copy(deep=True)
    # Horizon nodes announce no actions (module docstring).
    return node.model_copy(update={"released": False, "actions": []}, deep=True)
