"""One dispatch round per site: plan, dispatch, preempt, charge (issue 8, items 1-3).

Runs in a worker thread from `MissionRuntime.step`. For each site with waiting missions
(pending ones) or robots to look after:

1. the site's online, registered, non-decommissioned robots without a FATAL error become
   `FleetRobot`s: where they are (nearest graph waypoint), their charge and class, and for
   a busy robot where and when its mission ends; robots on the way to a charger sit out;
2. the waiting missions become `WaitingMission`s: the compiler's plan from a capable
   robot gives where the work starts and ends and how long it takes (cached per mission);
3. `plan_site` solves the allocation (`fleet_server.dispatch`); the plan is kept for
   ``GET /api/v1/sites/{id}/plan``;
4. every free robot gets the first mission of its queue, compiled from where it stands;
5. an emergency no free robot can take preempts the lowest-priority running mission on a
   capable robot (`preemption`), whose robot it is then pinned to;
6. idle robots below their class's threshold are sent to a free charger (`charging`).

A round runs on every runtime step (robot events, mission events, pokes, the tick); a site
is re-planned when its waiting missions or its robots' state changed since the last plan,
and at least every `replan_interval_s`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet_server.db.models import Mission, Robot
from fleet_server.dispatch import Priority
from fleet_server.fleet.live_state import RobotKey, RobotLive
from fleet_server.missions.allocation_link import (
    FleetRobot,
    Footprint,
    SitePlan,
    WaitingMission,
    mission_footprint,
    plan_site,
)
from fleet_server.missions.charging import (
    ChargerBook,
    ChargeTrip,
    ChargingPolicy,
    TripPhase,
    charge_plan,
    charged,
    final_node,
    needs_charge,
    occupied_chargers,
    pick_charger,
    site_chargers,
)
from fleet_server.missions.preemption import RunningWork, choose_victim
from fleet_server.missions.resume import Resumption, order_id_for
from fleet_server.missions.resume_store import stored_resumption
from fleet_server.missions.state_machine import transition
from fleet_server.missions.states import MissionState
from fleet_server.sites.store import SiteMapUnavailable, SiteNotFound
from missions.compiler import (
    CompiledMission,
    MissionCompileError,
    RobotProfile,
    StartPose,
    compile_mission,
    spraying_silenced,
)
from missions.sites import RobotClass, Site, travel_time_matrix
from missions.sites.routing import RouteNotFoundError, routing_graph, site_digest
from missions.types import GuidanceMission, MissionSpec, parse_mission
from missions.vda5050 import ActionStatus, ErrorLevel

if TYPE_CHECKING:
    from fleet_server.missions.runtime import MissionRuntime, _Dispatch

log = logging.getLogger(__name__)

S = MissionState
ACTOR = "dispatcher"
LIVE_STATES = (S.ASSIGNED, S.DISPATCHED, S.ACTIVE, S.PAUSED)
TRIP_TAKEN_WITHIN_S = 30.0
"""A charging trip whose order the robot does not run by then is dropped (and retried)."""


@dataclass
class RoundOutput:
    """What a round asks the loop to publish besides the dispatches."""

    instant: list[tuple[RobotKey, str]] = field(default_factory=list)
    trips: list[TripStart] = field(default_factory=list)
    """Charging trips to send (through traffic control when it runs)."""
    arrived: list[RobotKey] = field(default_factory=list)
    """Robots whose trip ended (traffic control frees their path)."""


@dataclass(frozen=True)
class TripStart:
    """A charging trip's plan, to be sent."""

    robot: RobotKey
    site_id: str
    compiled: CompiledMission
    robot_class: RobotClass


@dataclass
class _SiteFleet:
    site: Site
    robots: dict[RobotKey, FleetRobot]
    rows: dict[RobotKey, Robot]
    here: dict[RobotKey, str]
    """Waypoint each robot stands at now (busy robots too)."""
    profiles: dict[RobotKey, RobotProfile]


class Dispatcher:
    """Plans and dispatches each site's missions; looks after charging and preemption."""

    def __init__(
        self, runtime: MissionRuntime, policy: ChargingPolicy, replan_interval_s: float
    ) -> None:
        self.runtime = runtime
        self.policy = policy
        self.replan_interval_s = replan_interval_s
        self.plans: dict[str, SitePlan] = {}
        self.chargers = ChargerBook()
        self.trips: dict[RobotKey, ChargeTrip] = {}
        self.resumptions: dict[uuid.UUID, Resumption] = {}
        self.pins: dict[uuid.UUID, RobotKey] = {}
        """Emergency → the robot a preemption freed for it."""
        self.excluded: dict[uuid.UUID, set[RobotKey]] = {}
        """Mission → robots the compiler refused it for."""
        self._footprints: dict[tuple[uuid.UUID, int, float], Footprint | None] = {}
        self._planned_at: dict[str, float] = {}
        self._signatures: dict[str, object] = {}
        self._usable: dict[str, dict[str, list[tuple[str, float, float]]]] = {}
        self._unfollowed: set[int] = set()
        self._unplannable: dict[uuid.UUID, str] = {}
        self._bad_chargers: set[tuple[RobotKey, str]] = set()
        """(robot, charger) pairs where startCharging failed: that robot tries another."""
        """Waiting missions of the site in hand that no robot there can be planned for."""
        self.output = RoundOutput()

    # -- the round ---------------------------------------------------------------------------

    def run_round(self) -> list[_Dispatch]:
        """Plan every site that needs it; return the missions to send now."""
        runtime = self.runtime
        dispatches: list[_Dispatch] = []
        with runtime.db.session() as session:
            waiting = list(session.scalars(select(Mission).where(Mission.state == S.PENDING)))
            robots = list(
                session.scalars(
                    select(Robot).where(Robot.decommissioned.is_(False), Robot.site_id.is_not(None))
                )
            )
            sites = sorted({m.site_id for m in waiting} | {r.site_id for r in robots if r.site_id})
            # A robot whose live mission is not followed here (not adopted yet) sits out.
            followed = {run.robot for run in runtime.running.values()}
            self._unfollowed = {
                robot_id
                for robot_id in session.scalars(
                    select(Mission.robot_id).where(Mission.state.in_(LIVE_STATES))
                )
                if robot_id is not None
            } - {r.id for r in robots if (r.manufacturer, r.serial_number) in followed}
            for site_id in sites:
                site_missions = [m for m in waiting if m.site_id == site_id]
                site_robots = [r for r in robots if r.site_id == site_id]
                dispatches += self._site_round(session, site_id, site_missions, site_robots)
        return dispatches

    def _site_round(
        self, session: Session, site_id: str, missions: list[Mission], robots: list[Robot]
    ) -> list[_Dispatch]:
        runtime = self.runtime
        try:
            site = runtime.sites.load(session, site_id)
        except (SiteNotFound, SiteMapUnavailable) as exc:
            # Only missions that are due give up: one for later waits, since the site's
            # map may be mended before then.
            wall = runtime._now()
            for mission in missions:
                if _stored_start(mission) <= wall:
                    transition(mission, S.CANCELLED, f"cannot plan: {exc}", ACTOR, session)
            runtime._commit(session)
            return []
        fleet = self._site_fleet(site, robots)
        self._follow_trips(site_id, fleet)
        if runtime.dispatch_blocked(site_id):
            return []  # site emergency mode: robots park, nothing is dispatched or charged
        self._unplannable = {}
        waiting = self._waiting(session, site, missions, fleet)
        now = runtime._monotonic()
        # Re-plan when a mission or a robot changed (created, cancelled, done, free, busy,
        # charging, online, offline) and at least every replan_interval_s.
        signature = (
            frozenset(w.mission_id for _m, w in waiting),
            frozenset((k, r.busy_priority, r.charging) for k, r in fleet.robots.items()),
        )
        stale = now - self._planned_at.get(site_id, -math.inf) >= self.replan_interval_s
        dispatches: list[_Dispatch] = []
        if waiting and (stale or signature != self._signatures.get(site_id)):
            plan = self._plan(site_id, fleet, waiting)
            self._planned_at[site_id] = now
            self._signatures[site_id] = signature
            dispatches = self._dispatch(session, fleet, plan, missions)
            self._preempt(session, fleet, plan, waiting, dispatches)
        elif not waiting:
            self.plans[site_id] = SitePlan(
                site_id, runtime._now(), {k: () for k in fleet.robots}, {}
            )
        plan_now = self.plans.get(site_id)
        if plan_now is not None and self._unplannable:
            # Missions no robot here can do (or none online) show in the plan too.
            unassigned = {**plan_now.unassigned, **self._unplannable}
            self.plans[site_id] = dataclasses.replace(plan_now, unassigned=unassigned)
        self._send_to_chargers(site_id, fleet, {d.robot for d in dispatches})
        return dispatches

    # -- the fleet and the missions ----------------------------------------------------------

    def _site_fleet(self, site: Site, robots: list[Robot]) -> _SiteFleet:
        from fleet_server.missions.runtime import robot_profile

        runtime = self.runtime
        by_robot = {run.robot: run for run in runtime.running.values()}
        fleet = _SiteFleet(site, {}, {}, {}, {})
        now = runtime._monotonic()
        for row in robots:
            key = (row.manufacturer, row.serial_number)
            live = runtime.live.get(*key)
            if row.id in self._unfollowed or self._driven_by_traffic(key):
                continue
            if live is None or not live.online or live.pose is None or _fatal(live):
                continue
            here = self._nearest_waypoint(site, live.pose.x, live.pose.y, live.pose.map_id)
            if here is None:
                continue
            fleet.here[key] = here
            fleet.rows[key] = row
            fleet.profiles[key] = robot_profile(row, live)
            trip = self.trips.get(key)
            if trip is not None and trip.phase is TripPhase.GOING:
                continue
            charging_class = self.policy.for_kind(row.kind)
            run = by_robot.get(key)
            waypoint, available, busy = here, 0.0, None
            if run is not None:
                waypoint = _end_waypoint(run.compiled) or here
                available = max(0.0, run.compiled.estimated_duration_s - (now - run.sent_at))
                busy = Priority(run.priority)
            charging = trip is not None or live.charging
            if run is None and needs_charge(live.battery_charge, charging_class):
                charging = True
            fleet.robots[key] = FleetRobot(
                robot_id=row.id,
                key=key,
                capabilities=frozenset(str(c) for c in row.capabilities),
                waypoint=waypoint,
                battery_pct=live.battery_charge,
                drain_pct_per_s=charging_class.drain_pct_per_s,
                reserve_pct=charging_class.reserve_pct,
                available_in_s=available,
                busy_priority=busy,
                charging=charging,
            )
        return fleet

    def _driven_by_traffic(self, robot: RobotKey) -> bool:
        """Traffic control drives the robot (making way, stepping aside): leave it be."""
        busy = getattr(getattr(self.runtime, "traffic", None), "busy", None)
        return bool(busy(robot)) if callable(busy) else False

    def _nearest_waypoint(self, site: Site, x: float, y: float, level: str) -> str | None:
        digest = site_digest(site)
        usable = self._usable.get(digest)
        if usable is None:
            usable = _usable_waypoints(site)
            self._usable = {digest: usable, **dict(list(self._usable.items())[-7:])}
        best = min(
            usable.get(level, []), key=lambda w: math.hypot(w[1] - x, w[2] - y), default=None
        )
        return None if best is None else best[0]

    def _waiting(
        self, session: Session, site: Site, missions: list[Mission], fleet: _SiteFleet
    ) -> list[tuple[Mission, WaitingMission]]:
        runtime = self.runtime
        waiting = []
        now = runtime._now()
        for mission in missions:
            try:
                spec = self.spec_of(mission, site)
            except ValueError as exc:
                transition(mission, S.CANCELLED, f"cannot plan: {exc}", ACTOR, session)
                runtime._commit(session)
                continue
            footprint = self._footprint(mission, spec, site, fleet)
            if footprint is None:
                self._unplannable[mission.id] = "no_capable_robot"
                continue
            earliest = max(0.0, _seconds_until(spec.earliest_start, now))
            deadline = None if spec.deadline is None else _seconds_until(spec.deadline, now)
            waiting.append(
                (
                    mission,
                    WaitingMission(
                        mission_id=mission.id,
                        capability=spec.capability.value,
                        priority=Priority(mission.priority),
                        entry=footprint.entry,
                        exit=footprint.exit,
                        duration_s=footprint.duration_s,
                        earliest_start_s=earliest,
                        deadline_s=deadline,
                        waiting_s=max(0.0, (now - _aware(mission.created_at)).total_seconds()),
                        preferred_robot=spec.preferred_robot,
                        pinned_robot=self._pin(mission.id, fleet),
                        excluded=frozenset(self.excluded.get(mission.id, ())),
                    ),
                )
            )
        return waiting

    def _pin(self, mission_id: uuid.UUID, fleet: _SiteFleet) -> RobotKey | None:
        """The robot preemption freed for an emergency, while it is still there."""
        robot = self.pins.get(mission_id)
        if robot is not None and robot not in fleet.rows:
            del self.pins[mission_id]  # it went offline or failed: any robot may take it
            return None
        return robot

    def spec_of(self, mission: Mission, site: Site) -> MissionSpec:
        """What is left to do of a mission (its stored spec, unless it stopped part-way)."""
        resumption = self.resumptions.get(mission.id)
        if resumption is None and mission.resumption is not None:
            # Kept with the mission: after a restart it resumes where it stopped.
            resumption = stored_resumption(mission, site.name)
            if resumption is not None:
                self.resumptions[mission.id] = resumption
        if resumption is not None:
            return resumption.spec
        return parse_mission({**mission.spec, "site": site.name})

    def _footprint(
        self, mission: Mission, spec: MissionSpec, site: Site, fleet: _SiteFleet
    ) -> Footprint | None:
        capable = [k for k, r in fleet.robots.items() if spec.capability.value in r.capabilities]
        if not capable:
            return None
        speed = _planning_speed(fleet)
        resumption = self.resumptions.get(mission.id)
        key = (mission.id, 0 if resumption is None else resumption.part, speed)
        if key in self._footprints:
            return self._footprints[key]
        found: Footprint | None = None
        for robot in capable:
            row = fleet.rows[robot]
            profile = fleet.profiles[robot].model_copy(update={"max_speed_m_s": speed})
            start = fleet.robots[robot].waypoint
            try:
                compiled = compile_mission(
                    spec, site, profile, start=StartPose(waypoint=start), order_id="plan"
                )
                found = self._measure(site, row, speed, compiled, start)
            except (MissionCompileError, RouteNotFoundError) as exc:
                log.info("mission %s: cannot plan it with %s: %s", mission.id, robot[1], exc)
                continue
            break
        self._footprints[key] = found
        return found

    @staticmethod
    def _measure(
        site: Site, row: Robot, speed: float, compiled: CompiledMission, start: str
    ) -> Footprint | None:
        rough = mission_footprint(compiled, 0.0)
        if rough is None:
            return None
        cls = RobotClass(kind=row.kind, max_speed_m_s=speed)
        ids, matrix = travel_time_matrix(site, cls, waypoint_ids=sorted({start, rough.entry}))
        travel = float(matrix[ids.index(start), ids.index(rough.entry)])
        return mission_footprint(compiled, travel)

    # -- planning and dispatch ---------------------------------------------------------------

    def _plan(
        self,
        site_id: str,
        fleet: _SiteFleet,
        waiting: list[tuple[Mission, WaitingMission]],
    ) -> SitePlan:
        missions = [w for _m, w in waiting]
        chargers = site_chargers(fleet.site)
        ids = sorted(
            {r.waypoint for r in fleet.robots.values()}
            | {m.entry for m in missions}
            | {m.exit for m in missions}
            | set(chargers)
        )
        speed = _planning_speed(fleet)
        kind = next(iter(fleet.rows.values())).kind if fleet.rows else "robot"
        try:
            ids_t, matrix = travel_time_matrix(
                fleet.site, RobotClass(kind=kind, max_speed_m_s=speed), waypoint_ids=ids
            )
        except RouteNotFoundError as exc:
            log.warning("site %s: cannot plan: %s", site_id, exc)
            ids_t, matrix = (), np.zeros((0, 0))
        plan = plan_site(
            site_id,
            self.runtime._now(),
            list(fleet.robots.values()),
            missions,
            list(ids_t),
            matrix if len(ids_t) else np.zeros((1, 1)),
            chargers,
        )
        self.plans[site_id] = plan
        return plan

    def _dispatch(
        self, session: Session, fleet: _SiteFleet, plan: SitePlan, missions: list[Mission]
    ) -> list[_Dispatch]:
        by_id = {m.id: m for m in missions}
        dispatches = []
        now = self.runtime._now()
        for robot, planned in plan.first_missions().items():
            state = fleet.robots.get(robot)
            mission = by_id.get(planned.mission_id)
            if state is None or mission is None or state.busy_priority is not None:
                continue
            if state.charging and robot not in plan.charging_for_emergency:
                continue
            spec = self.spec_of(mission, fleet.site)
            if spec.earliest_start is not None and _aware(spec.earliest_start) > now:
                continue
            dispatch = self._assign(session, fleet, robot, mission, spec, planned.finish_s)
            if dispatch is not None:
                dispatches.append(dispatch)
        return dispatches

    def _assign(
        self,
        session: Session,
        fleet: _SiteFleet,
        robot: RobotKey,
        mission: Mission,
        spec: MissionSpec,
        eta_s: float,
    ) -> _Dispatch | None:
        from fleet_server.missions.runtime import _Dispatch, robot_profile

        runtime = self.runtime
        row = fleet.rows[robot]
        live = runtime.live.get(*robot)
        if live is None or live.pose is None:
            return None
        profile = robot_profile(row, live)
        resumption = self.resumptions.get(mission.id)
        quiet = runtime.quiet_hours(mission.site_id)
        try:
            compiled = compile_mission(
                spec,
                fleet.site,
                profile,
                start=StartPose.at(live.pose.x, live.pose.y, live.pose.map_id),
                order_id=order_id_for(mission.id, resumption),
                release_until=None,
                quiet=quiet,
            )
        except MissionCompileError as exc:
            log.info("mission %s: robot %s cannot do it: %s", mission.id, robot[1], exc)
            self.excluded.setdefault(mission.id, set()).add(robot)
            return None
        if spraying_silenced(compiled):
            return None  # every spray falls in quiet hours: it waits for them to end
        if isinstance(spec, GuidanceMission) and compiled.meeting_node_index is not None:
            compiled = compiled.with_initial_release(compiled.meeting_node_index)
        cause = f"planned for robot {robot[1]} (done in about {eta_s:.0f} s)"
        if resumption is not None:
            cause += f"; {resumption.note}"
        transition(mission, S.ASSIGNED, cause, ACTOR, session, robot_id=row.id)
        transition(mission, S.DISPATCHED, f"order {compiled.order_id} sent", ACTOR, session)
        runtime._commit(session)
        before: list[str] = []
        if fleet.robots[robot].charging:
            before.append("stopCharging")
            self.trips.pop(robot, None)
            self.chargers.release(robot)
        self.pins.pop(mission.id, None)
        self.excluded.pop(mission.id, None)
        self.resumptions.pop(mission.id, None)
        return _Dispatch(
            mission.id,
            robot,
            compiled,
            mission.site_id,
            profile,
            priority=mission.priority,
            resumption=resumption,
            full_spec=parse_mission({**mission.spec, "site": fleet.site.name}),
            before=before,
            quiet=quiet,
        )

    # -- preemption --------------------------------------------------------------------------

    def _preempt(
        self,
        session: Session,
        fleet: _SiteFleet,
        plan: SitePlan,
        waiting: list[tuple[Mission, WaitingMission]],
        dispatches: list[_Dispatch],
    ) -> None:
        sent = {d.mission_id for d in dispatches}
        now = self.runtime._now()
        for mission, want in waiting:
            if (
                want.priority is not Priority.EMERGENCY
                or mission.id in sent
                or mission.id in self.pins
                or mission.id not in plan.unassigned
                or plan.unassigned[mission.id] == "unknown_waypoint"
                or want.earliest_start_s > 0
            ):
                continue
            victim = self._victim(fleet, want)
            if victim is None:
                log.info("emergency %s: no robot can take it now", mission.id)
                continue
            run = self.runtime.running.get(victim.mission_id)
            row = session.get(Mission, victim.mission_id)
            if run is None or row is None or MissionState(row.state) is not S.ACTIVE:
                continue
            transition(
                row, S.PAUSED, f"preempted by emergency mission {mission.id}", ACTOR, session
            )
            self.runtime._commit(session)
            run.preempted_by = mission.id
            self.pins[mission.id] = run.robot
            self.output.instant.append((run.robot, "cancelOrder"))
            log.info("emergency %s preempts %s on %s at %s", mission.id, row.id, run.robot, now)

    def _victim(self, fleet: _SiteFleet, emergency: WaitingMission) -> RunningWork | None:
        work = []
        for run in self.runtime.running.values():
            robot = fleet.robots.get(run.robot)
            here = fleet.here.get(run.robot)
            if robot is None or here is None or not run.started:
                continue
            work.append(
                RunningWork(
                    mission_id=run.mission_id,
                    kind=run.compiled.mission.kind,
                    priority=Priority(run.priority),
                    robot=run.robot,
                    capabilities=robot.capabilities,
                    waypoint=here,
                    battery_pct=robot.battery_pct,
                    drain_pct_per_s=robot.drain_pct_per_s,
                    reserve_pct=robot.reserve_pct,
                    preempting=run.preempted_by is not None,
                )
            )
        if not work:
            return None
        chargers = site_chargers(fleet.site)
        ids = sorted({w.waypoint for w in work} | {emergency.entry, emergency.exit} | set(chargers))
        cls = RobotClass(kind="robot", max_speed_m_s=_planning_speed(fleet))
        ids_t, matrix = travel_time_matrix(fleet.site, cls, waypoint_ids=ids)
        at = {w: i for i, w in enumerate(ids_t)}
        travel = {
            (w.waypoint, emergency.entry): float(matrix[at[w.waypoint], at[emergency.entry]])
            for w in work
        }
        back = {}
        if chargers:
            back[emergency.exit] = float(min(matrix[at[emergency.exit], at[c]] for c in chargers))
        return choose_victim(emergency, work, travel, back)

    # -- charging ----------------------------------------------------------------------------

    def _follow_trips(self, site_id: str, fleet: _SiteFleet) -> None:
        """Trips that arrived start charging; charged robots stop and take work again."""
        for key, trip in list(self.trips.items()):
            if trip.site_id != site_id:
                continue
            live = self.runtime.live.get(*key)
            if live is None or live.state is None:
                continue
            state = live.state
            if trip.phase is TripPhase.GOING:
                arrived = (
                    state.order_id == trip.order_id
                    and not state.node_states
                    and (state.last_node_id, state.last_node_sequence_id) == trip.final_node
                )
                failed = any(
                    a.action_type == "startCharging" and a.action_status is ActionStatus.FAILED
                    for a in state.action_states
                    if a.action_id.startswith(trip.order_id)
                )
                dropped = (
                    state.order_id != trip.order_id
                    and self.runtime._monotonic() - trip.sent_at > TRIP_TAKEN_WITHIN_S
                )
                if failed or dropped:
                    log.warning(
                        "robot %s: no charging at %s (%s)",
                        key[1],
                        trip.charger,
                        "startCharging failed" if failed else "order not taken",
                    )
                    if failed:
                        self._bad_chargers.add((key, trip.charger))
                    self.trips.pop(key)
                    self.chargers.release(key)
                    self.output.arrived.append(key)
                elif arrived and live.charging:
                    trip.phase = TripPhase.CHARGING
                    self.output.arrived.append(key)
        for key in fleet.rows:
            live = self.runtime.live.get(*key)
            if live is None or not live.charging:
                continue
            charging_class = self.policy.for_kind(fleet.rows[key].kind)
            current = self.trips.get(key)
            if charged(live.battery_charge, charging_class) and (
                current is None or current.phase is TripPhase.CHARGING
            ):
                self.output.instant.append((key, "stopCharging"))
                self.trips.pop(key, None)
                self.chargers.release(key)

    def _send_to_chargers(self, site_id: str, fleet: _SiteFleet, dispatched: set[RobotKey]) -> None:
        busy = {run.robot for run in self.runtime.running.values()}
        chargers = site_chargers(fleet.site)
        if not chargers:
            return
        for key, row in fleet.rows.items():
            live = self.runtime.live.get(*key)
            if (
                live is None
                or live.pose is None
                or live.charging
                or key in busy
                or key in dispatched
                or key in self.trips
                or not needs_charge(live.battery_charge, self.policy.for_kind(row.kind))
            ):
                continue
            poses = [
                (k, r.pose.x, r.pose.y, r.pose.map_id)
                for k in fleet.rows
                if (r := self.runtime.live.get(*k)) is not None and r.pose is not None
            ]
            occupied = occupied_chargers(fleet.site, poses)
            for robot, bad in self._bad_chargers:
                if robot == key:
                    occupied.setdefault(bad, ("", "failed before"))
            here = fleet.here[key]
            profile = fleet.profiles[key]
            cls = RobotClass(kind=row.kind, max_speed_m_s=profile.max_speed_m_s)
            ids = list(dict.fromkeys([here, *chargers]))
            _ids, matrix = travel_time_matrix(fleet.site, cls, waypoint_ids=ids)
            seconds = {c: float(matrix[0, ids.index(c)]) for c in chargers}
            charger = pick_charger(key, seconds, site_id, self.chargers, occupied)
            if charger is None:
                log.info("robot %s needs charging but every charger is taken", key[1])
                continue
            order_id = f"charge-{key[1]}-{uuid.uuid4().hex[:8]}"
            try:
                compiled = charge_plan(
                    fleet.site,
                    profile,
                    StartPose.at(live.pose.x, live.pose.y, live.pose.map_id),
                    charger,
                    order_id,
                )
            except MissionCompileError as exc:
                log.warning("robot %s: no way to charger %s: %s", key[1], charger, exc)
                continue
            self.chargers.reserve(site_id, charger, key)
            self.trips[key] = ChargeTrip(
                site_id, charger, order_id, final_node(compiled), sent_at=self.runtime._monotonic()
            )
            self.output.trips.append(TripStart(key, site_id, compiled, profile.robot_class))
            log.info("robot %s at %.0f %% goes to charger %s", key[1], live.battery_charge, charger)

    def driving(self) -> set[RobotKey]:
        """Robots on their way to a charger (traffic control keeps their path reserved)."""
        return {key for key, trip in self.trips.items() if trip.phase is TripPhase.GOING}

    def forget(self, mission_id: uuid.UUID) -> None:
        """A mission ended outside a round (cancelled): drop what was kept for it."""
        self.resumptions.pop(mission_id, None)
        self.pins.pop(mission_id, None)
        self.excluded.pop(mission_id, None)

    def take_output(self) -> RoundOutput:
        """What the last round wants published (and forget it)."""
        output, self.output = self.output, RoundOutput()
        return output


def _fatal(live: RobotLive) -> bool:
    state = live.state
    return state is not None and any(e.error_level is ErrorLevel.FATAL for e in state.errors)


def _end_waypoint(compiled: CompiledMission) -> str | None:
    return next((w for w in reversed(compiled.node_waypoints) if w is not None), None)


def _planning_speed(fleet: _SiteFleet) -> float:
    """One travel matrix serves the site: planned at its slowest robot's speed."""
    return min((r.max_speed_m_s for r in fleet.profiles.values()), default=1.0)


def _usable_waypoints(site: Site) -> dict[str, list[tuple[str, float, float]]]:
    graph = routing_graph(site, RobotClass(kind="robot", max_speed_m_s=1.0))
    linked = set(np.flatnonzero(np.diff(graph.matrix.indptr)).tolist())
    linked |= set(graph.matrix.indices.tolist())
    names = {graph.ids[i] for i in linked} - set(graph.blocked)
    usable: dict[str, list[tuple[str, float, float]]] = {}
    for wp in site.all_waypoints():
        if wp.id in names:
            usable.setdefault(wp.level, []).append((wp.id, wp.x, wp.y))
    return usable


def _stored_start(mission: Mission) -> datetime:
    """The mission's earliest start as stored (no map needed to read it); epoch if none."""
    raw = mission.spec.get("earliest_start") if isinstance(mission.spec, dict) else None
    if raw:
        try:
            return _aware(datetime.fromisoformat(str(raw)))
        except ValueError:
            pass  # checked when the mission was created; an odd value does not hold it
    return datetime.min.replace(tzinfo=UTC)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _seconds_until(when: datetime | None, now: datetime) -> float:
    return 0.0 if when is None else (_aware(when) - now).total_seconds()
