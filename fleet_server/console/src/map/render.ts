// Canvas drawing of a site level: the static layer (floor plan, zones, graph, doors,
// chargers, lifts) is drawn once per view change into an offscreen canvas; robots are
// drawn over it every frame, which keeps 500 robots smooth.

import type { Level, Lift, Point, Zone } from "../api/types";
import type { RobotStatus } from "../live/model";
import { headingToPixelAngle, levelToPixel, type PlanFrame, type View } from "./transform";

export const STATUS_COLOURS: Record<RobotStatus, string> = {
  idle: "#2da44e",
  busy: "#1f6feb",
  charging: "#bf8700",
  error: "#cf222e",
  offline: "#8c959f",
};

const ZONE_COLOURS: Record<Zone["kind"], string> = {
  restricted: "rgba(207, 34, 46, 0.14)",
  keep_out: "rgba(130, 80, 223, 0.16)",
  quiet: "rgba(31, 111, 235, 0.10)",
  uv_allowed: "rgba(191, 135, 0, 0.14)",
};

export interface Layers {
  graph: boolean;
  zones: boolean;
  labels: boolean;
}

export interface StaticScene {
  level: Level;
  lifts: Lift[];
  frame: PlanFrame;
  image: CanvasImageSource | null;
  widthPx: number;
  heightPx: number;
  layers: Layers;
  /** Waypoint ids picked for the mission being prepared, in order. */
  picks: string[];
  pickedPoints: Point[];
  /** Waypoint ids of the selected robot's mission, drawn as its route. */
  route: string[];
}

function toScreen(frame: PlanFrame, view: View, x: number, y: number): Point {
  const [u, v] = levelToPixel(frame, x, y);
  return [u * view.zoom + view.offsetX, v * view.zoom + view.offsetY];
}

function polygonPath(ctx: CanvasRenderingContext2D, frame: PlanFrame, view: View, points: readonly Point[]): void {
  points.forEach(([x, y], i) => {
    const [sx, sy] = toScreen(frame, view, x, y);
    if (i === 0) ctx.moveTo(sx, sy);
    else ctx.lineTo(sx, sy);
  });
  ctx.closePath();
}

/** Draw the level (everything but robots) for the given view. */
export function drawStatic(ctx: CanvasRenderingContext2D, scene: StaticScene, view: View, width: number, height: number): void {
  const { frame, level } = scene;
  ctx.save();
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "#f6f8fa";
  ctx.fillRect(0, 0, width, height);
  // The plan image in its own pixel frame: the view is a pure scale and shift of it.
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(view.offsetX, view.offsetY, scene.widthPx * view.zoom, scene.heightPx * view.zoom);
  if (scene.image) {
    ctx.imageSmoothingEnabled = view.zoom < 2;
    ctx.drawImage(scene.image, view.offsetX, view.offsetY, scene.widthPx * view.zoom, scene.heightPx * view.zoom);
  }
  if (!scene.image) {
    ctx.strokeStyle = "#57606a";
    ctx.lineWidth = 2;
    for (const wall of level.walls) {
      const a = toScreen(frame, view, ...wall.start);
      const b = toScreen(frame, view, ...wall.end);
      ctx.beginPath();
      ctx.moveTo(...a);
      ctx.lineTo(...b);
      ctx.stroke();
    }
  }
  if (scene.layers.zones) {
    for (const zone of level.zones) {
      ctx.beginPath();
      polygonPath(ctx, frame, view, zone.polygon);
      for (const hole of zone.holes) polygonPath(ctx, frame, view, hole);
      ctx.fillStyle = ZONE_COLOURS[zone.kind] ?? "rgba(0,0,0,0.08)";
      ctx.fill("evenodd");
      ctx.strokeStyle = "rgba(87, 96, 106, 0.6)";
      ctx.lineWidth = 1;
      ctx.stroke();
      if (scene.layers.labels) {
        const [cx, cy] = centroid(zone.polygon);
        const [sx, sy] = toScreen(frame, view, cx, cy);
        ctx.fillStyle = "#57606a";
        ctx.font = "11px sans-serif";
        ctx.fillText(zone.name, sx, sy);
      }
    }
  }
  const byId = new Map(level.waypoints.map((w) => [w.id, w]));
  if (scene.layers.graph) {
    ctx.lineWidth = 1.5;
    for (const lane of level.lanes) {
      const a = byId.get(lane.start);
      const b = byId.get(lane.end);
      if (!a || !b) continue;
      ctx.strokeStyle = lane.closed ? "rgba(207, 34, 46, 0.5)" : "rgba(31, 111, 235, 0.35)";
      const [ax, ay] = toScreen(frame, view, a.x, a.y);
      const [bx, by] = toScreen(frame, view, b.x, b.y);
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      ctx.stroke();
    }
  }
  ctx.strokeStyle = "#8250df";
  ctx.lineWidth = 3;
  for (const door of level.doors) {
    ctx.beginPath();
    ctx.moveTo(...toScreen(frame, view, ...door.start));
    ctx.lineTo(...toScreen(frame, view, ...door.end));
    ctx.stroke();
  }
  for (const lift of scene.lifts) {
    if (!lift.levels.includes(level.name)) continue;
    drawLift(ctx, frame, view, lift);
  }
  for (const wp of level.waypoints) {
    const [sx, sy] = toScreen(frame, view, wp.x, wp.y);
    if (wp.is_charger) {
      ctx.fillStyle = "#bf8700";
      ctx.fillRect(sx - 5, sy - 5, 10, 10);
      ctx.fillStyle = "#fff";
      ctx.font = "bold 9px sans-serif";
      ctx.fillText("⚡", sx - 4, sy + 3);
    } else if (scene.layers.graph || wp.name) {
      ctx.beginPath();
      ctx.arc(sx, sy, wp.name ? 3.5 : 2, 0, 2 * Math.PI);
      ctx.fillStyle = wp.name ? "#0969da" : "rgba(9, 105, 218, 0.5)";
      ctx.fill();
    }
    if (scene.layers.labels && wp.name && view.zoom > 0.35) {
      ctx.fillStyle = "#24292f";
      ctx.font = "10px sans-serif";
      ctx.fillText(wp.name, sx + 5, sy - 4);
    }
  }
  drawRoute(ctx, scene, view, byId);
  drawPicks(ctx, scene, view, byId);
  ctx.restore();
}

function drawPicks(
  ctx: CanvasRenderingContext2D,
  scene: StaticScene,
  view: View,
  byId: Map<string, { x: number; y: number }>,
): void {
  const points: Point[] = [];
  for (const id of scene.picks) {
    const wp = byId.get(id);
    if (wp) points.push([wp.x, wp.y]);
  }
  points.push(...scene.pickedPoints);
  if (points.length === 0) return;
  ctx.strokeStyle = "#fb8500";
  ctx.lineWidth = 2;
  ctx.setLineDash([6, 4]);
  ctx.beginPath();
  points.forEach(([x, y], i) => {
    const [sx, sy] = toScreen(scene.frame, view, x, y);
    if (i === 0) ctx.moveTo(sx, sy);
    else ctx.lineTo(sx, sy);
  });
  ctx.stroke();
  ctx.setLineDash([]);
  points.forEach(([x, y], i) => {
    const [sx, sy] = toScreen(scene.frame, view, x, y);
    ctx.beginPath();
    ctx.arc(sx, sy, 9, 0, 2 * Math.PI);
    ctx.fillStyle = "#fb8500";
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.font = "bold 11px sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(String(i + 1), sx, sy + 4);
    ctx.textAlign = "start";
  });
}

function drawRoute(
  ctx: CanvasRenderingContext2D,
  scene: StaticScene,
  view: View,
  byId: Map<string, { x: number; y: number }>,
): void {
  const points = scene.route.flatMap((id) => {
    const wp = byId.get(id);
    return wp ? [toScreen(scene.frame, view, wp.x, wp.y)] : [];
  });
  if (points.length === 0) return;
  ctx.strokeStyle = "rgba(130, 80, 223, 0.85)";
  ctx.lineWidth = 3;
  ctx.beginPath();
  points.forEach(([sx, sy], i) => (i === 0 ? ctx.moveTo(sx, sy) : ctx.lineTo(sx, sy)));
  ctx.stroke();
  for (const [sx, sy] of points) {
    ctx.beginPath();
    ctx.arc(sx, sy, 6, 0, 2 * Math.PI);
    ctx.fillStyle = "#8250df";
    ctx.fill();
  }
}

function drawLift(ctx: CanvasRenderingContext2D, frame: PlanFrame, view: View, lift: Lift): void {
  const c = Math.cos(lift.yaw_rad);
  const s = Math.sin(lift.yaw_rad);
  const hw = lift.cabin_width_m / 2;
  const hd = lift.cabin_depth_m / 2;
  const corners: Point[] = [
    [-hd, -hw],
    [hd, -hw],
    [hd, hw],
    [-hd, hw],
  ].map(([dx, dy]) => [lift.x + c * (dx as number) - s * (dy as number), lift.y + s * (dx as number) + c * (dy as number)]);
  ctx.beginPath();
  polygonPath(ctx, frame, view, corners);
  ctx.fillStyle = "rgba(36, 41, 47, 0.15)";
  ctx.fill();
  ctx.strokeStyle = "#24292f";
  ctx.lineWidth = 1.5;
  ctx.stroke();
  const [sx, sy] = toScreen(frame, view, lift.x, lift.y);
  ctx.fillStyle = "#24292f";
  ctx.font = "bold 10px sans-serif";
  ctx.textAlign = "center";
  ctx.fillText("⇅", sx, sy + 4);
  ctx.textAlign = "start";
}

function centroid(points: readonly Point[]): Point {
  let x = 0;
  let y = 0;
  for (const [px, py] of points) {
    x += px;
    y += py;
  }
  return [x / Math.max(points.length, 1), y / Math.max(points.length, 1)];
}

export interface RobotGlyph {
  x: number;
  y: number;
  theta: number;
  status: RobotStatus;
  battery: number | null;
  kind: string | null;
  selected: boolean;
}

const KIND_LETTERS: Record<string, string> = { patrol: "P", uv_disinfection: "U", spray_disinfection: "S", guidance: "G", reception: "R" };

/** Draw robots over the static layer; returns nothing, allocates nothing per robot. */
export function drawRobots(ctx: CanvasRenderingContext2D, frame: PlanFrame, view: View, robots: readonly RobotGlyph[]): void {
  const radius = Math.max(7, Math.min(14, 0.35 / (frame.scale_m_per_px / view.zoom)));
  ctx.lineWidth = 1.5;
  ctx.font = `bold ${Math.round(radius)}px sans-serif`;
  ctx.textAlign = "center";
  for (const r of robots) {
    const [u, v] = levelToPixel(frame, r.x, r.y);
    const sx = u * view.zoom + view.offsetX;
    const sy = v * view.zoom + view.offsetY;
    const angle = headingToPixelAngle(frame, r.theta);
    ctx.fillStyle = STATUS_COLOURS[r.status];
    ctx.beginPath();
    // A disc with a nose that points where the robot heads.
    ctx.arc(sx, sy, radius, angle + 0.6, angle - 0.6 + 2 * Math.PI);
    ctx.lineTo(sx + Math.cos(angle) * radius * 1.7, sy + Math.sin(angle) * radius * 1.7);
    ctx.closePath();
    ctx.fill();
    ctx.strokeStyle = r.selected ? "#fb8500" : "#ffffff";
    ctx.lineWidth = r.selected ? 3 : 1.5;
    ctx.stroke();
    const letter = r.kind ? KIND_LETTERS[r.kind] : undefined;
    if (letter && radius >= 7) {
      ctx.fillStyle = "#fff";
      ctx.fillText(letter, sx, sy + radius * 0.35);
    }
    if (r.battery !== null) {
      const w = radius * 2;
      const fill = Math.max(0, Math.min(1, r.battery / 100));
      ctx.fillStyle = "rgba(0,0,0,0.35)";
      ctx.fillRect(sx - radius, sy + radius + 3, w, 3);
      ctx.fillStyle = r.battery < 20 ? "#cf222e" : "#2da44e";
      ctx.fillRect(sx - radius, sy + radius + 3, w * fill, 3);
    }
  }
  ctx.textAlign = "start";
}

/** A scale bar in the bottom-left corner. */
export function drawScaleBar(ctx: CanvasRenderingContext2D, metresPerPx: number, lengthM: number, height: number): void {
  if (!(lengthM > 0)) return;
  const px = lengthM / metresPerPx;
  const x = 16;
  const y = height - 18;
  ctx.fillStyle = "rgba(255,255,255,0.85)";
  ctx.fillRect(x - 6, y - 16, px + 48, 26);
  ctx.strokeStyle = "#24292f";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x, y - 4);
  ctx.lineTo(x, y);
  ctx.lineTo(x + px, y);
  ctx.lineTo(x + px, y - 4);
  ctx.stroke();
  ctx.fillStyle = "#24292f";
  ctx.font = "11px sans-serif";
  ctx.fillText(lengthM >= 1000 ? `${lengthM / 1000} km` : `${lengthM} m`, x + px + 6, y);
}
