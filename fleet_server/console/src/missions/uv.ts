// UV-C dwell times and ETA shown before a disinfection is sent. The server has no planning
// endpoint yet, so this follows the mission plan rules of missions/uv_dose.py and
// missions/compiler/stops.py for waypoint and point targets: a point-source lamp,
// irradiance = I(1 m) / max(d, near field)², dwell = dose / irradiance, rounded up to
// 0.1 s after a 0.05 s timing margin. Rooms are planned by the server (a linear programme
// over the room's outline) and are shown without a figure.

export const DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2 = 2.67; // fleet_server/missions/runtime.py
export const DEFAULT_UV_DISTANCE_M = 1.0; // missions/uv_dose.py
export const NEAR_FIELD_DISTANCE_M = 0.3; // LampModel.near_field_distance_m default
export const DWELL_STEP_S = 0.1;
export const DWELL_TOLERANCE_S = 0.05;

export type Organism = "vegetative_bacteria" | "virus" | "unknown";

/** Target dose when a mission gives none (missions/types.py DEFAULT_UV_DOSE_MJ_CM2). */
export function defaultDose(organism: Organism | null | undefined): number {
  return organism === "unknown" ? 100 : 10;
}

/** mW/cm² at `distanceM` from a lamp with `irradianceAt1m` at 1 m, normal incidence. */
export function irradianceAt(irradianceAt1m: number, distanceM: number, nearFieldM = NEAR_FIELD_DISTANCE_M): number {
  if (!(distanceM > 0) || !Number.isFinite(distanceM)) {
    throw new RangeError(`distance_m must be a finite number > 0, got ${distanceM}`);
  }
  const effective = Math.max(distanceM, nearFieldM);
  return irradianceAt1m / (effective * effective);
}

/** A dwell time as the compiler plans it: margin added, rounded up to the 0.1 s step. */
export function plannedDwellS(neededS: number): number {
  const steps = Math.ceil((neededS + DWELL_TOLERANCE_S) / DWELL_STEP_S - 1e-9);
  return Math.round(steps * DWELL_STEP_S * 1e6) / 1e6;
}

/** Seconds of lamp-on time for `doseMjCm2` at `distanceM`. */
export function uvDwellSeconds(doseMjCm2: number, distanceM: number, irradianceAt1m = DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2): number {
  if (!(doseMjCm2 > 0) || !Number.isFinite(doseMjCm2)) {
    throw new RangeError(`target_dose_mj_cm2 must be > 0, got ${doseMjCm2}`);
  }
  return plannedDwellS(doseMjCm2 / irradianceAt(irradianceAt1m, distanceM));
}

export interface DwellEstimate {
  /** Per target, the planned dwell in seconds; null for a room (server-planned). */
  dwellS: (number | null)[];
  totalDwellS: number;
  roomsUnplanned: number;
}

export interface UvTargetLike {
  room?: string | null;
}

/** Dwell per target and in total for a UV mission's targets. */
export function estimateUvDwell(
  targets: readonly UvTargetLike[],
  doseMjCm2: number,
  distanceM = DEFAULT_UV_DISTANCE_M,
  irradianceAt1m = DEFAULT_UV_IRRADIANCE_AT_1M_MW_CM2,
): DwellEstimate {
  const each = uvDwellSeconds(doseMjCm2, distanceM, irradianceAt1m);
  const dwellS = targets.map((t) => (t.room ? null : each));
  return {
    dwellS,
    totalDwellS: dwellS.reduce<number>((sum, d) => sum + (d ?? 0), 0),
    roomsUnplanned: dwellS.filter((d) => d === null).length,
  };
}

/** Seconds until done: travel legs (from the route endpoint) plus dwell. */
export function etaSeconds(legTravelS: readonly number[], totalDwellS: number): number {
  return legTravelS.reduce((sum, s) => sum + s, 0) + totalDwellS;
}
