// Schedules, behind an interface (fleet_server/api/schedules.py):
//   GET    /api/v1/schedules?site_id=   → [Schedule]
//   POST   /api/v1/schedules            {ScheduleBody} → Schedule
//   PUT    /api/v1/schedules/{id}       {ScheduleBody} → Schedule
//   DELETE /api/v1/schedules/{id}
// ScheduleBody: {site_id, name, rrule (RFC 5545 RRULE value), dtstart (local wall time
// "YYYY-MM-DDTHH:MM" in timezone), timezone (IANA), exdates (local wall times),
// mission_template (a mission body as POST /api/v1/missions takes it), enabled}.
// A 404 on the list: a server without the schedules API.

import type { ApiClient } from "../api/client";
import { ApiError } from "../api/problem";

export interface ScheduleBody {
  site_id: string;
  name: string;
  rrule: string;
  dtstart: string;
  timezone: string;
  exdates: string[];
  mission_template: Record<string, unknown>;
  enabled: boolean;
}

export interface Schedule extends ScheduleBody {
  id: number;
  next_occurrence?: string | null;
}

export interface SchedulesApi {
  /** Schedules, or null when the server offers no schedules API. */
  list(siteId?: string): Promise<Schedule[] | null>;
  save(body: ScheduleBody, id?: number): Promise<Schedule>;
  remove(id: number): Promise<void>;
}

export const SCHEDULES_ENDPOINT = "/api/v1/schedules";

export class HttpSchedulesApi implements SchedulesApi {
  constructor(private readonly client: ApiClient) {}

  async list(siteId?: string): Promise<Schedule[] | null> {
    try {
      const query = siteId ? `?site_id=${encodeURIComponent(siteId)}` : "";
      const body = await this.client.requestJson("GET", `${SCHEDULES_ENDPOINT}${query}`);
      if (Array.isArray(body)) return body as Schedule[];
      const items = (body as { items?: unknown }).items;
      return Array.isArray(items) ? (items as Schedule[]) : [];
    } catch (error) {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
      throw error;
    }
  }

  async save(body: ScheduleBody, id?: number): Promise<Schedule> {
    const url = id !== undefined ? `${SCHEDULES_ENDPOINT}/${id}` : SCHEDULES_ENDPOINT;
    return (await this.client.requestJson(id !== undefined ? "PUT" : "POST", url, body)) as Schedule;
  }

  async remove(id: number): Promise<void> {
    await this.client.requestJson("DELETE", `${SCHEDULES_ENDPOINT}/${id}`);
  }
}
