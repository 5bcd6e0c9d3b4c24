import { describe, expect, it } from "vitest";
import { emptyDisinfection, emptyGuidance, emptyPatrol, missionBody } from "../src/missions/form";
import { defaultDose, estimateUvDwell, etaSeconds, irradianceAt, plannedDwellS, uvDwellSeconds } from "../src/missions/uv";

describe("mission form → body", () => {
  it("builds a patrol with name-only and overridden checkpoints", () => {
    const form = {
      ...emptyPatrol("clinic"),
      checkpoints: [
        { waypoint: "L1_left_nurse_center", dwellS: null },
        { waypoint: "L1_right_treatment", dwellS: 20 },
      ],
      rounds: 2,
      dwellS: 5,
      checks: ["door_closed" as const],
      name: "  Night round ",
    };
    expect(missionBody(form)).toEqual({
      errors: [],
      body: {
        kind: "patrol",
        site: "clinic",
        priority: "normal",
        name: "Night round",
        checkpoints: ["L1_left_nurse_center", { waypoint: "L1_right_treatment", dwell_s: 20 }],
        rounds: 2,
        dwell_s: 5,
        checks: ["door_closed"],
      },
    });
  });

  it("refuses an empty patrol naming the field, and sweeps a zone instead when asked", () => {
    expect(missionBody(emptyPatrol("clinic")).errors.map((e) => e.field)).toEqual(["checkpoints"]);
    const zone = missionBody({ ...emptyPatrol("clinic"), mode: "zone", zone: "ward_a" });
    expect(zone.body).toMatchObject({ zone: "ward_a" });
    expect(zone.body).not.toHaveProperty("checkpoints");
  });

  it("builds UV disinfection with waypoint, room and point targets (no spray fields)", () => {
    const { body } = missionBody({
      ...emptyDisinfection("clinic"),
      targets: [
        { type: "waypoint", waypoint: "L1_left_treatment_1" },
        { type: "room", room: "ward_a" },
        { type: "point", x: 10.12345, y: -12.5, level: "L1" },
      ],
      doseMjCm2: 20,
      organism: "virus",
    });
    expect(body).toEqual({
      kind: "disinfection",
      site: "clinic",
      priority: "normal",
      method: "uv",
      targets: [{ waypoint: "L1_left_treatment_1" }, { room: "ward_a" }, { x: 10.123, y: -12.5, level: "L1" }],
      organism: "virus",
      target_dose_mj_cm2: 20,
      distance_m: 1,
    });
  });

  it("builds spray disinfection without UV fields", () => {
    const { body } = missionBody({
      ...emptyDisinfection("clinic"),
      method: "spray",
      targets: [{ type: "waypoint", waypoint: "W" }],
      agent: "h2o2",
      rateMlPerM3: 8,
      roomVolumeM3: 60,
      contactTimeS: 900,
      reEntryTimeS: 1800,
    });
    expect(body).not.toHaveProperty("target_dose_mj_cm2");
    expect(body).toMatchObject({ method: "spray", agent: "h2o2", rate_ml_per_m3: 8, room_volume_m3: 60 });
  });

  it("builds guidance and names missing ends", () => {
    expect(missionBody(emptyGuidance("clinic", "en")).errors.map((e) => e.field)).toEqual(["from", "to"]);
    const { body } = missionBody({ ...emptyGuidance("clinic", "zh-CN"), from: "A", to: "B", maxSpeedMS: 0.6 });
    expect(body).toEqual({ kind: "guidance", site: "clinic", priority: "normal", from: "A", to: "B", language: "zh-CN", max_speed_m_s: 0.6 });
  });

  it("refuses numbers that are not numbers", () => {
    const built = missionBody({ ...emptyDisinfection("clinic"), targets: [{ type: "waypoint", waypoint: "W" }], doseMjCm2: Number.NaN });
    expect(built.body).toBeNull();
    expect(built.errors).toEqual([{ field: "target_dose_mj_cm2", message: "not a number" }]);
  });
});

describe("UV dwell from the mission plan rules", () => {
  it("follows the inverse-square law with a near field", () => {
    expect(irradianceAt(2.67, 1)).toBeCloseTo(2.67, 12);
    expect(irradianceAt(2.67, 2)).toBeCloseTo(2.67 / 4, 12);
    expect(irradianceAt(2.67, 0.1)).toBeCloseTo(2.67 / 0.09, 9);
    expect(() => irradianceAt(2.67, 0)).toThrow(/distance_m/);
  });

  it("plans dwell as the compiler does: margin, then up to the next 0.1 s", () => {
    // 10 mJ/cm² at 1 m from a 2.67 mW/cm² lamp: 3.745… s → 3.8 s (3.795 with margin).
    expect(uvDwellSeconds(10, 1)).toBe(3.8);
    expect(plannedDwellS(4.0)).toBe(4.1);
    expect(uvDwellSeconds(100, 2)).toBe(149.9);
    expect(defaultDose("unknown")).toBe(100);
    expect(defaultDose(null)).toBe(10);
  });

  it("sums dwell for points, leaves rooms to the server, and adds travel for the ETA", () => {
    const estimate = estimateUvDwell([{}, { room: "ward" }, {}], 10, 1);
    expect(estimate.dwellS).toEqual([3.8, null, 3.8]);
    expect(estimate.totalDwellS).toBeCloseTo(7.6, 9);
    expect(estimate.roomsUnplanned).toBe(1);
    expect(etaSeconds([12, 30.5], estimate.totalDwellS)).toBeCloseTo(50.1, 9);
  });
});
