"""A lockstep world for the traffic link: real agents' executors on kinematic bodies.

Orders leave through the real `OrderPublisher` into a recording MQTT stand-in, travel as
JSON to each robot's real `OrderExecutor`, and the robots' real VDA 5050 states go back
through the real `LiveFleet` to the link and to the real `MissionProgress` tracker, as in
the server. The world plays the mission runtime: it starts missions through the link,
sends their first order, follows progress events to the end of each mission and tells the
link which robots still run one.

After every tick it checks, independently of the reservation table, that no two robots
stand within ``min_gap_m`` of each other on one level and that no resource is held by more
robots than its capacity.

A robot taken offline (:meth:`LinkWorld.disconnect`) stops where it is and reports nothing
until :meth:`LinkWorld.reconnect`; the link's clock is the world's, and the alarms it
raises are kept in :attr:`LinkWorld.alarms`. :meth:`LinkWorld.restart` plays a server
restart: a link that knows nothing of the old one's reservations takes over.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from fleet_server.alarms.model import AlarmChange
from fleet_server.dispatch.traffic import TrafficConfig, TrafficManager
from fleet_server.fleet.live_state import LiveFleet, RobotEvent, RobotKey, RobotLive
from fleet_server.fleet.orders import OrderPublisher
from fleet_server.fleet.progress import MissionProgress, ProgressKind
from fleet_server.missions.traffic_link import TrafficLink
from missions.compiler import CompiledMission, RobotProfile, StartPose, compile_mission
from missions.sites import Site
from missions.types import parse_mission
from missions.vda5050 import ConnectionState, decode_instant_actions, decode_order
from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from sim.adapter import SimAdapter, SimSurroundings
from sim.kinematic import KinematicRobot

SITE_ID = "clinic"
MANUFACTURER = "acme"


class Wire:
    """Stands in for the server's MQTT link (the true edge): keeps what was published."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.sent.append((topic, payload))


@dataclass
class Body:
    """One simulated robot: kinematic body, sim adapter, the real agent (not connected)."""

    serial: str
    body: KinematicRobot
    agent: Agent
    surroundings: SimSurroundings


def profile(serial: str) -> RobotProfile:
    return RobotProfile.model_validate(
        {
            "manufacturer": MANUFACTURER,
            "serial_number": serial,
            "kind": "service_robot",
            "capabilities": ["patrol"],
            "max_speed_m_s": 1.0,
        }
    )


def patrol_to(site: Site, serial: str, start: str, goal: str, order_id: str) -> CompiledMission:
    """A patrol of one checkpoint (1 s dwell) for ``serial`` standing on ``start``."""
    mission = parse_mission(
        {"kind": "patrol", "site": site.name, "checkpoints": [goal], "dwell_s": 1}
    )
    return compile_mission(
        mission, site, profile(serial), start=StartPose(waypoint=start), order_id=order_id
    )


@dataclass
class LinkWorld:
    """Robots, the link and a stand-in runtime, stepped together on one clock."""

    site: Site
    starts: dict[str, str]
    config: TrafficConfig = field(default_factory=TrafficConfig)
    min_gap_m: float = 0.4
    t: float = 0.0
    wire: Wire = field(default_factory=Wire)
    live: LiveFleet = field(default_factory=lambda: LiveFleet(1e9))
    progress: MissionProgress = field(default_factory=MissionProgress)
    robots: dict[str, Body] = field(default_factory=dict)
    running: dict[RobotKey, str] = field(default_factory=dict)
    """Robot -> mission id it runs."""
    done: list[str] = field(default_factory=list)
    rerouted: list[tuple[RobotKey, str]] = field(default_factory=list)
    alarms: list[AlarmChange] = field(default_factory=list)
    offline: set[str] = field(default_factory=set)
    closest_m: float = math.inf
    _read: int = 0
    _feeds_link: bool = True

    def __post_init__(self) -> None:
        self.orders = OrderPublisher(self.wire, self.live, "uagv", echo_timeout_s=1e6)
        self.link = self._new_link()
        self.live.add_listener(self._on_event)
        waypoints = {wp.id: wp for wp in self.site.all_waypoints()}
        waypoints |= {wp.name: wp for wp in self.site.all_waypoints() if wp.name}
        for serial, start in self.starts.items():
            wp = waypoints[start]
            body = KinematicRobot(
                x=wp.x, y=wp.y, map_id=wp.level, max_speed_m_s=1.0, lift_ride_s=4.0
            )
            surroundings = SimSurroundings()
            adapter = SimAdapter(body, surroundings)
            config = AgentConfig(manufacturer=MANUFACTURER, serial_number=serial)
            agent = Agent(config, adapter, monotonic=lambda: self.t)
            self.robots[serial] = Body(serial, body, agent, surroundings)
            key = (MANUFACTURER, serial)
            self.live.apply_connection(key, ConnectionState.ONLINE, self.t)
            self._report(self.robots[serial])
            self.link.set_robot_site(key, SITE_ID)

    def _new_link(self) -> TrafficLink:
        link = TrafficLink(
            self.orders,
            self.live,
            self.progress,
            config=self.config,
            check_invariants=True,
            on_reroute=lambda key, compiled: self.rerouted.append((key, compiled.order_id)),
            raise_alarm=self.alarms.append,
            monotonic=lambda: self.t,
        )
        link.add_site(SITE_ID, self.site)
        return link

    def restart(self, link: TrafficLink | None = None) -> TrafficLink:
        """The server restarts: a new link with an empty table takes over (``link``: a
        restarted runtime's, which follows the robots' states itself) and places the
        robots where they stand. The robots go on with the orders they have."""
        self._feeds_link = link is None
        if link is None:
            link = self._new_link()
        else:
            link.add_site(SITE_ID, self.site)
        self.link = link
        for serial in self.robots:
            link.set_robot_site((MANUFACTURER, serial), SITE_ID)
        return link

    @property
    def manager(self) -> TrafficManager:
        manager = self.link.manager(SITE_ID)
        assert manager is not None
        return manager

    def _on_event(self, event: str, robot: RobotLive) -> None:
        if event != RobotEvent.STATE or robot.state is None:
            return
        if self._feeds_link:
            self.link.on_state(robot)
        for progress in self.progress.on_state(robot.key, robot.state):
            if progress.kind is ProgressKind.ORDER_DONE:
                self.running.pop(robot.key, None)
                self.progress.forget(robot.key)
                self.done.append(robot.key[1])

    def start(self, serial: str, goal: str, mission_id: str) -> CompiledMission:
        """Dispatch a patrol to ``goal`` as the runtime does: plan, send, track."""
        key = (MANUFACTURER, serial)
        here = self.standing_waypoint(serial)
        compiled = patrol_to(self.site, serial, here, goal, mission_id)
        prepared = self.link.start(SITE_ID, key, compiled)
        self.orders.send_order(MANUFACTURER, serial, prepared.order())
        self.progress.track_order(mission_id, key, prepared)
        self.running[key] = mission_id
        self.deliver()
        return prepared

    def standing_waypoint(self, serial: str) -> str:
        body = self.robots[serial].body
        best = min(
            (wp for wp in self.site.all_waypoints() if wp.level == body.map_id),
            key=lambda wp: math.hypot(wp.x - body.x, wp.y - body.y),
        )
        return best.id

    def deliver(self) -> None:
        """Hand every published order and instant action to its robot."""
        while self._read < len(self.wire.sent):
            topic, payload = self.wire.sent[self._read]
            self._read += 1
            parts = topic.split("/")
            serial, kind = parts[3], parts[4]
            if serial in self.offline:
                continue  # lost on the way
            executor = self.robots[serial].agent.executor
            if kind == "order":
                executor.receive_order(decode_order(payload))
            elif kind == "instantActions":
                executor.receive_instant_actions(decode_instant_actions(payload))

    def disconnect(self, serial: str) -> None:
        """The robot drops off the network (its last will): it stands and says nothing."""
        self.offline.add(serial)
        self.live.apply_connection((MANUFACTURER, serial), ConnectionState.CONNECTIONBROKEN, self.t)

    def reconnect(self, serial: str) -> None:
        """The robot is back: it runs and reports again."""
        self.offline.discard(serial)
        self.live.apply_connection((MANUFACTURER, serial), ConnectionState.ONLINE, self.t)

    def _report(self, robot: Body) -> None:
        state = robot.agent.build_state()
        self.live.apply_state((MANUFACTURER, robot.serial), state, self.t)

    def step(self, dt: float = 0.2, *, tick_link: bool = True) -> None:
        """``tick_link`` False: the link is left to a runtime that ticks it itself."""
        self.t += dt
        reporting = [r for r in self.robots.values() if r.serial not in self.offline]
        for robot in reporting:
            robot.body.step(dt)
            robot.agent.executor.tick()
        for robot in reporting:
            self._report(robot)
            self.deliver()
        if tick_link:
            self.link.tick(set(self.running))
        self.deliver()
        self.check()

    def run(self, limit_s: float, dt: float = 0.2) -> None:
        """Step until no mission runs (or fail after ``limit_s`` simulated seconds)."""
        while self.running:
            if self.t > limit_s:
                raise AssertionError(
                    f"missions {sorted(self.running.values())} not done in {limit_s} s: "
                    f"{self.link.snapshot(SITE_ID)}"
                )
            self.step(dt)
        for _ in range(5):  # let the link see the robots stand still
            self.step(dt)

    def check(self) -> None:
        """Independent checks: capacity of every resource, distance between robots."""
        held: Counter[str] = Counter()
        for row in self.link.snapshot(SITE_ID)["reservations"]:
            held[row["resource"]] += 1
        for resource, n in held.items():
            assert n <= self.manager.resources.capacity(resource), (resource, n)
        bodies = [r.body for r in self.robots.values() if not _in_lift(self, r.body)]
        for i, a in enumerate(bodies):
            for b in bodies[i + 1 :]:
                if a.map_id == b.map_id:
                    gap = math.hypot(a.x - b.x, a.y - b.y)
                    self.closest_m = min(self.closest_m, gap)
                    assert gap >= self.min_gap_m, (a, b)


def orders_to(world: LinkWorld, serial: str) -> list[tuple[str, int, int]]:
    """(orderId, orderUpdateId, last released sequenceId) of each order sent to ``serial``."""
    out = []
    for topic, payload in world.wire.sent:
        if topic.endswith(f"/{serial}/order"):
            order = decode_order(payload)
            released = max(n.sequence_id for n in order.nodes if n.released)
            out.append((order.order_id, order.order_update_id, released))
    return out


def under_way(world: LinkWorld, serial: str) -> tuple[int, int, int]:
    """(node last at, node released through, orderUpdateId) of the order the robot runs."""
    live = world.live.get(MANUFACTURER, serial)
    assert live is not None and live.state is not None
    state = live.state
    released = max(n.sequence_id // 2 for n in state.node_states if n.released)
    return state.last_node_sequence_id // 2, released, state.order_update_id


def _in_lift(world: LinkWorld, body: KinematicRobot) -> bool:
    # A robot riding a lift is in the cabin on no level's floor.
    return body.goal is not None and body.goal.map_id != body.map_id
