"""The built-in simulator: vectorised robots on site maps, people, faults, scenarios.

- `sim.world`: `World` (all robots as numpy arrays on a `missions.sites.Site`: driving,
  lifts, doors, chargers, battery) and `RobotView` (one robot, as the adapter sees it).
- `sim.models`: robot models per kind (`sim/models.yaml`).
- `sim.people`: walkers per zone and hour, guided visitors.
- `sim.faults`: scheduled and seeded random faults, `FaultInjector`.
- `sim.clock`: `SimClock(time_scale)` and `ManualClock`.
- `sim.adapter`: `SimAdapter`, the agent's platform adapter over a simulated body.
- `sim.fleet`: `SimFleet` runs physics and real agents (one MQTT connection each).
- `sim.scenario`, `sim.runner`: scenario files and the robot side of a scenario run.
- `sim.gazebo`: SDF world and spawn-pose export for Gazebo.
- `sim.kinematic`: the single-robot reference body (`KinematicRobot`).
"""
