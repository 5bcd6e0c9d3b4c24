// Where live fleet messages come from. The WebSocket stream (`/api/v1/live`, see model.ts
// for the assumed protocol) is preferred; while a server has none, the console polls
// `GET /api/v1/robots` and turns each answer into a snapshot, so pages work either way.

import type { ApiClient, TokenSource } from "../api/client";
import { parseLiveMessage, type LiveMessage, type LiveRobot } from "./model";

export type FeedStatus = "connecting" | "streaming" | "polling" | "error";

export interface LiveFeed {
  /** Start delivering messages; returns the function that stops it. */
  start(onMessage: (message: LiveMessage) => void, onStatus?: (status: FeedStatus) => void): () => void;
}

export const POLL_INTERVAL_MS = 1000;

/** Snapshots from `GET /api/v1/robots` every `intervalMs`. */
export class PollingFeed implements LiveFeed {
  constructor(
    private readonly client: ApiClient,
    private readonly intervalMs = POLL_INTERVAL_MS,
  ) {}

  start(onMessage: (message: LiveMessage) => void, onStatus?: (status: FeedStatus) => void): () => void {
    let stopped = false;
    let seq = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const controller = new AbortController();
    const poll = async () => {
      try {
        const robots = (await this.client.get("/api/v1/robots", { signal: controller.signal })) as LiveRobot[];
        if (stopped) return;
        seq += 1;
        onMessage({ type: "snapshot", seq, robots });
        onStatus?.("polling");
      } catch {
        if (stopped) return;
        onStatus?.("error");
      }
      if (!stopped) timer = setTimeout(poll, this.intervalMs);
    };
    onStatus?.("connecting");
    void poll();
    return () => {
      stopped = true;
      controller.abort();
      if (timer !== undefined) clearTimeout(timer);
    };
  }
}

/** The server's live stream; falls back to `fallback` if it never delivers a snapshot. */
export class WebSocketFeed implements LiveFeed {
  constructor(
    private readonly url: string,
    private readonly tokens: TokenSource,
    private readonly fallback: LiveFeed,
    private readonly openTimeoutMs = 3000,
    private readonly makeSocket: (url: string) => WebSocket = (u) => new WebSocket(u),
  ) {}

  start(onMessage: (message: LiveMessage) => void, onStatus?: (status: FeedStatus) => void): () => void {
    let stopFallback: (() => void) | null = null;
    let socket: WebSocket | null = null;
    let stopped = false;
    let streamed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;

    const useFallback = () => {
      if (stopped || stopFallback) return;
      socket?.close();
      stopFallback = this.fallback.start(onMessage, onStatus);
    };

    const connect = () => {
      onStatus?.("connecting");
      let ws: WebSocket;
      try {
        ws = this.makeSocket(this.url);
      } catch {
        useFallback();
        return;
      }
      socket = ws;
      const timeout = setTimeout(() => {
        if (!streamed) useFallback();
      }, this.openTimeoutMs);
      ws.onopen = () => {
        ws.send(JSON.stringify({ type: "auth", access_token: this.tokens.accessToken() }));
      };
      ws.onmessage = (event: MessageEvent) => {
        const message = typeof event.data === "string" ? parseLiveMessage(event.data) : null;
        if (!message) return;
        if (message.type === "snapshot" && !streamed) {
          streamed = true;
          clearTimeout(timeout);
          onStatus?.("streaming");
        }
        if (streamed) onMessage(message);
      };
      ws.onclose = () => {
        clearTimeout(timeout);
        if (stopped || stopFallback) return;
        if (!streamed) {
          useFallback();
          return;
        }
        // A stream that worked and dropped is retried; the next snapshot resynchronises.
        streamed = false;
        onStatus?.("error");
        retry = setTimeout(connect, 2000);
      };
    };
    connect();
    return () => {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      socket?.close();
      stopFallback?.();
    };
  }

  /** Ask for a fresh snapshot (after a sequence gap): reconnecting gets one. */
  static liveUrl(location: { protocol: string; host: string }): string {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/v1/live`;
  }
}
