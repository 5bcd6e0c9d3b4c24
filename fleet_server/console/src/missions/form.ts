// Dispatch forms → mission bodies for POST /api/v1/missions (missions/types.py). The form
// checks only what it must to build a body; the server validates and its field errors
// are shown next to the fields (see api/problem.ts).

import type { FieldError } from "../api/problem";
import type { Organism } from "./uv";

export type Priority = "low" | "normal" | "high" | "emergency";
export type CheckKind = "door_closed" | "no_person" | "smoke_absent" | "no_intruder";

export interface CheckpointInput {
  waypoint: string;
  /** Overrides the mission's dwell; null: use it. */
  dwellS: number | null;
}

export interface PatrolForm {
  kind: "patrol";
  site: string;
  name: string;
  priority: Priority;
  mode: "checkpoints" | "zone";
  checkpoints: CheckpointInput[];
  zone: string;
  rounds: number | "until_stopped";
  dwellS: number;
  checks: CheckKind[];
  preferredRobot: string;
}

export type TargetInput =
  | { type: "waypoint"; waypoint: string }
  | { type: "room"; room: string }
  | { type: "point"; x: number; y: number; level: string };

export interface DisinfectionForm {
  kind: "disinfection";
  site: string;
  name: string;
  priority: Priority;
  method: "uv" | "spray";
  targets: TargetInput[];
  organism: Organism | "";
  doseMjCm2: number | null;
  distanceM: number | null;
  agent: string;
  rateMlPerM3: number | null;
  roomVolumeM3: number | null;
  contactTimeS: number | null;
  reEntryTimeS: number | null;
  preferredRobot: string;
}

export interface GuidanceForm {
  kind: "guidance";
  site: string;
  name: string;
  priority: Priority;
  from: string;
  to: string;
  language: "zh-CN" | "en";
  waitTimeoutS: number | null;
  maxSpeedMS: number | null;
  preferredRobot: string;
}

export type MissionForm = PatrolForm | DisinfectionForm | GuidanceForm;

export type MissionBody = Record<string, unknown>;

export interface BuiltBody {
  body: MissionBody | null;
  /** Problems found before sending, with the same field paths the server uses. */
  errors: FieldError[];
}

function common(form: MissionForm): MissionBody {
  const body: MissionBody = { kind: form.kind, site: form.site, priority: form.priority };
  if (form.name.trim()) body.name = form.name.trim();
  if (form.preferredRobot.trim()) body.preferred_robot = form.preferredRobot.trim();
  return body;
}

function setNumber(body: MissionBody, key: string, value: number | null, errors: FieldError[]): void {
  if (value === null) return;
  if (!Number.isFinite(value)) {
    errors.push({ field: key, message: "not a number" });
    return;
  }
  body[key] = value;
}

function patrolBody(form: PatrolForm, errors: FieldError[]): MissionBody {
  const body = common(form);
  if (form.mode === "zone") {
    if (!form.zone) errors.push({ field: "zone", message: "choose a zone" });
    body.zone = form.zone;
  } else {
    if (form.checkpoints.length === 0) {
      errors.push({ field: "checkpoints", message: "pick at least one checkpoint on the map" });
    }
    body.checkpoints = form.checkpoints.map((cp, i) => {
      if (cp.dwellS === null) return cp.waypoint;
      if (!Number.isFinite(cp.dwellS)) errors.push({ field: `checkpoints.${i}.dwell_s`, message: "not a number" });
      return { waypoint: cp.waypoint, dwell_s: cp.dwellS };
    });
  }
  if (form.rounds !== "until_stopped" && !Number.isInteger(form.rounds)) {
    errors.push({ field: "rounds", message: "a whole number" });
  }
  body.rounds = form.rounds;
  setNumber(body, "dwell_s", form.dwellS, errors);
  if (form.checks.length) body.checks = [...form.checks];
  return body;
}

function targetBody(target: TargetInput): Record<string, unknown> {
  switch (target.type) {
    case "waypoint":
      return { waypoint: target.waypoint };
    case "room":
      return { room: target.room };
    case "point":
      return { x: round(target.x, 3), y: round(target.y, 3), level: target.level };
  }
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function disinfectionBody(form: DisinfectionForm, errors: FieldError[]): MissionBody {
  const body = common(form);
  body.method = form.method;
  if (form.targets.length === 0) errors.push({ field: "targets", message: "pick at least one point or room" });
  body.targets = form.targets.map(targetBody);
  if (form.method === "uv") {
    if (form.organism) body.organism = form.organism;
    setNumber(body, "target_dose_mj_cm2", form.doseMjCm2, errors);
    setNumber(body, "distance_m", form.distanceM, errors);
  } else {
    if (form.agent.trim()) body.agent = form.agent.trim();
    setNumber(body, "rate_ml_per_m3", form.rateMlPerM3, errors);
    setNumber(body, "room_volume_m3", form.roomVolumeM3, errors);
    setNumber(body, "contact_time_s", form.contactTimeS, errors);
    setNumber(body, "re_entry_time_s", form.reEntryTimeS, errors);
  }
  return body;
}

function guidanceBody(form: GuidanceForm, errors: FieldError[]): MissionBody {
  const body = common(form);
  if (!form.from) errors.push({ field: "from", message: "choose where to meet the person" });
  if (!form.to) errors.push({ field: "to", message: "choose the destination" });
  body.from = form.from;
  body.to = form.to;
  body.language = form.language;
  setNumber(body, "wait_for_person_timeout_s", form.waitTimeoutS, errors);
  setNumber(body, "max_speed_m_s", form.maxSpeedMS, errors);
  return body;
}

/** The request body for a form, or the errors that keep it from being sent. */
export function missionBody(form: MissionForm): BuiltBody {
  const errors: FieldError[] = [];
  if (!form.site) errors.push({ field: "site", message: "no site" });
  let body: MissionBody;
  switch (form.kind) {
    case "patrol":
      body = patrolBody(form, errors);
      break;
    case "disinfection":
      body = disinfectionBody(form, errors);
      break;
    case "guidance":
      body = guidanceBody(form, errors);
      break;
  }
  return { body: errors.length ? null : body, errors };
}

export function emptyPatrol(site: string): PatrolForm {
  return {
    kind: "patrol",
    site,
    name: "",
    priority: "normal",
    mode: "checkpoints",
    checkpoints: [],
    zone: "",
    rounds: 1,
    dwellS: 10,
    checks: [],
    preferredRobot: "",
  };
}

export function emptyDisinfection(site: string): DisinfectionForm {
  return {
    kind: "disinfection",
    site,
    name: "",
    priority: "normal",
    method: "uv",
    targets: [],
    organism: "",
    doseMjCm2: 10,
    distanceM: 1,
    agent: "",
    rateMlPerM3: null,
    roomVolumeM3: null,
    contactTimeS: null,
    reEntryTimeS: null,
    preferredRobot: "",
  };
}

export function emptyGuidance(site: string, language: "zh-CN" | "en"): GuidanceForm {
  return {
    kind: "guidance",
    site,
    name: "",
    priority: "normal",
    from: "",
    to: "",
    language,
    waitTimeoutS: null,
    maxSpeedMS: null,
    preferredRobot: "",
  };
}

/** The label a waypoint is dispatched by: its name, which the server resolves, else its id. */
export function waypointRef(wp: { id: string; name: string }): string {
  return wp.name || wp.id;
}

export interface MapPick {
  waypoint: { id: string; name: string } | null;
  point: [number, number];
  level: string;
}

/**
 * A click on the map applied to the form being prepared: patrol adds the waypoint as the
 * next checkpoint; disinfection adds the waypoint, or the floor point, as a target;
 * guidance sets "from", then "to", then starts over.
 */
export function applyPick(form: MissionForm, pick: MapPick): MissionForm {
  const ref = pick.waypoint ? waypointRef(pick.waypoint) : null;
  switch (form.kind) {
    case "patrol":
      if (!ref || form.mode === "zone") return form;
      return { ...form, checkpoints: [...form.checkpoints, { waypoint: ref, dwellS: null }] };
    case "disinfection":
      return {
        ...form,
        targets: [
          ...form.targets,
          ref ? { type: "waypoint", waypoint: ref } : { type: "point", x: pick.point[0], y: pick.point[1], level: pick.level },
        ],
      };
    case "guidance":
      if (!ref) return form;
      if (!form.from || form.to) return { ...form, from: ref, to: "" };
      if (ref === form.from) return form;
      return { ...form, to: ref };
  }
}
