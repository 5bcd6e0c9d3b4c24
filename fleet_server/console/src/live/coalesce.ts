// Deltas can arrive far faster than the screen redraws (500 robots × several updates a
// second). They are merged per robot as they come and applied once per frame.

import { robotKey, type DeltaMessage, type LiveMessage, type LiveRobot, type MissionDelta, type RobotDelta } from "./model";

/** Merges deltas between two frames into one; a snapshot replaces everything before it. */
export class DeltaCoalescer {
  private snapshot: LiveMessage | null = null;
  private robots = new Map<string, RobotDelta>();
  private removed = new Set<string>();
  private missions = new Map<string, MissionDelta>();
  private alarms: unknown[] = [];
  private lastSeq: number | null = null;
  private gap = false;

  /** Take in one message. */
  push(message: LiveMessage): void {
    if (message.type === "snapshot") {
      this.snapshot = message;
      this.robots.clear();
      this.removed.clear();
      this.missions.clear();
      this.alarms = [];
      this.lastSeq = message.seq;
      this.gap = false;
      return;
    }
    if (this.lastSeq !== null && message.seq !== this.lastSeq + 1) this.gap = true;
    this.lastSeq = message.seq;
    for (const delta of message.robots ?? []) {
      const key = robotKey(delta);
      this.removed.delete(key);
      this.robots.set(key, { ...this.robots.get(key), ...delta });
    }
    for (const key of message.removed ?? []) {
      this.robots.delete(key);
      this.removed.add(key);
    }
    for (const mission of message.missions ?? []) {
      this.missions.set(mission.id, { ...this.missions.get(mission.id), ...mission });
    }
    this.alarms.push(...(message.alarms ?? []));
  }

  /** True when a sequence number was skipped since the last snapshot: resubscribe. */
  get sawGap(): boolean {
    return this.gap;
  }

  /** Whether anything waits to be applied. */
  get pending(): boolean {
    return this.snapshot !== null || this.robots.size > 0 || this.removed.size > 0 || this.missions.size > 0 || this.alarms.length > 0;
  }

  /** What arrived since the last call, as at most one snapshot and one merged delta. */
  drain(): LiveMessage[] {
    const out: LiveMessage[] = [];
    if (this.snapshot) out.push(this.snapshot);
    if (this.robots.size || this.removed.size || this.missions.size || this.alarms.length) {
      const delta: DeltaMessage = { type: "delta", seq: this.lastSeq ?? 0 };
      if (this.robots.size) delta.robots = [...this.robots.values()];
      if (this.removed.size) delta.removed = [...this.removed];
      if (this.missions.size) delta.missions = [...this.missions.values()];
      if (this.alarms.length) delta.alarms = this.alarms;
      out.push(delta);
    }
    this.snapshot = null;
    this.robots = new Map();
    this.removed = new Set();
    this.missions = new Map();
    this.alarms = [];
    return out;
  }
}

/** The fleet as last heard, keyed by robotKey. */
export class LiveFleetStore {
  readonly robots = new Map<string, LiveRobot>();
  readonly missions = new Map<string, MissionDelta>();
  version = 0;

  apply(message: LiveMessage): void {
    if (message.type === "snapshot") {
      this.robots.clear();
      for (const robot of message.robots) this.robots.set(robotKey(robot), robot);
      for (const mission of message.missions ?? []) this.missions.set(mission.id, mission);
    } else {
      for (const delta of message.robots ?? []) {
        const key = robotKey(delta);
        const known = this.robots.get(key);
        if (known) this.robots.set(key, { ...known, ...delta });
        else if (isComplete(delta)) this.robots.set(key, delta);
      }
      for (const key of message.removed ?? []) this.robots.delete(key);
      for (const mission of message.missions ?? []) {
        this.missions.set(mission.id, { ...this.missions.get(mission.id), ...mission });
      }
    }
    this.version += 1;
  }
}

function isComplete(delta: RobotDelta): delta is LiveRobot {
  return typeof delta.online === "boolean" && "pose" in delta;
}
