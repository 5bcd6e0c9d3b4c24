// Deltas can arrive far faster than the screen redraws (500 robots × several updates a
// second). They are merged per robot as they come and applied once per frame.

import { robotKey, type DeltaMessage, type LiveMessage, type LiveRobot, type MissionDelta, type RobotDelta } from "./model";

/**
 * Merges the deltas that arrive between two frames into one. Snapshots keep their place:
 * the deltas before a snapshot are emitted before it, so per-site snapshots (the stream
 * sends one per subscribed site) never lose another site's changes.
 */
export class DeltaCoalescer {
  private out: LiveMessage[] = [];
  private robots = new Map<string, RobotDelta>();
  private removed = new Set<string>();
  private missions = new Map<string, MissionDelta>();
  private alarms: unknown[] = [];
  private lastSeq: number | null = null;
  private gap = false;

  /** Take in one message. */
  push(message: LiveMessage): void {
    if (message.type === "snapshot") {
      if (message.site === undefined) {
        // A whole-fleet snapshot makes everything before it moot.
        this.out = [];
        this.clearPending();
      } else {
        this.closePending();
      }
      this.out.push(message);
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

  /** True when a sequence number was skipped: the client should reconnect for snapshots. */
  get sawGap(): boolean {
    return this.gap;
  }

  /** Forget the sequence (a new connection numbers its deltas afresh). */
  resetSequence(): void {
    this.lastSeq = null;
    this.gap = false;
  }

  /** Whether anything waits to be applied. */
  get pending(): boolean {
    return this.out.length > 0 || this.robots.size > 0 || this.removed.size > 0 || this.missions.size > 0 || this.alarms.length > 0;
  }

  /** What arrived since the last call: snapshots in order, deltas merged between them. */
  drain(): LiveMessage[] {
    this.closePending();
    const out = this.out;
    this.out = [];
    return out;
  }

  private closePending(): void {
    if (!(this.robots.size || this.removed.size || this.missions.size || this.alarms.length)) return;
    const delta: DeltaMessage = { type: "delta", seq: this.lastSeq ?? 0 };
    if (this.robots.size) delta.robots = [...this.robots.values()];
    if (this.removed.size) delta.removed = [...this.removed];
    if (this.missions.size) delta.missions = [...this.missions.values()];
    if (this.alarms.length) delta.alarms = this.alarms;
    this.out.push(delta);
    this.clearPending();
  }

  private clearPending(): void {
    this.robots = new Map();
    this.removed = new Set();
    this.missions = new Map();
    this.alarms = [];
  }
}

/** The fleet as last heard, keyed by robotKey. */
export class LiveFleetStore {
  readonly robots = new Map<string, LiveRobot>();
  readonly missions = new Map<string, MissionDelta>();
  version = 0;

  apply(message: LiveMessage): void {
    if (message.type === "snapshot") {
      const site = message.site;
      if (site === undefined) this.robots.clear();
      else for (const [key, robot] of this.robots) if (robot.site_id === site) this.robots.delete(key);
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
