import { describe, expect, it } from "vitest";
import { fitZoom, lonLatToWorld, metresPerPixel, tilesFor, tileUrl, worldToLonLat } from "../src/map/geo";
import { applyPick, emptyDisinfection, emptyGuidance, emptyPatrol } from "../src/missions/form";

describe("picking on the map", () => {
  const wp = (name: string) => ({ id: `id_${name}`, name });

  it("adds checkpoints in click order and ignores floor clicks for patrols", () => {
    let form = applyPick(emptyPatrol("clinic"), { waypoint: wp("A"), point: [0, 0], level: "L1" });
    form = applyPick(form, { waypoint: null, point: [3, 4], level: "L1" });
    form = applyPick(form, { waypoint: { id: "unnamed_7", name: "" }, point: [1, 1], level: "L1" });
    expect(form.kind === "patrol" && form.checkpoints.map((c) => c.waypoint)).toEqual(["A", "unnamed_7"]);
  });

  it("adds waypoints or floor points as disinfection targets", () => {
    let form = applyPick(emptyDisinfection("clinic"), { waypoint: wp("Bed 1"), point: [0, 0], level: "L1" });
    form = applyPick(form, { waypoint: null, point: [10, -12.5], level: "L2" });
    expect(form.kind === "disinfection" && form.targets).toEqual([
      { type: "waypoint", waypoint: "Bed 1" },
      { type: "point", x: 10, y: -12.5, level: "L2" },
    ]);
  });

  it("sets from, then to, then starts over for guidance", () => {
    let form = applyPick(emptyGuidance("clinic", "en"), { waypoint: wp("Entrance"), point: [0, 0], level: "L1" });
    form = applyPick(form, { waypoint: wp("Entrance"), point: [0, 0], level: "L1" });
    expect(form).toMatchObject({ from: "Entrance", to: "" });
    form = applyPick(form, { waypoint: wp("Cardiology"), point: [0, 0], level: "L1" });
    expect(form).toMatchObject({ from: "Entrance", to: "Cardiology" });
    form = applyPick(form, { waypoint: wp("Lab"), point: [0, 0], level: "L1" });
    expect(form).toMatchObject({ from: "Lab", to: "" });
  });
});

describe("city map projection", () => {
  it("projects WGS84 to Web Mercator world pixels and back", () => {
    expect(lonLatToWorld(0, 0, 0)).toEqual([128, 128]);
    const [x, y] = lonLatToWorld(114.0579, 22.5431, 12);
    const [lon, lat] = worldToLonLat(x, y, 12);
    expect(lon).toBeCloseTo(114.0579, 9);
    expect(lat).toBeCloseTo(22.5431, 9);
  });

  it("fits sites into the view and scales metres per pixel by latitude", () => {
    const z = fitZoom([[114.0, 22.5], [114.1, 22.6]], 800, 600);
    const [ax, ay] = lonLatToWorld(114.0, 22.5, z);
    const [bx, by] = lonLatToWorld(114.1, 22.6, z);
    expect(Math.abs(bx - ax)).toBeLessThanOrEqual(680);
    expect(Math.abs(by - ay)).toBeLessThanOrEqual(480);
    expect(Math.abs(lonLatToWorld(114.1, 22.6, z + 1)[0] - lonLatToWorld(114.0, 22.5, z + 1)[0]) > 680 || Math.abs(lonLatToWorld(114.1, 22.6, z + 1)[1] - lonLatToWorld(114.0, 22.5, z + 1)[1]) > 480).toBe(true);
    expect(metresPerPixel(0, 0)).toBeCloseTo(156543.03, 1);
    expect(metresPerPixel(60, 0)).toBeCloseTo(156543.03 / 2, 1);
  });

  it("lists the tiles under the view and fills tile URLs", () => {
    const tiles = tilesFor(300, 10, 256, 256, 2);
    expect(tiles.map((t) => [t.x, t.y])).toEqual([[1, 0], [2, 0], [1, 1], [2, 1]]);
    expect(tiles[0]).toMatchObject({ left: -44, top: -10 });
    expect(tileUrl("https://{s}.t.example/{z}/{x}/{y}.png", { x: 1, y: 0, z: 2 })).toBe("https://b.t.example/2/1/0.png");
  });
});
