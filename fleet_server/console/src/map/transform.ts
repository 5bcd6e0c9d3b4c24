// Coordinates of the site view. Three frames:
// - level metres (x east-ish, y north-ish, right-handed, as in missions/sites/model.py);
// - image pixels of the level's floor plan (u right, v down from the top-left corner);
// - screen (CSS) pixels of the canvas, a pan and zoom of image pixels.
// FloorPlan (missions/sites/model.py): (x, y) = translation + R(rotation) · (s·u, −s·v).

import type { FloorPlan, Level, Point } from "../api/types";

export interface PlanFrame {
  scale_m_per_px: number;
  rotation_rad: number;
  translation_m: Point;
}

/** Image pixel → level metres. */
export function pixelToLevel(frame: PlanFrame, u: number, v: number): Point {
  const c = Math.cos(frame.rotation_rad);
  const s = Math.sin(frame.rotation_rad);
  const px = frame.scale_m_per_px * u;
  const py = -frame.scale_m_per_px * v;
  return [frame.translation_m[0] + c * px - s * py, frame.translation_m[1] + s * px + c * py];
}

/** Level metres → image pixel. */
export function levelToPixel(frame: PlanFrame, x: number, y: number): Point {
  const c = Math.cos(frame.rotation_rad);
  const s = Math.sin(frame.rotation_rad);
  const dx = x - frame.translation_m[0];
  const dy = y - frame.translation_m[1];
  const px = c * dx + s * dy;
  const py = -s * dx + c * dy;
  return [px / frame.scale_m_per_px, -py / frame.scale_m_per_px];
}

/**
 * A robot's heading (radians, counter-clockwise from level x) as a canvas angle
 * (clockwise from image u, since image v points down): the plan's rotation is removed
 * and the sign flips.
 */
export function headingToPixelAngle(frame: PlanFrame, theta: number): number {
  return -(theta - frame.rotation_rad);
}

export interface Bounds {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** Bounds of a set of points (null for none). */
export function boundsOf(points: Iterable<Point>): Bounds | null {
  let b: Bounds | null = null;
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    if (b === null) b = { minX: x, minY: y, maxX: x, maxY: y };
    else {
      b.minX = Math.min(b.minX, x);
      b.minY = Math.min(b.minY, y);
      b.maxX = Math.max(b.maxX, x);
      b.maxY = Math.max(b.maxY, y);
    }
  }
  return b;
}

function levelPoints(level: Level): Point[] {
  const points: Point[] = level.waypoints.map((w) => [w.x, w.y] as Point);
  for (const zone of level.zones) points.push(...zone.polygon);
  for (const wall of level.walls) points.push(wall.start, wall.end);
  for (const floor of level.floors) points.push(...floor);
  return points;
}

/** A level's drawing frame and image size: its floor plan's, or one made for its graph. */
export interface LevelCanvasFrame {
  frame: PlanFrame;
  widthPx: number;
  heightPx: number;
  hasImage: boolean;
}

const SYNTHETIC_M_PER_PX = 0.05;
const SYNTHETIC_MARGIN_M = 2;

/**
 * The frame a level is drawn in. With a floor plan of known size this is the plan's; a
 * level without one (or without a size) gets a north-up frame at 5 cm/px around its
 * graph, zones and walls, so it can still be drawn and clicked.
 */
export function levelCanvasFrame(level: Level, imageSize?: { width: number; height: number }): LevelCanvasFrame {
  const plan: FloorPlan | null = level.floor_plan;
  const width = imageSize?.width ?? plan?.width_px ?? null;
  const height = imageSize?.height ?? plan?.height_px ?? null;
  if (plan && width && height) {
    return { frame: plan, widthPx: width, heightPx: height, hasImage: true };
  }
  const b = boundsOf(levelPoints(level)) ?? { minX: 0, minY: 0, maxX: 10, maxY: 10 };
  const frame: PlanFrame = {
    scale_m_per_px: plan?.scale_m_per_px ?? SYNTHETIC_M_PER_PX,
    rotation_rad: 0,
    translation_m: [b.minX - SYNTHETIC_MARGIN_M, b.maxY + SYNTHETIC_MARGIN_M],
  };
  const widthPx = Math.ceil((b.maxX - b.minX + 2 * SYNTHETIC_MARGIN_M) / frame.scale_m_per_px);
  const heightPx = Math.ceil((b.maxY - b.minY + 2 * SYNTHETIC_MARGIN_M) / frame.scale_m_per_px);
  return { frame, widthPx, heightPx, hasImage: false };
}

/** Pan and zoom: screen = image · zoom + offset. */
export interface View {
  zoom: number;
  offsetX: number;
  offsetY: number;
}

/** The view that fits an image of the given size centred into a viewport. */
export function fitView(imageW: number, imageH: number, viewW: number, viewH: number, margin = 16): View {
  const zoom = Math.max(
    1e-6,
    Math.min((viewW - 2 * margin) / Math.max(imageW, 1), (viewH - 2 * margin) / Math.max(imageH, 1)),
  );
  return { zoom, offsetX: (viewW - imageW * zoom) / 2, offsetY: (viewH - imageH * zoom) / 2 };
}

export function imageToScreen(view: View, u: number, v: number): Point {
  return [u * view.zoom + view.offsetX, v * view.zoom + view.offsetY];
}

export function screenToImage(view: View, sx: number, sy: number): Point {
  return [(sx - view.offsetX) / view.zoom, (sy - view.offsetY) / view.zoom];
}

/** Zoom by `factor` keeping the screen point (sx, sy) fixed; zoom stays within limits. */
export function zoomAt(view: View, factor: number, sx: number, sy: number, min = 0.02, max = 40): View {
  const zoom = Math.min(max, Math.max(min, view.zoom * factor));
  const [u, v] = screenToImage(view, sx, sy);
  return { zoom, offsetX: sx - u * zoom, offsetY: sy - v * zoom };
}

/** Level metres → screen pixels, through the frame and the view. */
export function levelToScreen(frame: PlanFrame, view: View, x: number, y: number): Point {
  const [u, v] = levelToPixel(frame, x, y);
  return imageToScreen(view, u, v);
}

/** Screen pixels → level metres. */
export function screenToLevel(frame: PlanFrame, view: View, sx: number, sy: number): Point {
  const [u, v] = screenToImage(view, sx, sy);
  return pixelToLevel(frame, u, v);
}

/** Metres per screen pixel at the current zoom. */
export function metresPerScreenPx(frame: PlanFrame, view: View): number {
  return frame.scale_m_per_px / view.zoom;
}

/** The nearest of `items` to (x, y) within `maxDistance` (same units), or null. */
export function nearest<T extends { x: number; y: number }>(
  items: Iterable<T>,
  x: number,
  y: number,
  maxDistance: number,
): T | null {
  let best: T | null = null;
  let bestD2 = maxDistance * maxDistance;
  for (const item of items) {
    const d2 = (item.x - x) ** 2 + (item.y - y) ** 2;
    if (d2 <= bestD2) {
      best = item;
      bestD2 = d2;
    }
  }
  return best;
}

/** A "nice" scale-bar length (1, 2 or 5 × 10^n) no longer than `maxMetres`. */
export function niceScaleLength(maxMetres: number): number {
  if (!(maxMetres > 0) || !Number.isFinite(maxMetres)) return 0;
  const power = 10 ** Math.floor(Math.log10(maxMetres));
  for (const step of [5, 2, 1]) {
    if (step * power <= maxMetres) return step * power;
  }
  return power;
}

/** Point-in-polygon (even-odd), for clicking a zone. */
export function pointInPolygon(x: number, y: number, polygon: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i] as Point;
    const [xj, yj] = polygon[j] as Point;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
