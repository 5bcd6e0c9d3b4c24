// Where live fleet messages come from. The WebSocket stream (`/api/v1/live`, see model.ts
// for the assumed protocol) is preferred; while a server has none, the console polls
// `GET /api/v1/robots` and turns each answer into a snapshot, so pages work either way.

import type { ApiClient, TokenSource } from "../api/client";
import { parseLiveFrame, robotFromApi, type LiveMessage } from "./model";

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
        const robots = (await this.client.get("/api/v1/robots", { signal: controller.signal })).map(robotFromApi);
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

export const REAUTH_INTERVAL_MS = 60_000;

/**
 * The server's live stream (protocol in model.ts). Falls back to `fallback` when the
 * stream never delivers a snapshot (a server without it, a proxy that drops WebSockets).
 */
export class WebSocketFeed implements LiveFeed {
  constructor(
    private readonly url: string,
    private readonly tokens: TokenSource,
    private readonly sites: () => string[],
    private readonly fallback: LiveFeed,
    private readonly openTimeoutMs = 4000,
    private readonly makeSocket: (url: string) => WebSocket = (u) => new WebSocket(u),
  ) {}

  start(onMessage: (message: LiveMessage) => void, onStatus?: (status: FeedStatus) => void): () => void {
    let stopFallback: (() => void) | null = null;
    let socket: WebSocket | null = null;
    let stopped = false;
    let streamed = false;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let reauth: ReturnType<typeof setInterval> | undefined;
    let lastSeq: number | null = null;

    let fallingBack = false;
    const useFallback = () => {
      if (stopped || fallingBack) return;
      fallingBack = true;
      if (reauth !== undefined) clearInterval(reauth);
      const open = socket;
      socket = null;
      open?.close();
      stopFallback = this.fallback.start(onMessage, onStatus);
    };

    const connect = () => {
      onStatus?.("connecting");
      lastSeq = null;
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
      const sendAuth = () => {
        const token = this.tokens.accessToken();
        if (token && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: "auth", token }));
      };
      ws.onopen = () => {
        sendAuth();
        // Access tokens are short-lived; the stream takes a fresh one at any time.
        reauth = setInterval(sendAuth, REAUTH_INTERVAL_MS);
      };
      ws.onmessage = (event: MessageEvent) => {
        const frame = typeof event.data === "string" ? parseLiveFrame(event.data) : null;
        if (!frame) return;
        if (frame.type === "ready") {
          const sites = this.sites();
          if (sites.length) ws.send(JSON.stringify({ type: "subscribe", sites }));
          else useFallback();
          return;
        }
        if (frame.type === "error") return;
        if (frame.type === "snapshot" && !streamed) {
          streamed = true;
          clearTimeout(timeout);
          onStatus?.("streaming");
        }
        if (frame.type === "delta") {
          if (lastSeq !== null && frame.seq !== lastSeq + 1) {
            ws.close(); // frames were lost: the next connection starts from snapshots
            return;
          }
          lastSeq = frame.seq;
        }
        if (streamed) onMessage(frame);
      };
      ws.onclose = () => {
        clearTimeout(timeout);
        if (reauth !== undefined) clearInterval(reauth);
        if (stopped || fallingBack) return;
        if (!streamed) {
          useFallback();
          return;
        }
        // A stream that worked and dropped is retried; its snapshots resynchronise.
        streamed = false;
        onStatus?.("error");
        retry = setTimeout(connect, 2000);
      };
    };
    connect();
    return () => {
      stopped = true;
      if (retry !== undefined) clearTimeout(retry);
      if (reauth !== undefined) clearInterval(reauth);
      socket?.close();
      stopFallback?.();
    };
  }

  /** `ws(s)://host/api/v1/live` for the page's location. */
  static liveUrl(location: { protocol: string; host: string }): string {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${location.host}/api/v1/live`;
  }
}
