import { describe, expect, it } from "vitest";
import { formatDateTime, formatDuration, formatTime, siteTimeZone, zonedWallTimeToDate, zoneOfSite, zoneOffsetMinutes } from "../src/time/format";

describe("time-zone formatting", () => {
  const instant = "2026-03-01T14:05:09Z";

  it("shows an instant in the site's zone, whatever the machine's", () => {
    expect(formatDateTime(instant, "Asia/Shanghai", "zh-CN")).toBe("2026-03-01 22:05:09");
    expect(formatDateTime(instant, "Asia/Shanghai", "en")).toBe("2026-03-01 22:05:09");
    expect(formatDateTime(instant, "America/New_York", "en")).toBe("2026-03-01 09:05:09");
    expect(formatTime(instant, "UTC", "en")).toBe("14:05:09");
    expect(formatDateTime(null, "UTC", "en")).toBe("");
    expect(formatDateTime("not a date", "UTC", "en")).toBe("");
  });

  it("finds offsets and places wall times, DST included", () => {
    expect(zoneOffsetMinutes("Asia/Shanghai", new Date(instant))).toBe(480);
    expect(zoneOffsetMinutes("Europe/Berlin", new Date("2026-07-01T12:00:00Z"))).toBe(120);
    expect(zonedWallTimeToDate(2026, 3, 1, 22, 0, "Asia/Shanghai").toISOString()).toBe("2026-03-01T14:00:00.000Z");
    expect(zonedWallTimeToDate(2026, 3, 29, 22, 0, "Europe/Berlin").toISOString()).toBe("2026-03-29T20:00:00.000Z");
  });

  it("uses the site's zone, else the server's default", () => {
    expect(siteTimeZone("Mars/Olympus")).toBe("Asia/Shanghai");
    expect(siteTimeZone("Europe/Berlin")).toBe("Europe/Berlin");
    expect(zoneOfSite({ id: "bank", timezone: "Asia/Hong_Kong" })).toBe("Asia/Hong_Kong");
    expect(zoneOfSite(null)).toBe("Asia/Shanghai");
  });

  it("formats durations in both languages", () => {
    expect(formatDuration(3900, "en")).toBe("1 h 05 min");
    expect(formatDuration(200, "zh-CN")).toBe("3分20秒");
    expect(formatDuration(45.4, "en")).toBe("45 s");
    expect(formatDuration(-1, "en")).toBe("");
    expect(formatDuration(3.8, "en", 1)).toBe("3.8 s");
    expect(formatDuration(3.8, "zh-CN", 1)).toBe("3.8秒");
    expect(formatDuration(75.3, "en", 1)).toBe("1 min 15 s");
  });
});
