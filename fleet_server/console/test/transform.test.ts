import { describe, expect, it } from "vitest";
import {
  fitView,
  headingToPixelAngle,
  levelCanvasFrame,
  levelToPixel,
  levelToScreen,
  nearest,
  niceScaleLength,
  pixelToLevel,
  pointInPolygon,
  screenToLevel,
  zoomAt,
} from "../src/map/transform";
import type { Level } from "../src/api/types";

const close = (a: number, b: number, eps = 1e-9) => expect(Math.abs(a - b)).toBeLessThan(eps);

describe("floor plan frame", () => {
  // Same figures as missions/sites/model.py FloorPlan: (x, y) = t + R(θ)·(s·u, −s·v).
  const frame = { scale_m_per_px: 0.05, rotation_rad: Math.PI / 2, translation_m: [10, 20] as [number, number] };

  it("maps pixels to level metres with rotation and the flipped image row axis", () => {
    const [x, y] = pixelToLevel(frame, 100, 40);
    // s·u = 5, −s·v = −2; rotated 90° CCW: (2, 5); plus translation.
    close(x, 12);
    close(y, 25);
  });

  it("round-trips level metres through pixels", () => {
    for (const [x, y] of [[0, 0], [12.5, -3.25], [-40, 77]] as const) {
      const [u, v] = levelToPixel(frame, x, y);
      const [x2, y2] = pixelToLevel(frame, u, v);
      close(x2, x);
      close(y2, y);
    }
  });

  it("turns a heading into a clockwise canvas angle without the plan's rotation", () => {
    close(headingToPixelAngle({ ...frame, rotation_rad: 0 }, Math.PI / 2), -Math.PI / 2);
    close(headingToPixelAngle(frame, Math.PI / 2), 0);
  });
});

describe("screen view", () => {
  const frame = { scale_m_per_px: 0.1, rotation_rad: 0.3, translation_m: [-5, 8] as [number, number] };

  it("fits the image centred and maps screen ↔ level both ways", () => {
    const view = fitView(1000, 500, 800, 600, 0);
    close(view.zoom, 0.8);
    close(view.offsetX, 0);
    close(view.offsetY, 100);
    const [sx, sy] = levelToScreen(frame, view, 3, 4);
    const [x, y] = screenToLevel(frame, view, sx, sy);
    close(x, 3);
    close(y, 4);
  });

  it("zooms about the cursor", () => {
    const view = { zoom: 1, offsetX: 10, offsetY: 20 };
    const zoomed = zoomAt(view, 2, 110, 220);
    close(zoomed.zoom, 2);
    // The image point under the cursor stays under it.
    close((110 - zoomed.offsetX) / zoomed.zoom, 100);
    close((220 - zoomed.offsetY) / zoomed.zoom, 200);
  });
});

describe("levels without a floor plan", () => {
  it("get a north-up frame around their graph so it can be drawn and clicked", () => {
    const level = {
      name: "L1",
      floor_plan: null,
      waypoints: [
        { id: "a", name: "a", level: "L1", x: 0, y: 0 },
        { id: "b", name: "b", level: "L1", x: 10, y: 5 },
      ],
      lanes: [],
      zones: [],
      doors: [],
      walls: [],
      floors: [],
    } as unknown as Level;
    const canvas = levelCanvasFrame(level);
    expect(canvas.hasImage).toBe(false);
    const [u, v] = levelToPixel(canvas.frame, 0, 5);
    expect(u).toBeGreaterThan(0);
    expect(v).toBeGreaterThan(0);
    const [u2, v2] = levelToPixel(canvas.frame, 10, 0);
    expect(u2).toBeLessThan(canvas.widthPx);
    expect(v2).toBeLessThan(canvas.heightPx);
  });
});

describe("picking", () => {
  it("finds the nearest item within reach only", () => {
    const items = [
      { id: "a", x: 0, y: 0 },
      { id: "b", x: 3, y: 0 },
    ];
    expect(nearest(items, 2, 0, 1.5)?.id).toBe("b");
    expect(nearest(items, 10, 0, 1.5)).toBeNull();
  });

  it("tests points against polygons", () => {
    const square: [number, number][] = [[0, 0], [4, 0], [4, 4], [0, 4]];
    expect(pointInPolygon(2, 2, square)).toBe(true);
    expect(pointInPolygon(5, 2, square)).toBe(false);
  });

  it("rounds scale bars to 1, 2 or 5 × 10^n", () => {
    expect(niceScaleLength(7.3)).toBe(5);
    expect(niceScaleLength(230)).toBe(200);
    expect(niceScaleLength(0.9)).toBe(0.5);
    expect(niceScaleLength(0)).toBe(0);
  });
});
