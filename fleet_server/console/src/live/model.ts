// The console's picture of the live fleet, and the messages that change it.
//
// Live stream protocol (`WebSocket /api/v1/live`, fleet_server/live/protocol.py):
//   client → server: {"type": "auth", "token": "<bearer>"} first (again whenever the token
//                    is renewed), then {"type": "subscribe", "sites": ["clinic", …]};
//   server → client: {"type": "ready", "user": …}; per subscribed site
//                    {"type": "snapshot", "site": id, "robots": [entry…], "missions": […],
//                    "alarms": […]}; then {"type": "delta", "seq": n, "robots": […],
//                    "missions": […], "alarms": […], "schedules": […]} with complete entries
//                    (never patches); {"type": "error", "field", "message"}.
// A robot entry (fleet_server/live/entries.py) is turned into a LiveRobot here, so the
// pages see one shape whether the data came from the stream or from GET /api/v1/robots.
// A delta whose seq does not follow the last one means frames were lost: reconnect.

import type { Pose, Robot } from "../api/types";

export interface RobotError {
  type: string;
  level: string;
  description?: string | null;
}

export interface LiveRobot {
  manufacturer: string;
  serial_number: string;
  online: boolean;
  pose: Pose | null;
  battery_charge: number | null;
  operating_mode: string | null;
  last_seen: string | null;
  site_id?: string | null;
  kind?: string | null;
  charging?: boolean;
  driving?: boolean;
  mission_id?: string | null;
  errors?: RobotError[];
}

export type RobotDelta = Partial<LiveRobot> & Pick<LiveRobot, "manufacturer" | "serial_number">;

export interface MissionDelta {
  id: string;
  state?: string;
  robot?: string | null;
  [field: string]: unknown;
}

export interface SnapshotMessage {
  type: "snapshot";
  /** The site this snapshot covers; absent: the whole fleet (polling). */
  site?: string;
  seq?: number;
  robots: LiveRobot[];
  missions?: MissionDelta[];
  alarms?: unknown[];
}

export interface DeltaMessage {
  type: "delta";
  seq: number;
  robots?: RobotDelta[];
  removed?: string[];
  missions?: MissionDelta[];
  alarms?: unknown[];
}

export type LiveMessage = SnapshotMessage | DeltaMessage;

export type RobotStatus = "offline" | "error" | "charging" | "busy" | "idle";

/** `manufacturer/serial`: a robot's identity (VDA 5050). */
export function robotKey(robot: { manufacturer: string; serial_number: string }): string {
  return `${robot.manufacturer}/${robot.serial_number}`;
}

const LOW_BATTERY_PERCENT = 20;

/** What colour a robot is drawn in: the worst of its conditions. */
export function robotStatus(robot: LiveRobot): RobotStatus {
  if (!robot.online) return "offline";
  if (robot.errors?.some((e) => e.level === "FATAL")) return "error";
  if (robot.charging) return "charging";
  if (robot.mission_id || robot.driving) return "busy";
  return "idle";
}

export function isBatteryLow(robot: LiveRobot): boolean {
  return robot.battery_charge !== null && robot.battery_charge !== undefined && robot.battery_charge < LOW_BATTERY_PERCENT;
}

type Json = Record<string, unknown>;

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** A robot entry of the stream as a LiveRobot; null when it lacks its identity. */
export function robotFromEntry(entry: unknown): LiveRobot | null {
  if (typeof entry !== "object" || entry === null) return null;
  const e = entry as Json;
  const manufacturer = str(e.manufacturer);
  const serial = str(e.serial_number);
  if (manufacturer === null || serial === null) return null;
  const pose = typeof e.pose === "object" && e.pose !== null ? (e.pose as Json) : null;
  const x = num(pose?.x);
  const y = num(pose?.y);
  return {
    manufacturer,
    serial_number: serial,
    online: e.online === true,
    pose:
      pose && x !== null && y !== null
        ? { x, y, theta: num(pose.theta) ?? 0, map_id: str(pose.map_id) ?? "" }
        : null,
    battery_charge: num(e.battery) ?? num(e.battery_charge),
    operating_mode: str(e.operating_mode),
    last_seen: str(e.last_seen),
    site_id: str(e.site) ?? str(e.site_id),
    charging: e.charging === true,
    driving: e.driving === true,
    // An order in progress is the robot working on a mission.
    mission_id: str(e.order_id) ?? str(e.mission_id),
    errors: Array.isArray(e.errors)
      ? (e.errors as Json[]).map((x) => ({ type: str(x.type) ?? "", level: str(x.level) ?? "" }))
      : [],
  };
}

/** A robot from GET /api/v1/robots in the stream's shape. */
export function robotFromApi(robot: Robot): LiveRobot {
  return {
    manufacturer: robot.manufacturer,
    serial_number: robot.serial_number,
    online: robot.online,
    pose: robot.pose,
    battery_charge: robot.battery_charge,
    operating_mode: robot.operating_mode,
    last_seen: robot.last_seen,
    // Older servers answer without these; the stream's shape has them optional too.
    site_id: robot.site_id ?? null,
    kind: robot.kind ?? null,
    errors: (robot.errors ?? []).map((e) => ({ type: e.error_type, level: e.error_level, description: e.description })),
  };
}

function robotsOf(list: unknown): LiveRobot[] {
  return Array.isArray(list) ? list.map(robotFromEntry).filter((r): r is LiveRobot => r !== null) : [];
}

function missionsOf(list: unknown): MissionDelta[] {
  return Array.isArray(list) ? (list as MissionDelta[]).filter((m) => typeof m?.id === "string") : [];
}

export type ControlFrame = { type: "ready"; user: string } | { type: "error"; field: string; message: string };

/** Parse one stream frame: a fleet message, a control frame, or null for anything else. */
export function parseLiveFrame(text: string): LiveMessage | ControlFrame | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const msg = value as Json;
  switch (msg.type) {
    case "ready":
      return { type: "ready", user: str(msg.user) ?? "" };
    case "error":
      return { type: "error", field: str(msg.field) ?? "", message: str(msg.message) ?? "" };
    case "snapshot": {
      if (!Array.isArray(msg.robots)) return null;
      const snapshot: SnapshotMessage = { type: "snapshot", robots: robotsOf(msg.robots), missions: missionsOf(msg.missions) };
      const site = str(msg.site);
      if (site !== null) snapshot.site = site;
      if (num(msg.seq) !== null) snapshot.seq = num(msg.seq) as number;
      if (Array.isArray(msg.alarms)) snapshot.alarms = msg.alarms;
      return snapshot;
    }
    case "delta": {
      const seq = num(msg.seq);
      if (seq === null) return null;
      const delta: DeltaMessage = { type: "delta", seq };
      if (Array.isArray(msg.robots)) delta.robots = robotsOf(msg.robots);
      if (Array.isArray(msg.removed)) delta.removed = (msg.removed as unknown[]).filter((k): k is string => typeof k === "string");
      if (Array.isArray(msg.missions)) delta.missions = missionsOf(msg.missions);
      if (Array.isArray(msg.alarms)) delta.alarms = msg.alarms;
      return delta;
    }
    default:
      return null;
  }
}

/** A fleet message from one frame (control frames and junk: null). */
export function parseLiveMessage(text: string): LiveMessage | null {
  const frame = parseLiveFrame(text);
  return frame && (frame.type === "snapshot" || frame.type === "delta") ? frame : null;
}
