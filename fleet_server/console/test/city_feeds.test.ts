import { describe, expect, it } from "vitest";
import { ApiClient, type TokenSource } from "../src/api/client";
import { emergencyBanners, HttpCityFeedsApi, summariseFeeds, type FeedStatus, type WebhookStatus } from "../src/city/feeds";

const tokens: TokenSource = { accessToken: () => "tok", refresh: async () => false };

function hook(name: string, healthy: boolean, deadLetters = 0, enabled = true): WebhookStatus {
  return { id: name.length, name, enabled, healthy, consecutive_failures: healthy ? 0 : 3, dead_letters: deadLetters, last_success_at: null };
}

function clientAnswering(answers: Record<string, [number, unknown]>): { client: ApiClient; asked: string[] } {
  const asked: string[] = [];
  const fetchImpl = async (url: RequestInfo | URL): Promise<Response> => {
    asked.push(String(url));
    const [status, body] = answers[String(url)] ?? [404, { status: 404, title: "Not Found" }];
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { client: new ApiClient(tokens, "", fetchImpl as typeof fetch), asked };
}

describe("feed summary", () => {
  it("counts healthy and failing webhooks, dead letters and the bridge state; failing first", () => {
    const status: FeedStatus = {
      webhooks: [hook("b-ok", true), hook("a-down", false, 4), hook("c-off", false, 1, false)],
      mqtt_bridge_enabled: true,
      mqtt_bridge_connected: false,
    };
    const summary = summariseFeeds(status);
    expect(summary.healthy).toBe(1);
    expect(summary.failing).toBe(1);
    expect(summary.deadLetters).toBe(5);
    expect(summary.bridge).toBe("disconnected");
    expect(summary.webhooks.map((w) => w.name)).toEqual(["a-down", "b-ok", "c-off"]);
    expect(summariseFeeds({ ...status, mqtt_bridge_enabled: false }).bridge).toBe("off");
    expect(summariseFeeds({ ...status, mqtt_bridge_connected: true }).bridge).toBe("connected");
  });

  it("lists sites in emergency oldest first with their names, and marks a clearing one", () => {
    const banners = emergencyBanners(
      [
        { site_id: "bank", active: false, state: "clearing", reason: "drill", started_at: "2026-11-29T02:00:00Z", started_by: "ops" },
        { site_id: "clinic", active: true, state: "active", reason: "fire alarm", started_at: "2026-11-29T01:00:00Z", started_by: "ops" },
        { site_id: "plaza", active: false, state: "none", reason: null, started_at: null, started_by: null },
      ],
      new Map([["clinic", "Clinic"]]),
    );
    expect(banners.map((b) => [b.siteName, b.reason, b.clearing])).toEqual([
      ["Clinic", "fire alarm", false],
      ["bank", "drill", true],
    ]);
  });
});

describe("HttpCityFeedsApi", () => {
  it("reads the feed status and the emergencies", async () => {
    const status: FeedStatus = { webhooks: [hook("ops", true)], mqtt_bridge_enabled: false, mqtt_bridge_connected: false };
    const { client, asked } = clientAnswering({
      "/api/v1/webhooks/status": [200, status],
      "/api/v1/emergencies": [200, []],
    });
    const api = new HttpCityFeedsApi(client);
    expect(await api.feedStatus()).toEqual(status);
    expect(await api.emergencies()).toEqual([]);
    expect(asked).toEqual(["/api/v1/webhooks/status", "/api/v1/emergencies"]);
  });

  it("answers null on a server without these APIs, and throws other errors", async () => {
    const { client } = clientAnswering({ "/api/v1/emergencies": [403, { status: 403, title: "Forbidden" }] });
    const api = new HttpCityFeedsApi(client);
    expect(await api.feedStatus()).toBeNull();
    await expect(api.emergencies()).rejects.toThrow();
  });
});
