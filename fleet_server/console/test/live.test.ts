import { describe, expect, it } from "vitest";
import { DeltaCoalescer, LiveFleetStore } from "../src/live/coalesce";
import { parseLiveFrame, parseLiveMessage, robotStatus, type LiveRobot } from "../src/live/model";
import { angleDelta, MotionTrack } from "../src/live/motion";

function robot(serial: string, x: number, extra: Partial<LiveRobot> = {}): LiveRobot {
  return {
    manufacturer: "sim",
    serial_number: serial,
    online: true,
    pose: { x, y: 0, theta: 0, map_id: "L1" },
    battery_charge: 80,
    operating_mode: "AUTOMATIC",
    last_seen: null,
    ...extra,
  };
}

describe("delta coalescing", () => {
  it("merges many deltas per robot into one per frame", () => {
    const c = new DeltaCoalescer();
    c.push({ type: "snapshot", seq: 1, robots: [robot("a", 0), robot("b", 0)] });
    for (let i = 1; i <= 50; i++) {
      c.push({ type: "delta", seq: 1 + i, robots: [{ manufacturer: "sim", serial_number: "a", pose: { x: i, y: 0, theta: 0, map_id: "L1" } }] });
    }
    c.push({ type: "delta", seq: 52, robots: [{ manufacturer: "sim", serial_number: "a", battery_charge: 42 }] });
    const drained = c.drain();
    expect(drained).toHaveLength(2);
    expect(drained[0]!.type).toBe("snapshot");
    const delta = drained[1]!;
    expect(delta.type === "delta" && delta.robots).toEqual([
      { manufacturer: "sim", serial_number: "a", pose: { x: 50, y: 0, theta: 0, map_id: "L1" }, battery_charge: 42 },
    ]);
    expect(c.sawGap).toBe(false);
    expect(c.pending).toBe(false);
    expect(c.drain()).toEqual([]);
  });

  it("a snapshot drops the deltas before it; removal wins over an earlier update", () => {
    const c = new DeltaCoalescer();
    c.push({ type: "delta", seq: 5, robots: [{ manufacturer: "sim", serial_number: "x", online: false }] });
    c.push({ type: "snapshot", seq: 9, robots: [robot("a", 1)] });
    c.push({ type: "delta", seq: 10, robots: [{ manufacturer: "sim", serial_number: "a", online: false }] });
    c.push({ type: "delta", seq: 11, removed: ["sim/a"] });
    const [snapshot, delta] = c.drain();
    expect(snapshot).toMatchObject({ type: "snapshot", seq: 9 });
    expect(delta).toEqual({ type: "delta", seq: 11, removed: ["sim/a"] });
  });

  it("notices a lost message", () => {
    const c = new DeltaCoalescer();
    c.push({ type: "snapshot", site: "clinic", robots: [] });
    c.push({ type: "delta", seq: 1, robots: [] });
    expect(c.sawGap).toBe(false);
    c.push({ type: "delta", seq: 3, robots: [] });
    expect(c.sawGap).toBe(true);
    c.resetSequence();
    expect(c.sawGap).toBe(false);
  });

  it("keeps per-site snapshots in order with the deltas around them", () => {
    const c = new DeltaCoalescer();
    const store = new LiveFleetStore();
    c.push({ type: "snapshot", site: "clinic", robots: [robot("a", 0, { site_id: "clinic" })] });
    c.push({ type: "delta", seq: 1, robots: [{ manufacturer: "sim", serial_number: "a", battery_charge: 5 }] });
    c.push({ type: "snapshot", site: "bank", robots: [robot("b", 0, { site_id: "bank" })] });
    c.push({ type: "delta", seq: 2, robots: [{ manufacturer: "sim", serial_number: "b", battery_charge: 7 }] });
    const drained = c.drain();
    expect(drained.map((m) => m.type)).toEqual(["snapshot", "delta", "snapshot", "delta"]);
    drained.forEach((m) => store.apply(m));
    expect(store.robots.get("sim/a")!.battery_charge).toBe(5);
    expect(store.robots.get("sim/b")!.battery_charge).toBe(7);
    // A new clinic snapshot replaces the clinic's robots only.
    store.apply({ type: "snapshot", site: "clinic", robots: [] });
    expect([...store.robots.keys()]).toEqual(["sim/b"]);
  });

  it("applies snapshots and deltas to the store", () => {
    const store = new LiveFleetStore();
    store.apply({ type: "snapshot", seq: 1, robots: [robot("a", 0), robot("b", 0)] });
    store.apply({
      type: "delta",
      seq: 2,
      robots: [
        { manufacturer: "sim", serial_number: "a", battery_charge: 10 },
        { manufacturer: "sim", serial_number: "partial" },
        robot("c", 3),
      ],
      removed: ["sim/b"],
    });
    expect([...store.robots.keys()].sort()).toEqual(["sim/a", "sim/c"]);
    expect(store.robots.get("sim/a")!.battery_charge).toBe(10);
    expect(store.robots.get("sim/a")!.pose!.x).toBe(0);
  });

  it("parses the stream's frames and robot entries (fleet_server/live/entries.py)", () => {
    expect(parseLiveMessage("not json")).toBeNull();
    expect(parseLiveMessage('{"type":"hello","seq":1}')).toBeNull();
    expect(parseLiveMessage('{"type":"delta"}')).toBeNull();
    expect(parseLiveFrame('{"type":"ready","user":"admin"}')).toEqual({ type: "ready", user: "admin" });
    const entry = {
      id: "sim/a", manufacturer: "sim", serial_number: "a", site: "clinic", online: true,
      pose: { x: 1.5, y: -2, theta: 0.3, map_id: "L1" }, battery: 64.5, charging: false, driving: true,
      operating_mode: "AUTOMATIC", paused: false, order_id: "m-1", last_node_id: "n", errors: [{ type: "uvInterlock", level: "FATAL" }],
      last_seen: "2026-03-01T00:00:00Z",
    };
    const snapshot = parseLiveMessage(JSON.stringify({ type: "snapshot", site: "clinic", robots: [entry, { junk: 1 }], missions: [], alarms: [] }));
    expect(snapshot).toMatchObject({ type: "snapshot", site: "clinic" });
    const robotOut = snapshot!.type === "snapshot" ? snapshot!.robots : [];
    expect(robotOut).toEqual([
      {
        manufacturer: "sim", serial_number: "a", online: true, pose: { x: 1.5, y: -2, theta: 0.3, map_id: "L1" },
        battery_charge: 64.5, operating_mode: "AUTOMATIC", last_seen: "2026-03-01T00:00:00Z", site_id: "clinic",
        charging: false, driving: true, mission_id: "m-1", errors: [{ type: "uvInterlock", level: "FATAL" }],
      },
    ]);
    expect(robotStatus(robotOut[0]!)).toBe("error");
    const delta = parseLiveMessage(JSON.stringify({ type: "delta", seq: 4, robots: [entry], missions: [{ id: "m-1", state: "active" }], alarms: [], schedules: [] }));
    expect(delta).toMatchObject({ type: "delta", seq: 4, missions: [{ id: "m-1", state: "active" }] });
  });

  it("colours a robot by its worst condition", () => {
    expect(robotStatus(robot("a", 0, { online: false, charging: true }))).toBe("offline");
    expect(robotStatus(robot("a", 0, { errors: [{ type: "x", level: "FATAL" }], charging: true }))).toBe("error");
    expect(robotStatus(robot("a", 0, { charging: true, mission_id: "m" }))).toBe("charging");
    expect(robotStatus(robot("a", 0, { mission_id: "m" }))).toBe("busy");
    expect(robotStatus(robot("a", 0))).toBe("idle");
  });
});

describe("smooth motion", () => {
  it("glides between reports one interval behind and jumps on a level change", () => {
    const track = new MotionTrack();
    track.add({ x: 0, y: 0, theta: 0, mapId: "L1", t: 0 });
    expect(track.at(500)!.x).toBe(0);
    track.add({ x: 10, y: 0, theta: 0, mapId: "L1", t: 1000 });
    expect(track.at(1000)!.x).toBeCloseTo(0);
    expect(track.at(1500)!.x).toBeCloseTo(5);
    expect(track.at(3000)!.x).toBeCloseTo(10);
    // A report mid-glide starts the next glide where the robot is drawn.
    track.add({ x: 20, y: 0, theta: 0, mapId: "L1", t: 1500 });
    expect(track.at(1500)!.x).toBeCloseTo(5);
    track.add({ x: 1, y: 1, theta: 0, mapId: "L2", t: 2000 });
    expect(track.at(2000)).toMatchObject({ x: 1, y: 1, mapId: "L2" });
  });

  it("turns the short way round", () => {
    expect(angleDelta(3, -3)).toBeCloseTo(2 * Math.PI - 6);
    const track = new MotionTrack();
    track.add({ x: 0, y: 0, theta: 3.0, mapId: "L1", t: 0 });
    track.add({ x: 0, y: 0, theta: -3.0, mapId: "L1", t: 1000 });
    const mid = track.at(1500)!.theta;
    expect(Math.abs(mid)).toBeGreaterThan(3.0);
  });
});
