// Times are shown in the site's time zone, whatever the browser's: staff at a hospital
// read 22:00 as the hospital's 22:00 even from a laptop set to another zone.

import type { Language } from "../i18n/i18n";

/** The zone of a site that names none: the server's default for schedules too
 * (fleet_server/schedules/service.py DEFAULT_TIMEZONE). */
export const DEFAULT_TIME_ZONE = "Asia/Shanghai";

/** The zone to show a site's times in: the site's own when it names a valid one. */
export function siteTimeZone(siteZone: string | null | undefined): string {
  return siteZone && isValidTimeZone(siteZone) ? siteZone : DEFAULT_TIME_ZONE;
}

/** A site's zone from its API record (`timezone` once sites carry one). */
export function zoneOfSite(site: object | null | undefined): string {
  const record = (site ?? {}) as { timezone?: unknown; time_zone?: unknown };
  const zone = typeof record.timezone === "string" ? record.timezone : typeof record.time_zone === "string" ? record.time_zone : null;
  return siteTimeZone(zone);
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function toDate(value: string | number | Date): Date {
  return value instanceof Date ? value : new Date(value);
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(language: Language, timeZone: string, withDate: boolean): Intl.DateTimeFormat {
  const key = `${language}|${timeZone}|${withDate}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(language, {
      timeZone,
      hourCycle: "h23",
      ...(withDate ? { year: "numeric", month: "2-digit", day: "2-digit" } : {}),
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(key, found);
  }
  return found;
}

/** `2025-03-01 22:00:05` in the zone, in the language's order; "" for no value. */
export function formatDateTime(
  value: string | number | Date | null | undefined,
  timeZone: string,
  language: Language,
): string {
  if (value === null || value === undefined || value === "") return "";
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "";
  const parts = formatter(language, timeZone, true).formatToParts(date);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  // A fixed, sortable order reads the same in both languages and in tables.
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}:${get("second")}`;
}

/** `22:00:05` in the zone. */
export function formatTime(value: string | number | Date, timeZone: string, language: Language): string {
  const date = toDate(value);
  if (Number.isNaN(date.getTime())) return "";
  const parts = formatter(language, timeZone, false).formatToParts(date);
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("hour")}:${get("minute")}:${get("second")}`;
}

/** The zone's UTC offset at an instant, in minutes (e.g. +480 for Asia/Shanghai). */
export function zoneOffsetMinutes(timeZone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  const asUtc = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"), get("second"));
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60000);
}

/** A wall-clock time in a zone as an instant: (2025-03-01, 22:00) in Shanghai → 14:00Z. */
export function zonedWallTimeToDate(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): Date {
  const guess = Date.UTC(year, month - 1, day, hour, minute);
  // Two passes settle the offset also next to a DST change.
  let instant = guess - zoneOffsetMinutes(timeZone, new Date(guess)) * 60000;
  instant = guess - zoneOffsetMinutes(timeZone, new Date(instant)) * 60000;
  return new Date(instant);
}

/**
 * `1 h 05 min`, `3 min 20 s`, `45 s` (zh-CN: `1小时05分`, `3分20秒`, `45秒`); under a
 * minute with `decimals` places (`3.8 s`), for dwell times planned to a tenth of a second.
 */
export function formatDuration(seconds: number, language: Language, decimals = 0): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "";
  if (decimals > 0 && seconds < 60) {
    const text = seconds.toFixed(decimals);
    return language === "zh-CN" ? `${text}秒` : `${text} s`;
  }
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const zh = language === "zh-CN";
  if (h > 0) return zh ? `${h}小时${String(m).padStart(2, "0")}分` : `${h} h ${String(m).padStart(2, "0")} min`;
  if (m > 0) return zh ? `${m}分${s}秒` : `${m} min ${s} s`;
  return zh ? `${s}秒` : `${s} s`;
}
