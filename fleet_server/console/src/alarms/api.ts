// Alarms, behind an interface (fleet_server/api/alarms.py):
//   GET  /api/v1/alarms?site_id=&acknowledged=false  → {items: [Alarm], next_cursor}
//   POST /api/v1/alarms/{id}/acknowledge  {"comment": "..."} → Alarm
// A 404 on the list means a server without the alarms API: the page says so and shows the
// conditions it can see in the robots' live state instead.

import type { ApiClient } from "../api/client";
import { ApiError } from "../api/problem";

export type Severity = "info" | "warning" | "error" | "critical";

export interface Alarm {
  id: number | string;
  site_id: string | null;
  source: "robot" | "mission" | "system" | string;
  severity: Severity;
  code: string;
  message: string;
  robot: string | null;
  mission_id: string | null;
  raised_at: string;
  cleared_at?: string | null;
  active?: boolean;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  comment: string | null;
  location?: { level: string; x: number; y: number } | null;
}

export interface AlarmsApi {
  /** Alarms, or null when the server offers no alarms API. */
  list(options: { siteId?: string; robot?: string; includeAcknowledged?: boolean; limit?: number }): Promise<Alarm[] | null>;
  acknowledge(id: number | string, comment: string): Promise<Alarm>;
}

export const ALARMS_ENDPOINT = "/api/v1/alarms";

export class HttpAlarmsApi implements AlarmsApi {
  constructor(private readonly client: ApiClient) {}

  async list(options: { siteId?: string; robot?: string; includeAcknowledged?: boolean; limit?: number }): Promise<Alarm[] | null> {
    const query = new URLSearchParams();
    if (options.siteId) query.set("site_id", options.siteId);
    if (options.robot) query.set("robot", options.robot);
    if (options.limit) query.set("limit", String(options.limit));
    if (!options.includeAcknowledged) query.set("acknowledged", "false");
    try {
      const body = await this.client.requestJson("GET", `${ALARMS_ENDPOINT}?${query}`);
      if (Array.isArray(body)) return body as Alarm[];
      // A paged answer ({items: [...]}) is accepted too.
      const items = (body as { items?: unknown }).items;
      return Array.isArray(items) ? (items as Alarm[]) : [];
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
      throw error;
    }
  }

  async acknowledge(id: number | string, comment: string): Promise<Alarm> {
    const body = comment.trim() ? { comment: comment.trim() } : {};
    return (await this.client.requestJson("POST", `${ALARMS_ENDPOINT}/${encodeURIComponent(String(id))}/acknowledge`, body)) as Alarm;
  }
}

const SEVERITY_RANK: Record<string, number> = { critical: 4, error: 3, warning: 2, info: 1 };

/** Open before acknowledged, then most severe, then newest. */
export function sortAlarms(alarms: readonly Alarm[]): Alarm[] {
  return [...alarms].sort(
    (a, b) =>
      Number(a.acknowledged_at !== null) - Number(b.acknowledged_at !== null) ||
      (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) ||
      b.raised_at.localeCompare(a.raised_at),
  );
}
