import { describe, expect, it } from "vitest";
import {
  asHoursWindow,
  defaultRecurrence,
  fromRRuleString,
  hoursWindow,
  nextOccurrences,
  RecurrenceError,
  toRRuleString,
} from "../src/schedules/rrule";

describe("friendly editor ↔ RRULE", () => {
  it("writes the night patrol (22:00–06:00 every hour) and reads it back", () => {
    const night = { ...defaultRecurrence(), hours: hoursWindow(22, 6), minute: 0 };
    const text = toRRuleString(night);
    expect(text).toBe("FREQ=DAILY;BYHOUR=22,23,0,1,2,3,4,5,6;BYMINUTE=0");
    expect(fromRRuleString(text)).toEqual(night);
    expect(asHoursWindow(night.hours)).toEqual({ start: 22, end: 6, step: 1 });
  });

  it("round-trips weekly, monthly, interval, count and until", () => {
    const cases = [
      { ...defaultRecurrence(), freq: "WEEKLY" as const, weekdays: ["FR" as const, "MO" as const], hours: [7], minute: 30, count: 10 },
      { ...defaultRecurrence(), freq: "MONTHLY" as const, monthDays: [1, 15], hours: [3], interval: 2, until: "2026-12-31" },
    ];
    for (const r of cases) {
      const back = fromRRuleString(toRRuleString(r));
      expect(back).toEqual({ ...r, weekdays: [...r.weekdays].sort((a, b) => "MOTUWETHFRSASU".indexOf(a) - "MOTUWETHFRSASU".indexOf(b)) });
    }
    expect(toRRuleString(cases[0]!)).toBe("FREQ=WEEKLY;BYDAY=MO,FR;BYHOUR=7;BYMINUTE=30;COUNT=10");
  });

  it("names the part the editor cannot show", () => {
    expect(() => fromRRuleString("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1")).toThrow(/BYSETPOS/);
    expect(() => fromRRuleString("FREQ=YEARLY")).toThrow(/FREQ/);
    expect(() => fromRRuleString("BYHOUR=3")).toThrow(/FREQ: missing/);
    expect(() => fromRRuleString("FREQ=DAILY;BYHOUR=25")).toThrow(/BYHOUR/);
    expect(() => fromRRuleString("FREQ=DAILY;BYDAY=1MO")).toThrow(/BYDAY/);
    try {
      toRRuleString({ ...defaultRecurrence(), count: 3, until: "2026-01-01" });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RecurrenceError);
      expect((error as RecurrenceError).part).toBe("UNTIL");
    }
  });

  it("refuses a window with bad hours", () => {
    expect(() => hoursWindow(22, 24)).toThrow(/end/);
    expect(hoursWindow(0, 12, 6)).toEqual([0, 6, 12]);
    expect(asHoursWindow([1, 5])).toEqual({ start: 1, end: 5, step: 4 });
    expect(asHoursWindow([1, 2, 7])).toBeNull();
  });
});

describe("next occurrences in the site's zone", () => {
  it("places wall-clock starts in Shanghai (UTC+8)", () => {
    const next = nextOccurrences("FREQ=DAILY;BYHOUR=22,23,0;BYMINUTE=0", "2026-03-01T00:00", "Asia/Shanghai", new Date("2026-03-02T13:30:00Z"), 4);
    expect(next.map((d) => d.toISOString())).toEqual([
      "2026-03-02T14:00:00.000Z", // 22:00 Shanghai
      "2026-03-02T15:00:00.000Z",
      "2026-03-02T16:00:00.000Z", // 00:00 on the 3rd
      "2026-03-03T14:00:00.000Z",
    ]);
  });

  it("keeps 22:00 at 22:00 across a DST change and skips exceptions", () => {
    const next = nextOccurrences("FREQ=DAILY;BYHOUR=22;BYMINUTE=0", "2026-03-01T22:00", "Europe/Berlin", new Date("2026-03-27T00:00:00Z"), 3, ["2026-03-28T22:00"]);
    expect(next.map((d) => d.toISOString())).toEqual([
      "2026-03-27T21:00:00.000Z", // CET, UTC+1
      "2026-03-29T20:00:00.000Z", // CEST from the 29th, UTC+2
      "2026-03-30T20:00:00.000Z",
    ]);
  });

  it("stops at COUNT", () => {
    const next = nextOccurrences("FREQ=WEEKLY;BYDAY=MO;BYHOUR=8;BYMINUTE=0;COUNT=2", "2026-01-05T08:00", "UTC", new Date("2026-01-01T00:00:00Z"), 10);
    expect(next.map((d) => d.toISOString())).toEqual(["2026-01-05T08:00:00.000Z", "2026-01-12T08:00:00.000Z"]);
  });
});
