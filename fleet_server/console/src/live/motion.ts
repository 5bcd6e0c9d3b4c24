// Robots report their pose a few times a second at most; drawn as reported they jump.
// Each robot is drawn between its last two reports, one report interval behind, which
// looks continuous at any frame rate without guessing where the robot goes next.

export interface PoseSample {
  x: number;
  y: number;
  theta: number;
  mapId: string;
  /** Receive time, ms (performance.now or Date.now; one clock per track). */
  t: number;
}

const MAX_INTERVAL_MS = 2000;
const MIN_INTERVAL_MS = 50;

/** The angle from a to b the short way round, in (−π, π]. */
export function angleDelta(a: number, b: number): number {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d <= -Math.PI) d += 2 * Math.PI;
  return d;
}

export class MotionTrack {
  private from: PoseSample | null = null;
  private to: PoseSample | null = null;
  private interval = 1000;

  /** A new report; ignored when it repeats the last one exactly. */
  add(sample: PoseSample): void {
    const last = this.to;
    if (last && last.x === sample.x && last.y === sample.y && last.theta === sample.theta && last.mapId === sample.mapId) {
      return;
    }
    // A level change (lift) is a jump, not a glide across the map.
    this.from = last && last.mapId === sample.mapId ? this.at(sample.t) : null;
    if (last) {
      const dt = sample.t - last.t;
      if (dt > 0) this.interval = Math.min(MAX_INTERVAL_MS, Math.max(MIN_INTERVAL_MS, dt));
    }
    this.to = sample;
  }

  /** Where to draw the robot at time t. */
  at(t: number): PoseSample | null {
    const to = this.to;
    if (!to) return null;
    const from = this.from;
    if (!from) return to;
    const f = Math.min(1, Math.max(0, (t - to.t) / this.interval));
    return {
      x: from.x + (to.x - from.x) * f,
      y: from.y + (to.y - from.y) * f,
      theta: from.theta + angleDelta(from.theta, to.theta) * f,
      mapId: to.mapId,
      t,
    };
  }
}
