// Recurring missions are RFC 5545 recurrence rules. Site managers edit them in a friendly
// form (how often, which days, which hours); this module turns that form into an RRULE
// string and back, and computes the next occurrences in the site's time zone.

import { RRule, type Options, type Weekday as RRuleWeekday } from "rrule";
import { zonedWallTimeToDate } from "../time/format";

export const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"] as const;
export type Weekday = (typeof WEEKDAYS)[number];
export type Frequency = "HOURLY" | "DAILY" | "WEEKLY" | "MONTHLY";

/** What the friendly editor shows. */
export interface Recurrence {
  freq: Frequency;
  interval: number;
  /** Days of the week (WEEKLY; DAILY narrowed to some days). Empty: every day. */
  weekdays: Weekday[];
  /** Days of the month (MONTHLY). Empty: the start date's day. */
  monthDays: number[];
  /** Hours of the day the mission starts at (0–23). Empty: the start time's hour. */
  hours: number[];
  /** Minute of those hours (0–59). */
  minute: number;
  count: number | null;
  /** Last day (inclusive) in the site's zone, `YYYY-MM-DD`. */
  until: string | null;
}

export class RecurrenceError extends Error {
  /** The RRULE part (e.g. `BYHOUR`) or editor field the problem is in. */
  readonly part: string;

  constructor(part: string, message: string) {
    super(`${part}: ${message}`);
    this.part = part;
  }
}

export function defaultRecurrence(): Recurrence {
  return { freq: "DAILY", interval: 1, weekdays: [], monthDays: [], hours: [22], minute: 0, count: null, until: null };
}

/**
 * Hours from `start` to `end` inclusive every `step` hours, across midnight when end is
 * earlier: (22, 6, 1) → 22, 23, 0, 1, …, 6 (the night patrol of DESIGN §2).
 */
export function hoursWindow(start: number, end: number, step = 1): number[] {
  for (const [name, value] of [["start", start], ["end", end]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 23) throw new RecurrenceError(name, "an hour from 0 to 23");
  }
  if (!Number.isInteger(step) || step < 1 || step > 23) throw new RecurrenceError("step", "a whole number of hours from 1 to 23");
  const span = (end - start + 24) % 24;
  const hours: number[] = [];
  for (let offset = 0; offset <= span; offset += step) hours.push((start + offset) % 24);
  return hours;
}

/** The window (start, end, step) that lists exactly these hours in order, if there is one. */
export function asHoursWindow(hours: readonly number[]): { start: number; end: number; step: number } | null {
  if (hours.length < 2) return null;
  const first = hours[0] as number;
  const step = ((hours[1] as number) - first + 24) % 24;
  if (step === 0) return null;
  const end = hours[hours.length - 1] as number;
  const window = hoursWindow(first, end, step);
  return window.length === hours.length && window.every((h, i) => h === hours[i]) ? { start: first, end, step } : null;
}

function checkRecurrence(r: Recurrence): void {
  if (!Number.isInteger(r.interval) || r.interval < 1 || r.interval > 1000) {
    throw new RecurrenceError("INTERVAL", "a whole number from 1 to 1000");
  }
  if (!Number.isInteger(r.minute) || r.minute < 0 || r.minute > 59) throw new RecurrenceError("BYMINUTE", "a minute from 0 to 59");
  for (const h of r.hours) if (!Number.isInteger(h) || h < 0 || h > 23) throw new RecurrenceError("BYHOUR", `${h} is not an hour from 0 to 23`);
  for (const d of r.monthDays) {
    if (!Number.isInteger(d) || d === 0 || d < -31 || d > 31) throw new RecurrenceError("BYMONTHDAY", `${d} is not a day of the month`);
  }
  if (r.count !== null && (!Number.isInteger(r.count) || r.count < 1)) throw new RecurrenceError("COUNT", "a whole number of 1 or more");
  if (r.count !== null && r.until !== null) throw new RecurrenceError("UNTIL", "give COUNT or UNTIL, not both (RFC 5545 §3.3.10)");
  if (r.until !== null && !/^\d{4}-\d{2}-\d{2}$/.test(r.until)) throw new RecurrenceError("UNTIL", "a date as YYYY-MM-DD");
}

/** The RRULE value (without the `RRULE:` prefix) for a recurrence. */
export function toRRuleString(r: Recurrence): string {
  checkRecurrence(r);
  const parts = [`FREQ=${r.freq}`];
  if (r.interval !== 1) parts.push(`INTERVAL=${r.interval}`);
  if (r.weekdays.length) parts.push(`BYDAY=${sortedWeekdays(r.weekdays).join(",")}`);
  if (r.freq === "MONTHLY" && r.monthDays.length) parts.push(`BYMONTHDAY=${r.monthDays.join(",")}`);
  if (r.freq !== "HOURLY" && r.hours.length) parts.push(`BYHOUR=${r.hours.join(",")}`);
  parts.push(`BYMINUTE=${r.minute}`);
  if (r.count !== null) parts.push(`COUNT=${r.count}`);
  // UNTIL as a floating date-time at the end of that day, in the schedule's own zone.
  if (r.until !== null) parts.push(`UNTIL=${r.until.replace(/-/g, "")}T235959`);
  return parts.join(";");
}

function sortedWeekdays(days: readonly Weekday[]): Weekday[] {
  return [...new Set(days)].sort((a, b) => WEEKDAYS.indexOf(a) - WEEKDAYS.indexOf(b));
}

function intList(part: string, value: string): number[] {
  return value.split(",").map((item) => {
    if (!/^[+-]?\d+$/.test(item)) throw new RecurrenceError(part, `${JSON.stringify(item)} is not a whole number`);
    return Number(item);
  });
}

/**
 * The friendly form of an RRULE string; a RecurrenceError names the part the editor
 * cannot show (e.g. BYSETPOS), so the page can fall back to editing the text.
 */
export function fromRRuleString(text: string): Recurrence {
  const value = text.trim().replace(/^RRULE:/i, "");
  if (!value) throw new RecurrenceError("RRULE", "empty");
  const r: Recurrence = { ...defaultRecurrence(), hours: [], minute: 0 };
  let freqSeen = false;
  for (const piece of value.split(";")) {
    const [rawName, rawValue, ...rest] = piece.split("=");
    const name = (rawName ?? "").toUpperCase();
    if (!rawValue || rest.length) throw new RecurrenceError(name || "RRULE", `expected NAME=value, got ${JSON.stringify(piece)}`);
    const v = rawValue.toUpperCase();
    switch (name) {
      case "FREQ":
        if (!["HOURLY", "DAILY", "WEEKLY", "MONTHLY"].includes(v)) throw new RecurrenceError("FREQ", `${v} is not offered by the editor`);
        r.freq = v as Frequency;
        freqSeen = true;
        break;
      case "INTERVAL":
        r.interval = intList(name, v)[0] ?? 1;
        break;
      case "BYDAY":
        r.weekdays = v.split(",").map((d) => {
          if (!(WEEKDAYS as readonly string[]).includes(d)) throw new RecurrenceError("BYDAY", `${d} is not a plain weekday (MO…SU)`);
          return d as Weekday;
        });
        break;
      case "BYMONTHDAY":
        r.monthDays = intList(name, v);
        break;
      case "BYHOUR":
        r.hours = intList(name, v);
        break;
      case "BYMINUTE": {
        const minutes = intList(name, v);
        if (minutes.length !== 1) throw new RecurrenceError("BYMINUTE", "the editor offers one minute of the hour");
        r.minute = minutes[0] as number;
        break;
      }
      case "BYSECOND":
        if (v !== "0") throw new RecurrenceError("BYSECOND", "the editor starts on whole minutes");
        break;
      case "COUNT":
        r.count = intList(name, v)[0] ?? null;
        break;
      case "UNTIL": {
        const m = /^(\d{4})(\d{2})(\d{2})(T\d{6}Z?)?$/.exec(v);
        if (!m) throw new RecurrenceError("UNTIL", `${v} is not a date or date-time`);
        r.until = `${m[1]}-${m[2]}-${m[3]}`;
        break;
      }
      case "WKST":
        break; // only matters for weekly rules with INTERVAL > 1 and BYDAY; the editor uses MO
      default:
        throw new RecurrenceError(name, "not offered by the editor; edit the rule as text");
    }
  }
  if (!freqSeen) throw new RecurrenceError("FREQ", "missing (RFC 5545 §3.3.10: FREQ is required)");
  checkRecurrence(r);
  return r;
}

const RRULE_DAYS: Record<Weekday, RRuleWeekday> = {
  MO: RRule.MO,
  TU: RRule.TU,
  WE: RRule.WE,
  TH: RRule.TH,
  FR: RRule.FR,
  SA: RRule.SA,
  SU: RRule.SU,
};

const FREQS: Record<Frequency, number> = {
  HOURLY: RRule.HOURLY,
  DAILY: RRule.DAILY,
  WEEKLY: RRule.WEEKLY,
  MONTHLY: RRule.MONTHLY,
};

/** A wall-clock date-time in the site's zone, `YYYY-MM-DDTHH:MM`. */
export type WallTime = string;

function parseWall(wall: WallTime): [number, number, number, number, number] {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(wall);
  if (!m) throw new RecurrenceError("DTSTART", `${wall} is not YYYY-MM-DDTHH:MM`);
  return [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])];
}

/**
 * The next `limit` start instants at or after `after`, for a rule that starts at the
 * wall time `dtstart` in `timeZone`, skipping `exdates` (wall times). The rule runs on
 * wall-clock time (RFC 5545 §3.3.5 local time with TZID): 22:00 stays 22:00 across a DST
 * change; each wall time is then placed in the zone.
 */
export function nextOccurrences(
  rule: string,
  dtstart: WallTime,
  timeZone: string,
  after: Date,
  limit = 10,
  exdates: readonly WallTime[] = [],
): Date[] {
  const r = fromRRuleString(rule);
  const [y, mo, d, h, mi] = parseWall(dtstart);
  // rrule.js computes in UTC; UTC here stands for the zone's wall clock ("floating" time).
  const options: Partial<Options> = {
    freq: FREQS[r.freq],
    interval: r.interval,
    dtstart: new Date(Date.UTC(y, mo - 1, d, h, mi)),
    byminute: [r.minute],
    bysecond: [0],
  };
  if (r.weekdays.length) options.byweekday = r.weekdays.map((w) => RRULE_DAYS[w]);
  // rrule.js yields a day's times in the order BY lists are given; RFC 5545 means sets.
  const ascending = (a: number, b: number) => a - b;
  if (r.freq === "MONTHLY" && r.monthDays.length) options.bymonthday = [...r.monthDays].sort(ascending);
  if (r.freq !== "HOURLY") options.byhour = r.hours.length ? [...new Set(r.hours)].sort(ascending) : [h];
  if (r.count !== null) options.count = r.count;
  if (r.until !== null) {
    const [uy, um, ud] = r.until.split("-").map(Number) as [number, number, number];
    options.until = new Date(Date.UTC(uy, um - 1, ud, 23, 59, 59));
  }
  const excluded = new Set(exdates.map((e) => e.slice(0, 16)));
  const rrule = new RRule(options);
  const result: Date[] = [];
  // "after" is an instant and the rule runs on wall time: search from 14 h earlier (the
  // largest UTC offset) and drop what falls before "after" once placed in the zone.
  const searchFrom = new Date(after.getTime() - 14 * 3600 * 1000);
  const farFuture = new Date(Date.UTC(9999, 0, 1));
  rrule.between(searchFrom, farFuture, true, (wall) => {
    if (excluded.has(wall.toISOString().slice(0, 16))) return true;
    const instant = zonedWallTimeToDate(
      wall.getUTCFullYear(),
      wall.getUTCMonth() + 1,
      wall.getUTCDate(),
      wall.getUTCHours(),
      wall.getUTCMinutes(),
      timeZone,
    );
    if (instant.getTime() >= after.getTime()) result.push(instant);
    return result.length < limit;
  });
  return result;
}
