// Names for the API's shapes. Most come from the generated schema; the site graph is
// served as free-form JSON (`GET /sites/{id}/graph`), so its shape is declared here after
// missions/sites/model.py.

import type { components } from "./schema.gen";

type Schemas = components["schemas"];

export type Site = Schemas["SitePublic"];
export type Robot = Schemas["RobotPublic"];
export type Pose = Schemas["PosePublic"];
export type Mission = Schemas["MissionPublic"];
export type MissionPage = Schemas["MissionPage"];
export type MissionEvent = Schemas["MissionEventPublic"];
export type MissionState = Schemas["MissionState"];
export type User = Schemas["UserPublic"];
export type RoleGrant = Schemas["RoleGrantModel"];
export type Role = RoleGrant["role"];
export type TokenResponse = Schemas["TokenResponse"];
export type RoutePlan = Schemas["RoutePublic"];
export type ConsoleConfig = Schemas["ConsoleConfigPublic"];

export type Point = [number, number];

export interface FloorPlan {
  image: string;
  width_px: number | null;
  height_px: number | null;
  scale_m_per_px: number;
  rotation_rad: number;
  translation_m: Point;
}

export interface Waypoint {
  id: string;
  name: string;
  level: string;
  x: number;
  y: number;
  is_charger: boolean;
  is_parking_spot: boolean;
  is_holding_point: boolean;
  dock_name: string;
}

export interface Lane {
  start: string;
  end: string;
  bidirectional: boolean;
  speed_limit_m_s: number | null;
  door: string;
  closed: boolean;
}

export type ZoneKind = "restricted" | "keep_out" | "quiet" | "uv_allowed";

export interface Zone {
  name: string;
  kind: ZoneKind;
  polygon: Point[];
  holes: Point[][];
  robot_kinds: string[];
}

export interface Door {
  name: string;
  kind: string;
  start: Point;
  end: Point;
}

export interface Wall {
  start: Point;
  end: Point;
}

export interface Level {
  name: string;
  elevation_m: number;
  floor_plan: FloorPlan | null;
  waypoints: Waypoint[];
  lanes: Lane[];
  zones: Zone[];
  doors: Door[];
  walls: Wall[];
  floors: Point[][];
}

export interface Lift {
  name: string;
  levels: string[];
  x: number;
  y: number;
  yaw_rad: number;
  cabin_width_m: number;
  cabin_depth_m: number;
  waypoints: Record<string, string[]>;
}

export interface SiteGraph {
  name: string;
  kind: string;
  levels: Level[];
  lifts: Lift[];
}
