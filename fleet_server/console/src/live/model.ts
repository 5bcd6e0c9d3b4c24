// The console's picture of the live fleet, and the messages that change it.
//
// ASSUMED live stream protocol (`GET /api/v1/live`, WebSocket; being built server-side):
//   client → server, first frame:  {"type": "auth", "access_token": "<bearer token>"}
//   server → client:               {"type": "snapshot", "seq": n, "robots": [LiveRobot…],
//                                   "missions": [MissionDelta…]?, "alarms": [unknown…]?}
//                                  {"type": "delta", "seq": n+1, "robots": [partial LiveRobot
//                                   with manufacturer and serial_number], "removed": ["m/s"]?,
//                                   "missions": [MissionDelta…]?, "alarms": [unknown…]?}
// Robots carry the fields of GET /api/v1/robots plus optional extras (site_id, kind,
// charging, driving, mission_id, errors). A delta whose seq does not follow the last one
// means messages were lost: the client asks again from a fresh snapshot.

import type { Robot } from "../api/types";

export interface RobotError {
  type: string;
  level: string;
  description?: string | null;
}

export interface LiveRobot extends Robot {
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
  seq: number;
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

/** Parse one stream frame; null for anything that is not a message of the protocol. */
export function parseLiveMessage(text: string): LiveMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const msg = value as Record<string, unknown>;
  if (typeof msg.seq !== "number") return null;
  if (msg.type === "snapshot" && Array.isArray(msg.robots)) return value as SnapshotMessage;
  if (msg.type === "delta") return value as DeltaMessage;
  return null;
}
