// Schedules, behind an interface: the server's schedules API is being built. ASSUMED:
//   GET    /api/v1/schedules?site_id=   → [Schedule]
//   POST   /api/v1/schedules            {ScheduleBody} → Schedule
//   PUT    /api/v1/schedules/{id}       {ScheduleBody} → Schedule
//   DELETE /api/v1/schedules/{id}
// ScheduleBody: {site_id, name, rrule (RFC 5545 RRULE value), dtstart ("YYYY-MM-DDTHH:MM",
// wall time in time_zone), time_zone (IANA), exdates (wall times), mission (a mission body
// as POST /api/v1/missions takes it), enabled}. A 404 on the list: no schedules API.

import type { ApiClient } from "../api/client";
import { ApiError } from "../api/problem";

export interface ScheduleBody {
  site_id: string;
  name: string;
  rrule: string;
  dtstart: string;
  time_zone: string;
  exdates: string[];
  mission: Record<string, unknown>;
  enabled: boolean;
}

export interface Schedule extends ScheduleBody {
  id: string;
}

export interface SchedulesApi {
  /** Schedules, or null when the server offers no schedules API. */
  list(siteId?: string): Promise<Schedule[] | null>;
  save(body: ScheduleBody, id?: string): Promise<Schedule>;
  remove(id: string): Promise<void>;
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

  async save(body: ScheduleBody, id?: string): Promise<Schedule> {
    const url = id ? `${SCHEDULES_ENDPOINT}/${encodeURIComponent(id)}` : SCHEDULES_ENDPOINT;
    return (await this.client.requestJson(id ? "PUT" : "POST", url, body)) as Schedule;
  }

  async remove(id: string): Promise<void> {
    await this.client.requestJson("DELETE", `${SCHEDULES_ENDPOINT}/${encodeURIComponent(id)}`);
  }
}
