// What the city overview shows of the operations-centre feed and of site emergencies
// (fleet_server/api/webhooks.py, fleet_server/api/emergency.py):
//   GET /api/v1/webhooks/status → {webhooks: [...], mqtt_bridge_enabled, mqtt_bridge_connected}
//   GET /api/v1/emergencies     → [{site_id, state, reason, started_at, ...}]
// A 404 means a server without these APIs: the page then shows nothing about them.

import type { ApiClient } from "../api/client";
import { ApiError } from "../api/problem";

export interface WebhookStatus {
  id: number;
  name: string;
  enabled: boolean;
  healthy: boolean;
  consecutive_failures: number;
  dead_letters: number;
  last_success_at: string | null;
}

export interface FeedStatus {
  webhooks: WebhookStatus[];
  mqtt_bridge_enabled: boolean;
  mqtt_bridge_connected: boolean;
}

export interface SiteEmergency {
  site_id: string;
  active: boolean;
  state: "none" | "active" | "clearing";
  reason: string | null;
  started_at: string | null;
  started_by: string | null;
}

export const FEED_STATUS_ENDPOINT = "/api/v1/webhooks/status";
export const EMERGENCIES_ENDPOINT = "/api/v1/emergencies";

async function orNull<T>(load: () => Promise<unknown>): Promise<T | null> {
  try {
    return (await load()) as T;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

export class HttpCityFeedsApi {
  constructor(private readonly client: ApiClient) {}

  feedStatus(): Promise<FeedStatus | null> {
    return orNull<FeedStatus>(() => this.client.requestJson("GET", FEED_STATUS_ENDPOINT));
  }

  emergencies(): Promise<SiteEmergency[] | null> {
    return orNull<SiteEmergency[]>(() => this.client.requestJson("GET", EMERGENCIES_ENDPOINT));
  }
}

export type BridgeState = "off" | "connected" | "disconnected";

export interface FeedSummary {
  healthy: number;
  failing: number;
  deadLetters: number;
  bridge: BridgeState;
  /** Webhooks in the order to list them: failing first, then by name. */
  webhooks: WebhookStatus[];
}

/** Counts for the overview; disabled webhooks are listed but count as neither. */
export function summariseFeeds(status: FeedStatus): FeedSummary {
  const enabled = status.webhooks.filter((w) => w.enabled);
  return {
    healthy: enabled.filter((w) => w.healthy).length,
    failing: enabled.filter((w) => !w.healthy).length,
    deadLetters: status.webhooks.reduce((sum, w) => sum + w.dead_letters, 0),
    bridge: !status.mqtt_bridge_enabled ? "off" : status.mqtt_bridge_connected ? "connected" : "disconnected",
    webhooks: [...status.webhooks].sort(
      (a, b) => Number(a.healthy || !a.enabled) - Number(b.healthy || !b.enabled) || a.name.localeCompare(b.name),
    ),
  };
}

/** Sites in emergency mode (or clearing it), oldest first, with the site's display name. */
export function emergencyBanners(
  emergencies: readonly SiteEmergency[],
  siteNames: ReadonlyMap<string, string>,
): { siteId: string; siteName: string; reason: string; clearing: boolean; since: string | null }[] {
  return emergencies
    .filter((e) => e.state !== "none")
    .sort((a, b) => (a.started_at ?? "").localeCompare(b.started_at ?? ""))
    .map((e) => ({
      siteId: e.site_id,
      siteName: siteNames.get(e.site_id) ?? e.site_id,
      reason: e.reason ?? "",
      clearing: e.state === "clearing",
      since: e.started_at,
    }));
}
